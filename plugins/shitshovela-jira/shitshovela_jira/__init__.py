"""ShitShovela provider: jira."""
