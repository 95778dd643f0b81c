"""Call legs that never ended: close them and set drifted partner counters right.

The legs' lifecycle belongs to the helpline (it opens and closes them); the
counters are routing's (``routing.models.PartnerCounter``), written here only
with compare-and-set updates. Run every 5 minutes by
``helpline.calls.tasks.release_stale_legs``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from helpline.admission import services as admission
from helpline.calls import services as calls
from helpline.models import DialAttempt
from routing.models import PartnerCounter

logger = logging.getLogger(__name__)


# --- Stale legs and counter drift -------------------------------------------------
#
# A leg whose end Twilio never reported (or whose worker died between claim_leg
# and release_leg) would keep its partner's concurrent-call slot forever.


def stale_leg_limits() -> tuple[timedelta, timedelta]:
    """How old an open leg may get: (not accepted, accepted/bridged). Settings-driven.

    A leg the partner never accepted lives for the ring timeout plus the whisper;
    ``ROUTING_STALE_PENDING_LEG_SECONDS`` (default: ring timeout + 10 minutes) is
    far past that even with delayed callbacks. A bridged conversation may be long:
    ``ROUTING_STALE_ACCEPTED_LEG_SECONDS`` (default 4 hours).
    """
    ring = int(getattr(settings, "DIAL_RING_TIMEOUT_SECONDS", 20))
    pending = int(getattr(settings, "ROUTING_STALE_PENDING_LEG_SECONDS", ring + 600))
    accepted = int(getattr(settings, "ROUTING_STALE_ACCEPTED_LEG_SECONDS", 4 * 3600))
    return timedelta(seconds=pending), timedelta(seconds=accepted)


def stale_legs(*, now: datetime) -> Any:
    """Open legs (no end recorded) far past any plausible lifetime, oldest first."""
    pending, accepted = stale_leg_limits()
    return (
        DialAttempt.objects.filter(ended_at__isnull=True)
        .filter(Q(accepted=False, started_at__lt=now - pending) | Q(accepted=True, started_at__lt=now - accepted))
        .order_by("started_at", "id")
    )


def _close_stale_leg(*, attempt_id: int, now: datetime) -> bool:
    """Close one stale leg through the helpline's own compare-and-set close; True when this run closed it.

    Call legs go through ``helpline.calls.services.attempt_finish`` with the call row
    locked, as the voice webhooks do; callback legs of admission requests
    through ``helpline.admission.services.callback_leg_ended``. Both close the leg only
    if it is still open and then call ``release_leg`` once, so a Twilio
    callback arriving afterwards (or another sweep) releases nothing twice.
    "canceled": a leg lost on our side is not the partner's failure, so it
    does not count toward the automatic pause. An accepted leg is closed with
    no talk time (it is not known; billing decides with what it has).
    """
    call_sid, request_id = DialAttempt.objects.filter(pk=attempt_id).values_list(
        "call__call_sid", "admission_request_id"
    ).first() or (None, None)
    if call_sid:
        with transaction.atomic():
            call = calls.call_locked(call_sid=call_sid)
            attempt = DialAttempt.objects.select_related("partner").filter(pk=attempt_id).first()
            if call is None or attempt is None:
                return False
            attempt.call = call
            return calls.attempt_finish(
                attempt=attempt, dial_status="canceled", duration_seconds=0, dial_call_sid="", now=now
            )
    if request_id is not None:
        before = DialAttempt.objects.filter(pk=attempt_id, ended_at__isnull=True).exists()
        admission.callback_leg_ended(attempt_id=attempt_id, call_status="canceled", now=now)
        return before and DialAttempt.objects.filter(pk=attempt_id, ended_at=now).exists()
    return False


def release_stale_legs(*, now: datetime, limit: int = 500) -> int:
    """Close open legs far past their lifetime (see ``stale_leg_limits``); returns how many this run closed.

    Logs the leg, partner and age of each, never caller data. One leg failing
    is logged and does not stop the others.
    """
    released = 0
    for attempt_id, partner_id, accepted, started_at in stale_legs(now=now).values_list(
        "id", "partner_id", "accepted", "started_at"
    )[:limit]:
        try:
            closed = _close_stale_leg(attempt_id=attempt_id, now=now)
        except Exception:  # noqa: BLE001 - one bad leg must not keep the other partners' slots claimed
            logger.exception("Could not close stale leg %s of partner %s", attempt_id, partner_id)
            continue
        if closed:
            released += 1
            logger.warning(
                "Closed stale %s leg %s of partner %s (open %s without an end from Twilio); slot released",
                "accepted" if accepted else "unanswered",
                attempt_id,
                partner_id,
                now - started_at,
            )
    return released


def _open_legs(*, partner_id: int) -> int:
    return DialAttempt.objects.filter(partner_id=partner_id, ended_at__isnull=True).count()


def reconcile_partner_counters(*, now: datetime) -> int:
    """Set ``PartnerCounter.active_calls`` to the number of open legs where they drifted apart.

    Drift comes from a crash between claiming a slot and recording the leg, or
    between closing a leg and releasing its slot. Those steps are moments apart,
    so a counter is corrected only when it is quiet: not claimed or released for
    ``ROUTING_COUNTER_QUIET_SECONDS`` (default 120) and no leg of the partner
    ended in that time. The write is a compare-and-set on the values read
    (``active_calls`` and ``updated_at``): a claim or release in between wins
    and this partner waits for the next run. Returns the number corrected.
    """
    quiet = timedelta(seconds=int(getattr(settings, "ROUTING_COUNTER_QUIET_SECONDS", 120)))
    since = now - quiet
    open_counts = dict(
        DialAttempt.objects.filter(ended_at__isnull=True)
        .values("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    rows = PartnerCounter.objects.filter(updated_at__lt=since).filter(
        Q(active_calls__gt=0) | Q(partner_id__in=list(open_counts))
    )
    fixed = 0
    for partner_id, active, updated_at in rows.values_list("partner_id", "active_calls", "updated_at"):
        if open_counts.get(partner_id, 0) == active:
            continue
        real = _open_legs(partner_id=partner_id)
        if real == active:
            continue
        if DialAttempt.objects.filter(partner_id=partner_id, ended_at__gte=since).exists():
            continue  # a leg just ended: its release may still be on its way
        changed = PartnerCounter.objects.filter(
            partner_id=partner_id, active_calls=active, updated_at=updated_at
        ).update(active_calls=real, updated_at=now)
        if changed:
            fixed += 1
            logger.warning(
                "Partner %s counter corrected: %s active calls recorded, %s legs open", partner_id, active, real
            )
    return fixed
