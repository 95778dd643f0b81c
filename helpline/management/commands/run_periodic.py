"""Run the Celery beat schedule in-process, for the embedded default (no Redis, no beat).

With ``REDIS_URL`` set a real ``celery beat`` does this; without it there is no
broker to publish to, so this loop calls each scheduled task directly when it is
due. ``scripts/run.sh`` starts it beside the web server in embedded mode.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from celery.schedules import crontab
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

logger = logging.getLogger(__name__)


def _is_due(schedule: Any, last_run: datetime | None, now: datetime) -> bool:
    if last_run is None:
        return True
    if isinstance(schedule, timedelta):
        return now - last_run >= schedule
    due, _ = schedule.is_due(last_run)
    return bool(due)


class Command(BaseCommand):
    help = "Run the periodic tasks of CELERY_BEAT_SCHEDULE in this process (embedded mode)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run every interval task once and exit.")
        parser.add_argument("--tick", type=float, default=15.0, help="Seconds between checks.")

    def handle(self, *args: Any, **options: Any) -> None:
        current_app.loader.import_default_modules()
        started = timezone.now()
        # Interval tasks run at start; crontab tasks wait for their next slot.
        last_run: dict[str, datetime | None] = {
            name: started if isinstance(entry["schedule"], crontab) else None
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        while True:
            now = timezone.now()
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
                if not _is_due(entry["schedule"], last_run[name], now):
                    continue
                last_run[name] = now
                task = current_app.tasks.get(str(entry["task"]))
                if task is None:
                    logger.warning("Periodic task %s is not registered", entry["task"])
                    continue
                try:
                    task.apply()
                except Exception:  # noqa: BLE001 - one failing task must not stop the others
                    logger.exception("Periodic task %s failed", entry["task"])
            if options["once"]:
                return
            time.sleep(options["tick"])
