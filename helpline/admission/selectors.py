"""Reads of admission requests: what the sweeper must pick up, what staff must look at."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q, QuerySet

from helpline.admission.services import CLAIM_LEASE
from helpline.models import AdmissionRequest

Status = AdmissionRequest.Status

# A request still new or routed after this long is stuck (the broker was down, a worker died).
STUCK_AFTER = dt.timedelta(minutes=2)
# Staff look at anything not connected this long after it was due.
OVERDUE_AFTER = dt.timedelta(minutes=30)


def _unclaimed(now: dt.datetime) -> Q:
    return Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)


def requests_to_route(*, now: dt.datetime) -> QuerySet[AdmissionRequest]:
    return AdmissionRequest.objects.filter(
        _unclaimed(now), status=Status.NEW, created_at__lte=now - STUCK_AFTER
    ).order_by("created_at")


def requests_to_notify(*, now: dt.datetime) -> QuerySet[AdmissionRequest]:
    return AdmissionRequest.objects.filter(
        _unclaimed(now), status=Status.ROUTED, updated_at__lte=now - STUCK_AFTER
    ).order_by("created_at")


def requests_due_for_callback(*, now: dt.datetime) -> QuerySet[AdmissionRequest]:
    return AdmissionRequest.objects.filter(
        status__in=(Status.NOTIFIED, Status.CALLBACK_ATTEMPTED), next_action_at__lte=now
    ).order_by("next_action_at")


def requests_needing_attention(*, now: dt.datetime) -> QuerySet[AdmissionRequest]:
    """Unrouted, unreachable, flagged, or overdue (not connected well after it was due)."""
    overdue = Q(
        status__in=(Status.NEW, Status.ROUTED, Status.NOTIFIED, Status.CALLBACK_ATTEMPTED),
        window_start__lt=now - OVERDUE_AFTER,
    ) & (
        Q(next_action_at__isnull=True)
        | Q(next_action_at__lt=now - OVERDUE_AFTER)
        | Q(status=Status.NEW)
        | Q(status=Status.ROUTED)
    )
    return AdmissionRequest.objects.filter(
        Q(needs_attention=True) | Q(status__in=(Status.UNROUTED, Status.UNREACHABLE)) | overdue
    ).exclude(status__in=(Status.WITHDRAWN, Status.CLOSED, Status.CONNECTED))


def request_by_public_id(*, public_id: uuid.UUID) -> AdmissionRequest | None:
    return AdmissionRequest.objects.select_related("partner").filter(public_id=public_id).first()
