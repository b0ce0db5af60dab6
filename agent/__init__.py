"""Aftercare: drafts post-purchase messages grounded in customer context and brand guidelines."""
