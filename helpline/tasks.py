"""Celery tasks of the helpline app (admission requests, retention)."""
