"""Reads of admission requests: what the sweeper must pick up, what staff must look at."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from helpline.admission.services import CLAIM_LEASE
from helpline.models import AdmissionRequest, DialAttempt

Status = AdmissionRequest.Status
Outcome = DialAttempt.Outcome

# A request still new or routed after this long is stuck (the broker was down, a worker died).
STUCK_AFTER = dt.timedelta(minutes=2)
# Staff look at anything not connected this long after it was due.
OVERDUE_AFTER = dt.timedelta(minutes=30)
# One failed callback leg is ordinary failover; this many on a request still open means the partners
# are not picking up and a person should look.
FAILED_LEGS_FOR_ATTENTION = 2
# "Callbacks due" on the staff home look this far ahead.
CALLBACK_DUE_WITHIN = dt.timedelta(hours=1)
FAILED_LEG_OUTCOMES = (Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED, Outcome.NOT_ACCEPTED, Outcome.CANCELED)
DONE_STATUSES = (Status.WITHDRAWN, Status.CLOSED, Status.CONNECTED)


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


def _count_legs(outcomes: tuple[str, ...] | None = None) -> Coalesce:
    legs = DialAttempt.objects.filter(admission_request=OuterRef("pk"))
    if outcomes is not None:
        legs = legs.filter(outcome__in=outcomes)
    counted = legs.order_by().values("admission_request").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_leg_counts(queryset: QuerySet[AdmissionRequest]) -> QuerySet[AdmissionRequest]:
    """Annotate ``leg_count`` (callback legs placed) and ``failed_legs`` (legs that did not connect).

    ``callback_attempts`` on the row counts only rounds in which a partner accepted and the person
    did not answer; staff read "attempts" as every leg we placed, so the admin shows these.
    """
    return queryset.annotate(leg_count=_count_legs(), failed_legs=_count_legs(FAILED_LEG_OUTCOMES))


def overdue_q(*, now: dt.datetime) -> Q:
    """Not connected well after it was due."""
    return Q(
        status__in=(Status.NEW, Status.ROUTED, Status.NOTIFIED, Status.CALLBACK_ATTEMPTED),
        window_start__lt=now - OVERDUE_AFTER,
    ) & (
        Q(next_action_at__isnull=True)
        | Q(next_action_at__lt=now - OVERDUE_AFTER)
        | Q(status=Status.NEW)
        | Q(status=Status.ROUTED)
    )


def failed_callbacks_q() -> Q:
    """Open, with at least FAILED_LEGS_FOR_ATTENTION callback legs that did not connect (needs with_leg_counts)."""
    return Q(failed_legs__gte=FAILED_LEGS_FOR_ATTENTION) & ~Q(status__in=DONE_STATUSES)


def attention_q(*, now: dt.datetime) -> Q:
    return (
        Q(needs_attention=True)
        | Q(status__in=(Status.UNROUTED, Status.UNREACHABLE, Status.HELD))  # held: waiting for staff to approve
        | overdue_q(now=now)
        | Q(failed_legs__gte=FAILED_LEGS_FOR_ATTENTION)
    ) & ~Q(status__in=DONE_STATUSES)


def requests_needing_attention(*, now: dt.datetime) -> QuerySet[AdmissionRequest]:
    """Unrouted, unreachable, held, flagged, overdue (not connected well after it was due), or failing callbacks."""
    return with_leg_counts(AdmissionRequest.objects.all()).filter(attention_q(now=now))


def callbacks_due_q(*, now: dt.datetime, within: dt.timedelta) -> Q:
    """A callback due between now and ``now + within``, or due lately (not yet overdue)."""
    return Q(
        status__in=(Status.NOTIFIED, Status.CALLBACK_ATTEMPTED),
        next_action_at__gte=now - OVERDUE_AFTER,
        next_action_at__lte=now + within,
    )


def request_by_public_id(*, public_id: uuid.UUID) -> AdmissionRequest | None:
    return AdmissionRequest.objects.select_related("partner").filter(public_id=public_id).first()


def language_of_number(*, phone_hash: str) -> str:
    """The language of the newest request from the number with this fingerprint ("en" when there is none)."""
    if not phone_hash:
        return "en"
    newest = (
        AdmissionRequest.objects.filter(phone_hash=phone_hash)
        .order_by("-created_at")
        .values_list("language", flat=True)
        .first()
    )
    return "es" if newest == "es" else "en"
