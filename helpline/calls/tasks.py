"""Celery tasks of the call legs (the name keeps its old ``routing.tasks`` prefix: beat and queued messages use it)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from helpline.calls import legs as services

logger = logging.getLogger(__name__)


@shared_task(name="routing.tasks.release_stale_legs", acks_late=True)
def release_stale_legs() -> dict[str, int]:
    """Free concurrent-call slots held by legs whose end never arrived, then fix drifted counters.

    Periodic (``CELERY_BEAT_SCHEDULE``, every 5 minutes). Safe to run twice at
    once or to overlap with webhooks: every close and every correction is a
    compare-and-set (``helpline.calls.legs``).
    """
    now = timezone.now()
    released = services.release_stale_legs(now=now)
    corrected = services.reconcile_partner_counters(now=now)
    if released or corrected:
        logger.info("Stale legs: %s closed, %s partner counters corrected", released, corrected)
    return {"released": released, "corrected": corrected}
