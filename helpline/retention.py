"""Retention: purge caller-identifying data after CALLER_DATA_RETENTION_DAYS (see the privacy work)."""
