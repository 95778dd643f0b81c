"""Writes of the voice flow: one inbound call from the first ring to a partner or the fallback line.

Every function here is called by a Twilio webhook view (``helpline.voice.inbound``)
with the call row locked (``call_locked``), so two webhooks about the same call
are serialised on PostgreSQL. Transitions that must happen once whatever
Twilio re-sends (finishing a dial leg, which releases the partner's
concurrent-call slot, and accepting a leg) are compare-and-set updates on
``DialAttempt.outcome``; call status only moves forward (``STATUS_RANK``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from helpline import events
from helpline.models import Call, CallEvent, DialAttempt, HelplineNumber
from helpline.privacy import caller_hash, normalise_phone
from routing.engine import Location, RouteRequest

logger = logging.getLogger(__name__)

S = Call.Status
O = DialAttempt.Outcome  # noqa: E741 - short alias keeps the transition tables readable

TERMINAL_STATUSES = frozenset({S.COMPLETED, S.ABANDONED, S.FALLBACK, S.CRISIS})
STATUS_RANK: dict[str, int] = {str(S.IVR): 0, str(S.DIALING): 1, str(S.CONNECTED): 2} | {
    str(s): 3 for s in TERMINAL_STATUSES
}
# A leg is live while pending (ringing/whisper) or accepted (bridged); every other outcome is final.
LIVE_OUTCOMES = (O.PENDING, O.ACCEPTED)
# Outcomes that count towards pausing a partner automatically (issue 7): the number did not
# answer, is invalid, or reached a machine / phone menu that never pressed 1. Busy is not one:
# a busy line is a partner that is working.
UNANSWERED_OUTCOMES = (O.NO_ANSWER, O.FAILED, O.NOT_ACCEPTED)

# Twilio CallStatus order; a callback never moves ``Call.twilio_status`` back down this list.
TWILIO_STATUS_RANK: dict[str, int] = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "answered": 3,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}
TWILIO_FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})

DIAL_STATUS_OUTCOME: dict[str, str] = {
    "busy": O.BUSY,
    "no-answer": O.NO_ANSWER,
    "failed": O.FAILED,
    "canceled": O.CANCELED,
    # Answered but the whisper never got a 1 (voicemail, phone menu, declined).
    "completed": O.NOT_ACCEPTED,
    "answered": O.NOT_ACCEPTED,
}


# --- Recording the call ------------------------------------------------------------------------------


# Helpline numbers change a few times a year and are read on every incoming call: each process keeps
# them for a short while. Edits in this process clear it at once (signals below); other processes
# pick an edit up within the TTL.
_NUMBER_TTL_SECONDS = 30.0
_numbers: dict[str, tuple[float, HelplineNumber | None]] = {}


def forget_helpline_numbers(**_kwargs: object) -> None:
    _numbers.clear()


post_save.connect(forget_helpline_numbers, sender=HelplineNumber, dispatch_uid="voice-forget-numbers-save")
post_delete.connect(forget_helpline_numbers, sender=HelplineNumber, dispatch_uid="voice-forget-numbers-delete")
# A facility edit (its listing numbers) forgets them too: connected by partners.apps (the owner of Facility).


def helpline_number_for(*, to_number: str) -> HelplineNumber | None:
    """The helpline number that was dialed; unknown numbers are treated as the general line."""
    if not to_number:
        return None
    clock = time.monotonic()
    hit = _numbers.get(to_number)
    if hit is not None and hit[0] > clock:
        return hit[1]
    number = HelplineNumber.objects.select_related("facility").filter(number=normalise_phone(to_number)).first()
    if len(_numbers) > 1000:  # bounded: only signed requests reach here, but never grow without limit
        _numbers.clear()
    _numbers[to_number] = (clock + _NUMBER_TTL_SECONDS, number)
    return number


def call_record_incoming(*, call_sid: str, to_number: str, caller_number: str, is_test: bool, now: datetime) -> Call:
    """Record the call once per CallSid; a re-delivered webhook gets the existing row.

    The unique constraint on ``call_sid`` decides, not a read-then-insert, so two
    deliveries at the same moment still make one row.
    """
    number = helpline_number_for(to_number=to_number)
    listing = number.facility if number is not None and number.kind == HelplineNumber.Kind.LISTING else None
    # A tracking number routes like the general line; the call keeps the number's source (which page brought it).
    tracking = number is not None and number.kind == HelplineNumber.Kind.TRACKING
    call = Call(
        call_sid=call_sid,
        helpline_number=number,
        to_number=to_number[:20],
        caller_number=caller_number[:40] or None,
        caller_hash=caller_hash(caller_number),
        listing_facility=listing,
        source_kind=number.source_kind if tracking and number else "",
        source_key=number.source_key if tracking and number else "",
        is_test=is_test,
        started_at=now,
    )
    connection = transaction.get_connection()
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint, so a duplicate does not break the outer transaction
                call.save(force_insert=True)
        elif connection.vendor == "postgresql":
            with transaction.atomic():
                # The caller is waiting for the greeting: don't wait for the WAL flush of this one row.
                # A server crash in the next few hundred ms could lose it (never corrupt it), and every
                # later webhook of the call carries CallSid/From/To and records it again (views.
                # _locked_call). Everything after the greeting commits synchronously as usual.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                call.save(force_insert=True)
        else:
            call.save(force_insert=True)  # autocommit: a duplicate's IntegrityError poisons nothing
    except IntegrityError:
        return Call.objects.select_related("listing_facility").get(call_sid=call_sid)
    _adopt_early_status(call=call, now=now)
    return call


def _adopt_early_status(*, call: Call, now: datetime) -> None:
    """Apply status callbacks that arrived before the call was recorded.

    A caller who hangs up while the incoming webhook is still being answered
    makes Twilio post the final status callback first; it is stored without a
    call (``call_apply_status``). Without this the call would stay in the IVR
    for ever: no later webhook comes for a caller who is gone. One indexed
    read on the hot path, and only a new row pays it.
    """
    # A plain indexed probe (unique_call_event leads with sid): on the hot path the ORM's
    # query building costs more CPU than the query itself, and nearly every call has none.
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {CallEvent._meta.db_table} WHERE sid = %s AND kind = %s AND call_id IS NULL LIMIT 1",  # noqa: S608 - table name from the model, values bound
            [call.call_sid, "call-status"],
        )
        if cursor.fetchone() is None:
            return
    early = list(CallEvent.objects.filter(sid=call.call_sid, kind="call-status", call__isnull=True))
    with transaction.atomic():
        locked = call_locked(call_sid=call.call_sid)
        if locked is None:
            return
        CallEvent.objects.filter(pk__in=[e.pk for e in early], call__isnull=True).update(call=locked)
        best = max((e.status for e in early), key=lambda st: TWILIO_STATUS_RANK.get(st, -1))
        if TWILIO_STATUS_RANK.get(best, -1) > TWILIO_STATUS_RANK.get(locked.twilio_status, -1):
            locked.twilio_status = best
            locked.save(update_fields=["twilio_status"])
        final = [e for e in early if e.status in TWILIO_FINAL]
        if final:
            durations = [int(e.detail.get("duration") or 0) for e in final if isinstance(e.detail, dict)]
            call_caller_gone(call=locked, now=now, duration_seconds=max(durations, default=None))
    call.refresh_from_db()


def call_locked(*, call_sid: str) -> Call | None:
    """The call row, locked until the surrounding transaction ends (no-op lock on SQLite)."""
    return Call.objects.select_for_update().filter(call_sid=call_sid).first()


def call_log_event(
    *,
    call: Call | None,
    sid: str,
    kind: str,
    status: str,
    detail: dict[str, Any] | None = None,
    sequence_number: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Store one event keyed by (sid, kind, status); False when it was already stored (a replay).

    One ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): the unique
    constraint decides as before, without the savepoint and its two extra round
    trips that catching an IntegrityError needed on every webhook.
    """
    connection = transaction.get_connection()
    meta = CallEvent._meta
    values = {
        "call": call.pk if call is not None else None,
        "sid": sid[:64],
        "kind": kind[:30],
        "status": status[:30],
        "sequence_number": sequence_number,
        "detail": detail or {},
        "received_at": now or timezone.now(),
    }
    by_name = {f.name: f for f in meta.concrete_fields}
    fields = [by_name[name] for name in values]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    params = [f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)]
    conflict = ", ".join(connection.ops.quote_name(by_name[n].column) for n in ("sid", "kind", "status"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608 - names from the model, values bound
            f"VALUES ({', '.join(['%s'] * len(params))}) ON CONFLICT ({conflict}) DO NOTHING",
            params,
        )
        return cursor.rowcount == 1


def _set_status(*, call: Call, status: str, now: datetime, reason: str = "", fields: Iterable[str] = ()) -> bool:
    """Move the call forward to ``status``; never backwards, never out of a final state."""
    if call.status in TERMINAL_STATUSES or STATUS_RANK[status] <= STATUS_RANK[call.status]:
        return False
    call.status = status
    update = {"status", *fields}
    if reason and not call.outcome_reason:
        call.outcome_reason = reason[:200]
        update.add("outcome_reason")
    # A caller sent to the fallback or crisis line is still on the phone: the final status callback ends those.
    if status in (S.COMPLETED, S.ABANDONED) and call.ended_at is None:
        call.ended_at = now
        update.add("ended_at")
    call.save(update_fields=sorted(update))
    return True


# --- IVR choices -------------------------------------------------------------------------------------


def call_set_language(*, call: Call, language: str) -> None:
    if call.language != language:
        call.language = language
        call.save(update_fields=["language"])


def call_set_service(*, call: Call, service: str) -> None:
    call.service = service
    call.save(update_fields=["service"])


def call_set_location(*, call: Call, location: Location) -> None:
    """Store the resolved location on the call: every failover reuses it, nobody asks twice."""
    call.zip_code = location.zip_code
    call.state = location.state
    call.location_source = location.source
    call.location_precision = location.precision
    call.location_hint = location.hint[:80] if location.precision != "zip" else ""
    call.caller_area = location.label[:80]
    call.save(
        update_fields=["zip_code", "state", "location_source", "location_precision", "location_hint", "caller_area"]
    )


def call_location(*, call: Call) -> Location:
    """The stored location as the routing engine wants it (coordinates looked up from the ZIP)."""
    from routing.location import resolve_location

    if call.location_source == "zip" and call.zip_code:
        return resolve_location(given_zip=call.zip_code)
    if call.location_source == "twilio" and call.zip_code:
        return resolve_location(twilio_zip=call.zip_code)
    return Location(state=call.state, source=call.location_source, label=call.caller_area, hint=call.location_hint)


def call_note_zip_asked(*, call: Call, now: datetime) -> bool:
    """Mark that the caller is being asked for a ZIP; False if they already were (never twice per call)."""
    if call.zip_asked_at is not None:
        return False
    call.zip_asked_at = now
    call.save(update_fields=["zip_asked_at"])
    return True


def call_discard_route(*, call: Call) -> None:
    """Forget an empty state-level decision before the ZIP question; the ZIP's decision replaces it.

    The discarded decision row stays in the log (staff can see why the caller was asked).
    """
    call.routing_decision = None
    call.failover_plan = []
    call.next_choice = 0
    call.routing_started_at = None
    call.save(update_fields=["routing_decision", "failover_plan", "next_choice", "routing_started_at"])


def call_note_zip_attempt(*, call: Call) -> int:
    call.zip_attempts = F("zip_attempts") + 1
    call.save(update_fields=["zip_attempts"])
    call.refresh_from_db(fields=["zip_attempts"])
    return call.zip_attempts


def call_send_to_crisis(*, call: Call, now: datetime) -> None:
    _set_status(call=call, status=S.CRISIS, now=now, reason="caller chose the crisis line")


def call_send_to_fallback(*, call: Call, reason: str, now: datetime) -> None:
    """Nobody (left) to connect: the default 24/7 line, and staff follow up."""
    call.needs_followup = True
    _set_status(call=call, status=S.FALLBACK, now=now, reason=reason, fields=["needs_followup"])
    _bill_when_final(call=call)


# --- Routing and failover -------------------------------------------------------------------------------


def _choice_dict(choice: Any, *, pool: bool) -> dict[str, Any]:
    data = dataclasses.asdict(choice)
    data["pool"] = pool
    return data


def _route(*, call: Call, listing: bool, now: datetime) -> tuple[Any, list[dict[str, Any]]]:
    from routing.services import route

    request = RouteRequest(
        service=call.service or "unsure",
        location=call_location(call=call),
        language=call.language if call.language != "en" else "",
        listing_facility_id=call.listing_facility_id if listing else None,
        max_choices=max(1, settings.DIAL_MAX_ATTEMPTS + 2),  # spare entries for partners found at a cap
    )
    row, decision = route(request=request, kind="call", now=now)
    return row, [
        _choice_dict(c, pool=not listing or c.facility_id != call.listing_facility_id) for c in decision.choices
    ]


def call_route(*, call: Call, now: datetime) -> None:
    """Run the routing engine once for this call and keep its ordered failover list."""
    if call.routing_decision_id is not None:
        return  # already routed (a re-delivered webhook)
    row, plan = _route(call=call, listing=call.listing_facility_id is not None, now=now)
    call.routing_decision = row
    call.failover_plan = plan
    call.next_choice = 0
    call.routing_started_at = now
    call.save(update_fields=["routing_decision", "failover_plan", "next_choice", "routing_started_at"])


def live_attempt(*, call: Call) -> DialAttempt | None:
    return call.attempts.filter(outcome__in=LIVE_OUTCOMES).select_related("partner", "facility").last()


def call_next_attempt(*, call: Call, now: datetime) -> DialAttempt | None:
    """The leg to dial now, or None when the caller must go to the fallback line.

    Re-delivered webhooks get the leg already being dialed. Partners at a cap
    (``claim_leg`` says no) are skipped. Stops at ``DIAL_MAX_ATTEMPTS`` legs or
    when the overall routing deadline has passed; the reason is kept on the call.
    """
    from routing.services import claim_leg

    current = live_attempt(call=call)
    if current is not None:
        return current
    if call.status in TERMINAL_STATUSES:
        return None
    made = call.attempts.count()
    if made >= settings.DIAL_MAX_ATTEMPTS:
        call_send_to_fallback(call=call, reason=f"no partner accepted after {made} attempts", now=now)
        return None
    started = call.routing_started_at or now
    if now - started >= timedelta(seconds=settings.CALL_ROUTING_DEADLINE_SECONDS):
        call_send_to_fallback(
            call=call, reason=f"routing deadline of {settings.CALL_ROUTING_DEADLINE_SECONDS}s passed", now=now
        )
        return None
    tried = set(call.attempts.values_list("partner_id", flat=True))
    while True:
        if call.next_choice >= len(call.failover_plan) and not _extend_with_pool(call=call, now=now):
            reason = f"no partner left after {made} attempt(s)" if made else "nobody eligible"
            call_send_to_fallback(call=call, reason=reason, now=now)
            return None
        choice = call.failover_plan[call.next_choice]
        call.next_choice += 1
        call.save(update_fields=["next_choice"])
        if choice["partner_id"] in tried:
            continue
        if not claim_leg(partner_id=choice["partner_id"], now=now):
            call_log_event(
                call=call,
                sid=call.call_sid,
                kind="skip",
                status=f"facility-{choice['facility_id']}",
                detail={"partner": choice["partner_name"], "reason": "partner at a call cap"},
                now=now,
            )
            continue
        attempt = DialAttempt.objects.create(
            call=call,
            sequence=made + 1,
            partner_id=choice["partner_id"],
            facility_id=choice["facility_id"],
            started_at=now,
        )
        _set_status(call=call, status=S.DIALING, now=now)
        return attempt


def _extend_with_pool(*, call: Call, now: datetime) -> bool:
    """A listing call whose facility did not answer continues with the general pool (routed once)."""
    if call.listing_facility_id is None or call.pool_decision_id is not None:
        return False
    if not call.attempts.filter(facility_id=call.listing_facility_id).exists():
        return False  # the listing facility was not dialed: the first decision already was the pool
    row, plan = _route(call=call, listing=False, now=now)
    tried = {c["facility_id"] for c in call.failover_plan}
    call.pool_decision = row
    call.failover_plan = call.failover_plan + [c for c in plan if c["facility_id"] not in tried]
    call.save(update_fields=["pool_decision", "failover_plan"])
    return call.next_choice < len(call.failover_plan)


def attempt_for(*, call: Call, attempt_id: str | None) -> DialAttempt | None:
    if not attempt_id or not attempt_id.isdigit():
        return None
    return call.attempts.select_related("partner", "facility").filter(pk=int(attempt_id)).first()


def attempt_accept(*, attempt: DialAttempt, now: datetime) -> bool:
    """The partner pressed 1: the leg is bridged and the call is connected to this partner.

    Compare-and-set from ``pending``: a replayed keypress changes nothing twice,
    and a leg already finished (the caller hung up) cannot be accepted.
    """
    won = (
        DialAttempt.objects.filter(pk=attempt.pk, outcome=O.PENDING).update(
            outcome=O.ACCEPTED, accepted=True, answered_at=now
        )
        == 1
    )
    attempt.refresh_from_db(fields=["outcome", "accepted", "answered_at"])
    if won and attempt.call is not None:
        call = attempt.call
        call.connected_partner_id = attempt.partner_id
        call.connected_facility_id = attempt.facility_id
        if not _set_status(call=call, status=S.CONNECTED, now=now, fields=["connected_partner", "connected_facility"]):
            call.save(update_fields=["connected_partner", "connected_facility"])
        _notify_partner_connected(call=call, attempt=attempt, now=now)
    return attempt.accepted


def _notify_partner_connected(*, call: Call, attempt: DialAttempt, now: datetime) -> None:
    """Queue the partner's "call.connected" webhook (if it has one). Never the caller's number.

    Recorded after the caller's leg is bridged; a failure here is logged and
    never reaches the caller.
    """
    if not attempt.partner.webhook_url:
        return  # the partner is in hand (the leg's row was read with it): no savepoint, no query to learn this
    payload = {
        "call_id": call.pk,
        "connected_at": now.isoformat(),
        "facility_id": attempt.facility_id,
        "service": call.service,
        "caller_area": call.caller_area,
        "source": "listing" if call.listing_facility_id == attempt.facility_id else "helpline",
    }
    try:
        with transaction.atomic():
            events.partner_webhook.send(
                sender=Call, partner_id=attempt.partner_id, event="call.connected", payload=payload
            )
    except Exception:  # noqa: BLE001 - the webhook is a courtesy; the call goes on
        logger.exception("call.connected webhook for call %s not recorded", call.pk)


def attempt_mark_answered(*, attempt: DialAttempt, dial_call_sid: str, now: datetime) -> None:
    """The partner's phone picked up (the whisper is playing): remember the leg's SID."""
    updates: dict[str, Any] = {}
    if dial_call_sid and not attempt.dial_call_sid:
        updates["dial_call_sid"] = dial_call_sid[:64]
    if attempt.answered_at is None:
        updates["answered_at"] = now
    if updates:
        try:
            with transaction.atomic():
                DialAttempt.objects.filter(pk=attempt.pk).update(**updates)
        except IntegrityError:  # the SID is already on another row: keep the time only
            DialAttempt.objects.filter(pk=attempt.pk, answered_at__isnull=True).update(answered_at=now)


def attempt_finish(
    *, attempt: DialAttempt, dial_status: str, duration_seconds: int, dial_call_sid: str, now: datetime
) -> bool:
    """Close one leg exactly once (from the Dial action or the leg's own status callback).

    The compare-and-set on a live outcome is what makes ``release_leg`` run once
    per claimed leg whatever order and number of callbacks Twilio sends.
    """
    from routing.services import release_leg

    call = attempt.call  # kept: refresh_from_db() below drops the cached relation
    outcome: str
    if attempt.accepted:
        outcome = O.COMPLETED
    else:
        outcome = DIAL_STATUS_OUTCOME.get(dial_status, O.FAILED)
    talk = max(0, duration_seconds) if attempt.accepted else 0
    updates: dict[str, Any] = {"outcome": outcome, "ended_at": now, "talk_seconds": talk}
    won = DialAttempt.objects.filter(pk=attempt.pk, outcome__in=LIVE_OUTCOMES).update(**updates) == 1
    if not won:
        attempt.refresh_from_db()
        return False
    if dial_call_sid and not attempt.dial_call_sid:
        try:
            with transaction.atomic():
                DialAttempt.objects.filter(pk=attempt.pk, dial_call_sid__isnull=True).update(
                    dial_call_sid=dial_call_sid[:64]
                )
        except IntegrityError:
            pass
    # Only what may have changed: a full refresh would also drop the partner read with the row.
    attempt.refresh_from_db(fields=["outcome", "ended_at", "talk_seconds", "dial_call_sid", "accepted", "answered_at"])
    # The count goes back to the UTC day the leg was claimed on (routing's contract).
    release_leg(partner_id=attempt.partner_id, accepted=attempt.accepted, now=attempt.started_at)
    if call is not None:
        call.refresh_from_db()
        if attempt.accepted:
            call.talk_seconds = talk
            if not _set_status(
                call=call,
                status=S.COMPLETED,
                now=now,
                reason=f"connected to {attempt.partner}",
                fields=["talk_seconds"],
            ):
                call.save(update_fields=["talk_seconds"])
        _bill_when_final(call=call)
    if outcome in UNANSWERED_OUTCOMES:
        events.partner_leg_unanswered.send(sender=DialAttempt, partner_id=attempt.partner_id, now=now)
    return True


def call_caller_gone(*, call: Call, now: datetime, duration_seconds: int | None = None) -> None:
    """Twilio says the caller's leg has ended: stop dialing, close live legs, finish the record."""
    # Ringing legs end with the caller. A bridged (accepted) leg is left to its own Dial action or
    # status callback: only those carry the talk time billing needs.
    for attempt in call.attempts.filter(outcome=O.PENDING).select_related("partner"):
        attempt.call = call
        attempt_finish(attempt=attempt, dial_status="canceled", duration_seconds=0, dial_call_sid="", now=now)
    call.refresh_from_db()
    fields = []
    if call.status in TERMINAL_STATUSES and call.ended_at is None:
        call.ended_at = now
        fields.append("ended_at")
    if duration_seconds is not None and duration_seconds > call.duration_seconds:
        call.duration_seconds = duration_seconds
        fields.append("duration_seconds")
    if call.status == S.CONNECTED:
        _set_status(call=call, status=S.COMPLETED, now=now, fields=fields)
    elif call.status not in TERMINAL_STATUSES:
        _set_status(call=call, status=S.ABANDONED, now=now, reason="caller hung up", fields=fields)
    elif fields:
        call.save(update_fields=fields)
    _bill_when_final(call=call)


def call_apply_status(
    *,
    call_sid: str,
    call_status: str,
    parent_call_sid: str,
    attempt_id: str | None,
    sequence_number: int | None,
    duration_seconds: int | None,
    now: datetime,
) -> None:
    """Store a status callback once and apply it without ever moving the call backwards.

    Parent-leg callbacks (the caller) finish the call; child-leg callbacks (a
    partner leg, ``ParentCallSid`` set) finish that dial attempt. Unknown SIDs
    are stored for the record and change nothing else.
    """
    is_leg = bool(parent_call_sid) or bool(attempt_id)
    owner_sid = parent_call_sid or call_sid
    call = call_locked(call_sid=owner_sid)
    detail: dict[str, Any] = {}
    if duration_seconds is not None:
        detail["duration"] = duration_seconds
    if attempt_id:
        detail["attempt"] = attempt_id
    fresh = call_log_event(
        call=call,
        sid=call_sid,
        kind="leg-status" if is_leg else "call-status",
        status=call_status or "unknown",
        detail=detail,
        sequence_number=sequence_number,
        now=now,
    )
    if not fresh or call is None:
        return
    if is_leg:
        if call_status not in ("in-progress", "answered") and call_status not in TWILIO_FINAL:
            return  # initiated, ringing: stored for the record, nothing to apply (no read of the attempt)
        attempt = attempt_for(call=call, attempt_id=attempt_id)
        if attempt is None and call_sid:
            attempt = call.attempts.select_related("partner").filter(dial_call_sid=call_sid).first()
        if attempt is None:
            return
        attempt.call = call
        if call_status in ("in-progress", "answered"):
            attempt_mark_answered(attempt=attempt, dial_call_sid=call_sid, now=now)
        elif call_status in TWILIO_FINAL:
            attempt_finish(
                attempt=attempt,
                dial_status=call_status,
                duration_seconds=duration_seconds or 0,
                dial_call_sid=call_sid,
                now=now,
            )
        return
    if TWILIO_STATUS_RANK.get(call_status, -1) > TWILIO_STATUS_RANK.get(call.twilio_status, -1):
        call.twilio_status = call_status
        call.save(update_fields=["twilio_status"])
    if call_status in TWILIO_FINAL:
        call_caller_gone(call=call, now=now, duration_seconds=duration_seconds)


def _bill_when_final(*, call: Call) -> None:
    """Bill (on commit) once the call is over and no leg is still open.

    Billing needs the connected leg's final talk time, so a call whose caller
    hung up while the leg's own result is still on its way waits for that result.
    """
    if call.status not in TERMINAL_STATUSES or call.attempts.filter(outcome__in=LIVE_OUTCOMES).exists():
        return
    if getattr(call, "_bill_scheduled", False):
        return  # one request, one billing run
    call._bill_scheduled = True  # type: ignore[attr-defined]
    call_id = call.pk
    transaction.on_commit(lambda: events.call_final.send(sender=Call, call_id=call_id), robust=True)
