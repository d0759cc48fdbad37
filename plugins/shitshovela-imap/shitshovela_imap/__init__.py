"""ShitShovela provider: imap."""
