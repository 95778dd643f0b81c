"""Retention: caller-identifying data is removed after ``CALLER_DATA_RETENTION_DAYS``.

What goes, and when (``now`` minus the retention period is the *cutoff*):

* ``Call``: the encrypted caller number, the staff follow-up note and the
  5-digit ZIP. The coarse area (city/state or area code), service, outcome,
  durations and the partner it reached stay, so counts, reports and invoices
  do not change.
* ``AdmissionRequest``: first name, callback number, substances, payment type,
  caller time zone, ZIP and the staff note; the status history notes too.
* ``CallEvent.detail`` (the non-identifying fields of Twilio's webhooks) and
  the ZIP in ``RoutingDecision`` rows older than the cutoff.

The keyed hashes (``Call.caller_hash``, ``AdmissionRequest.phone_hash``,
``BillingDecision.caller_hash``) are not the number, but whoever holds the hash key can test a guessed number
against them, so they are caller data too. Billing needs them for the
repeat-caller window ("the same caller reached the same partner within N
days"), so a hash is kept until the longer of the retention period and the
longest repeat-caller window of any partner, then cleared. ``ContactBlock``
hashes (people who said STOP) are kept for good: forgetting them would mean
contacting someone who asked us not to.

Rows are never deleted: the ledger and every count stay intact. Each purged
row gets ``purged_at`` and one ``AuditEvent`` (action ``purge``, field names
only). The purge works in batches, claims each batch with a conditional
update (``purged_at IS NULL``), and is safe to run twice or concurrently.

Billing's copy of the hash and the repeat-caller windows live in ``partners``,
which the helpline does not import: it registers a ``CallerHashHolder`` at
start-up (``partners.billing.retention``, in ``PartnersConfig.ready``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Protocol

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from helpline.models import AdmissionRequest, AdmissionStatusChange, AuditEvent, Call, CallEvent
from routing.models import RoutingDecision

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500

CALL_PURGED_FIELDS = ("caller_number", "followup_note", "zip_code")
REQUEST_PURGED_FIELDS = (
    "first_name",
    "phone",
    "substances",
    "payment",
    "caller_timezone",
    "zip_code",
    "staff_note",
)


class CallerHashHolder(Protocol):
    """A room above the helpline that keeps its own copy of callers' keyed hashes (billing, in ``partners``)."""

    def hash_window_days(self) -> int:
        """The longest time, in days, its rules look back at a hash (0 when none)."""

    def clear_hashes(self, *, before: dt.datetime, batch_size: int) -> int:
        """Clear its hashes of rows older than ``before``; the number of rows cleared."""


_holders: dict[str, CallerHashHolder] = {}


def register_hash_holder(name: str, holder: CallerHashHolder) -> None:
    """Called once by each app that keeps caller hashes, in its ``AppConfig.ready()`` (idempotent by name)."""
    _holders[name] = holder


def retention_cutoff(*, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=settings.CALLER_DATA_RETENTION_DAYS)


def hash_cutoff(*, now: dt.datetime) -> dt.datetime:
    """Keyed hashes live as long as the retention period or the longest repeat-caller window."""
    days = max([settings.CALLER_DATA_RETENTION_DAYS, *(holder.hash_window_days() for holder in _holders.values())])
    return now - dt.timedelta(days=days)


def _audit_purge(*, model: type[Model], ids: list[int], fields: tuple[str, ...], now: dt.datetime) -> None:
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                at=now,
                actor=None,
                actor_label="system",
                where="task",
                action=AuditEvent.Action.PURGE,
                object_type=model._meta.label,
                object_id=str(pk),
                fields=sorted(fields),
            )
            for pk in ids
        ]
    )


def batches(queryset: QuerySet, *, batch_size: int) -> Iterator[list[int]]:  # type: ignore[type-arg]
    """Yield lists of ids in key order (keyset pagination: rows skipped by a concurrent run are not retried)."""
    last = 0
    while True:
        ids = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        last = ids[-1]
        yield ids


def _claim(*, model: type[Call] | type[AdmissionRequest], ids: list[int]) -> list[int]:
    """Compare-and-set: lock the batch's unpurged rows; a concurrent purge that got here first wins the rest."""
    return list(
        model.objects.select_for_update(skip_locked=True)
        .filter(pk__in=ids, purged_at__isnull=True)
        .values_list("pk", flat=True)
    )


