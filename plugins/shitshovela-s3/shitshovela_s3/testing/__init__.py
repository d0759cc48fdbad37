"""Test helpers for the s3 provider: a real moto S3 server on loopback."""
