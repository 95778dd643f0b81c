"""Celery application.

With no ``REDIS_URL`` the embedded default runs every task eagerly in the
calling process (see ``config.settings.base``); with ``REDIS_URL`` set a real
worker and beat consume from Redis.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("clearline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