def _purge_calls(*, cutoff: dt.datetime, now: dt.datetime, batch_size: int) -> int:
    purged = 0
    pending = Call.objects.filter(started_at__lt=cutoff, purged_at__isnull=True)
    for ids in batches(pending, batch_size=batch_size):
        with transaction.atomic():
            claimed = _claim(model=Call, ids=ids)
            if not claimed:
                continue
            Call.objects.filter(pk__in=claimed).update(caller_number=None, followup_note="", zip_code="", purged_at=now)
            CallEvent.objects.filter(call_id__in=claimed).update(detail={})
            _audit_purge(model=Call, ids=claimed, fields=CALL_PURGED_FIELDS, now=now)
        purged += len(claimed)
    return purged


def _purge_requests(*, cutoff: dt.datetime, now: dt.datetime, batch_size: int) -> int:
    purged = 0
    pending = AdmissionRequest.objects.filter(created_at__lt=cutoff, purged_at__isnull=True)
    for ids in batches(pending, batch_size=batch_size):
        with transaction.atomic():
            claimed = _claim(model=AdmissionRequest, ids=ids)
            if not claimed:
                continue
            AdmissionRequest.objects.filter(pk__in=claimed).update(
                first_name=None,
                phone=None,
                substances=[],
                payment="",
                caller_timezone="",
                zip_code="",
                staff_note="",
                purged_at=now,
            )
            AdmissionStatusChange.objects.filter(request_id__in=claimed).update(note="")
            _audit_purge(model=AdmissionRequest, ids=claimed, fields=REQUEST_PURGED_FIELDS, now=now)
        purged += len(claimed)
    return purged


def _clear_hashes(*, cutoff: dt.datetime, batch_size: int) -> int:
    cleared = 0
    calls = Call.objects.filter(started_at__lt=cutoff, purged_at__isnull=False).exclude(caller_hash="")
    for ids in batches(calls, batch_size=batch_size):
        cleared += Call.objects.filter(pk__in=ids).update(caller_hash="")
    requests = AdmissionRequest.objects.filter(created_at__lt=cutoff, purged_at__isnull=False).exclude(phone_hash="")
    for ids in batches(requests, batch_size=batch_size):
        cleared += AdmissionRequest.objects.filter(pk__in=ids).update(phone_hash="")
    # Billing keeps its own copy for the repeat-caller rule; it only ever looks back one window.
    for holder in _holders.values():
        cleared += holder.clear_hashes(before=cutoff, batch_size=batch_size)
    return cleared


def _scrub_leftovers(*, cutoff: dt.datetime, batch_size: int) -> int:
    """Events that never matched a call, and routing decisions: ZIP and webhook detail go too."""
    scrubbed = 0
    events = CallEvent.objects.filter(received_at__lt=cutoff).exclude(detail={})
    for ids in batches(events, batch_size=batch_size):
        scrubbed += CallEvent.objects.filter(pk__in=ids).update(detail={})
    decisions = RoutingDecision.objects.filter(created_at__lt=cutoff).exclude(zip_code="")
    for ids in batches(decisions, batch_size=batch_size):
        scrubbed += RoutingDecision.objects.filter(pk__in=ids).update(zip_code="")
    return scrubbed


def purge_caller_data(*, now: dt.datetime | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> dict[str, int]:
    """Remove caller-identifying data older than the retention period. Idempotent.

    Returns how many rows of each kind were touched in this run (all zero on a
    second run with the same ``now``).
    """
    now = now or timezone.now()
    cutoff = retention_cutoff(now=now)
    counts = {
        "calls": _purge_calls(cutoff=cutoff, now=now, batch_size=batch_size),
        "admission_requests": _purge_requests(cutoff=cutoff, now=now, batch_size=batch_size),
        "hashes": _clear_hashes(cutoff=hash_cutoff(now=now), batch_size=batch_size),
        "other": _scrub_leftovers(cutoff=cutoff, batch_size=batch_size),
    }
    logger.info("Retention purge done: %s", counts)
    return counts


@shared_task(name="helpline.retention.purge_expired_caller_data", acks_late=True)
def purge_expired_caller_data() -> dict[str, int]:
    """Nightly (see CELERY_BEAT_SCHEDULE). Safe to run twice: only unpurged rows are touched."""
    return purge_caller_data()
