"""CSRF protection: a signed double-submit token checked on unsafe methods."""
