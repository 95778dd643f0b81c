"""Celery tasks of partner webhooks (delivery and its sweep); names keep their old ``partners.tasks`` prefix.

Tasks take ids, may run twice (every write behind them is a unique constraint
or a compare-and-set claim) and are enqueued on commit.
"""

from __future__ import annotations

import logging

from celery import shared_task

from partners.webhooks import delivery

logger = logging.getLogger(__name__)


@shared_task(name="partners.tasks.deliver_webhook", acks_late=True)
def deliver_webhook(event_pk: int) -> str:
    """One delivery attempt of a webhook event; the next one is scheduled by ``deliver`` itself."""
    return delivery.deliver(event_pk=event_pk)


@shared_task(name="partners.tasks.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> int:
    """Every few minutes: send due webhook events whose task never ran."""
    return delivery.sweep()
