"""Celery tasks of billing (the unbilled-calls sweep, monthly invoices); names keep their old ``partners.tasks`` prefix.

Tasks take ids, may run twice (every write behind them is a unique constraint
or a compare-and-set claim).
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="partners.tasks.sweep_unbilled_calls")
def sweep_unbilled_calls() -> int:
    """Bill ended calls whose on-commit billing hook was lost."""
    from partners.billing.rule import bill_unbilled

    return bill_unbilled()


@shared_task(
    name="partners.tasks.generate_monthly_invoices",
    autoretry_for=(Exception,),
    retry_backoff=60,
    max_retries=5,
)
def generate_monthly_invoices(month: str | None = None) -> int:
    """On the 1st: invoice every partner for the previous month (``month`` = "YYYY-MM" to redo one).

    Rerunnable: one invoice per partner and month (unique), each ledger entry
    on one invoice line (unique). Ended calls not yet billed are billed first,
    so a lost billing hook does not leave a call off the invoice.
    """
    from partners.billing.invoices import generate_invoices_for_month, previous_month
    from partners.billing.rule import bill_unbilled

    if month:
        first = dt.date.fromisoformat(f"{month}-01")
    else:
        first = previous_month(timezone.now().date())
    bill_unbilled()
    invoices = generate_invoices_for_month(month=first)
    logger.info("generated/updated %s invoices for %s", len(invoices), first)
    return len(invoices)
