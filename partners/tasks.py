"""Celery tasks of the partners app (invoices, webhooks)."""
