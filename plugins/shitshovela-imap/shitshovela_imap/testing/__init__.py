"""Test helpers for the IMAP plugin (real servers started on loopback)."""
