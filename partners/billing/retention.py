"""Billing's part of the caller-data purge (``helpline.retention``): its copy of the callers' keyed hashes.

``BillingDecision.caller_hash`` is how the repeat-caller rule recognises a
caller; it only ever looks back one partner's window, so the hash may go once
the longest window (or the retention period, if longer) has passed.
Registered in ``PartnersConfig.ready()``.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Max

from helpline.retention import batches
from partners.models import BillingDecision, Partner


class BillingHashes:
    """The partners app's implementation of ``helpline.retention.CallerHashHolder``."""

    def hash_window_days(self) -> int:
        return int(Partner.objects.aggregate(m=Max("repeat_caller_window_days"))["m"] or 0)

    def clear_hashes(self, *, before: dt.datetime, batch_size: int) -> int:
        cleared = 0
        decisions = BillingDecision.objects.filter(occurred_at__lt=before).exclude(caller_hash="")
        for ids in batches(decisions, batch_size=batch_size):
            cleared += BillingDecision.objects.filter(pk__in=ids).update(caller_hash="")
        return cleared
