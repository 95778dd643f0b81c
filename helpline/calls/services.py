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
from django.db import transaction
from django.db.models import Case, DateTimeField, Exists, F, Value, When
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from helpline import events
from helpline.models import Call, CallEvent, DialAttempt, HelplineNumber
from helpline.privacy import caller_hash, normalise_phone
from routing.engine import Location, RouteRequest
from routing.services import Statement, update_sql

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
    inserted, early = _insert_new_call(call)
    if not inserted:
        return Call.objects.select_related("listing_facility").get(call_sid=call_sid)
    if early:
        _adopt_early_status(call=call, now=now)
    return call


def _insert_new_call(call: Call) -> tuple[bool, bool]:
    """Insert the call unless its CallSid is stored: (inserted, a final status arrived before it).

    On PostgreSQL one round trip: ``INSERT … ON CONFLICT DO NOTHING`` and the probe for
    status callbacks stored before the call (``_adopt_early_status``) in one statement.
    Outside a transaction its commit is asynchronous: the caller is waiting for the
    greeting, so it does not wait for the WAL flush of this one row. A server crash in the
    next few hundred ms could lose it (never corrupt it), and every later webhook of the
    call carries CallSid/From/To and records it again (``_locked_call`` in the views).
    Elsewhere the insert and the probe are two statements.
    """
    connection = transaction.get_connection()
    qn = connection.ops.quote_name
    meta = Call._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(call, add=True), connection) for f in fields]
    insert = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608 - our table
        f"VALUES ({', '.join(['%s'] * len(values))}) ON CONFLICT ({qn(meta.get_field('call_sid').column)}) "
        f"DO NOTHING RETURNING {qn(meta.pk.column)}"
    )
    # A plain indexed probe (unique_call_event leads with sid): nearly every call has none.
    probe = (
        f"SELECT 1 FROM {qn(CallEvent._meta.db_table)} "  # noqa: S608 - table name from the model, values bound
        "WHERE sid = %s AND kind = 'call-status' AND call_id IS NULL"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            durability = "" if connection.in_atomic_block else ", set_config('synchronous_commit', 'off', true)"
            cursor.execute(
                f"WITH new AS ({insert}) SELECT (SELECT {qn(meta.pk.column)} FROM new), EXISTS ({probe}){durability}",  # noqa: S608
                [*values, call.call_sid],
            )
            row = cursor.fetchone()
            pk, early = (row[0], bool(row[1])) if row else (None, False)
        else:
            cursor.execute(insert, values)
            inserted = cursor.fetchone()
            pk = inserted[0] if inserted else None
            early = False
            if pk is not None:
                cursor.execute(probe + " LIMIT 1", [call.call_sid])
                early = cursor.fetchone() is not None
    if pk is None:
        return False, False
    call.pk = pk
    call._state.adding = False
    call._state.db = connection.alias
    return True, early


def _adopt_early_status(*, call: Call, now: datetime) -> None:
    """Apply status callbacks that arrived before the call was recorded.

    A caller who hangs up while the incoming webhook is still being answered
    makes Twilio post the final status callback first; it is stored without a
    call (``call_apply_status``). Without this the call would stay in the IVR
    for ever: no later webhook comes for a caller who is gone. Whether there
    are any rides on the call's INSERT (``_insert_new_call``): only such a
    call pays the reads here.
    """
    early = list(CallEvent.objects.filter(sid=call.call_sid, kind="call-status", call__isnull=True))
    if not early:
        return
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


# Encrypted columns nothing on a leg's path reads: not decrypted on every leg webhook.
CALLER_ONLY_FIELDS = ("call__caller_number", "call__followup_note")


def call_locked_with_attempts(*, call_sid: str) -> Call | None:
    """The call row locked, with its legs (partner and facility read with them): one query when it has legs.

    For the webhooks about a call's legs (dial result, status callbacks), which
    need both. The legs are kept on the call (``known_attempts``), so nothing
    later in the request reads them again; the lock is on the call row only.
    """
    attempts = list(
        DialAttempt.objects.select_related("call", "partner", "facility")
        .defer(*CALLER_ONLY_FIELDS)
        .select_for_update(of=("call",))
        .filter(call__call_sid=call_sid)
        .order_by("sequence")
    )
    if not attempts:
        call = call_locked(call_sid=call_sid)
        if call is not None:
            call.known_attempts = []
        return call
    call = attempts[0].call
    assert call is not None  # noqa: S101 - filtered on the call
    for attempt in attempts:
        attempt.call = call
    call.known_attempts = attempts
    return call


def _attempts(call: Call) -> list[DialAttempt]:
    """The call's legs in order: those in hand (read with the locked call, or made in this request), else one read."""
    if call.known_attempts is None:
        call.known_attempts = list(call.attempts.select_related("partner", "facility").order_by("sequence"))
        for attempt in call.known_attempts:
            attempt.call = call
    return call.known_attempts


def _postgresql() -> bool:
    return transaction.get_connection().vendor == "postgresql"


def _event_values(
    *,
    call_id: int | None,
    sid: str,
    kind: str,
    status: str,
    detail: dict[str, Any] | None,
    sequence_number: int | None,
    now: datetime | None,
) -> dict[str, Any]:
    return {
        "call": call_id,
        "sid": sid[:64],
        "kind": kind[:30],
        "status": status[:30],
        "sequence_number": sequence_number,
        "detail": detail or {},
        "received_at": now or timezone.now(),
    }


def _insert_events_sql(rows: list[dict[str, Any]], *, call_sid: str | None = None) -> Statement:
    """``INSERT … ON CONFLICT (sid, kind, status) DO NOTHING`` of event rows (``_event_values``).

    With ``call_sid`` the call's id is looked up inside the statement (no lock, no read first).
    """
    connection = transaction.get_connection()
    qn = connection.ops.quote_name
    meta = CallEvent._meta
    by_name = {f.name: f for f in meta.concrete_fields}
    names = list(rows[0])
    fields = [by_name[name] for name in names]
    groups, params = [], []
    for row in rows:
        marks = []
        for f, name in zip(fields, names, strict=True):
            if name == "call" and call_sid is not None:
                call_id = f"SELECT {qn(Call._meta.pk.column)} FROM {qn(Call._meta.db_table)} WHERE call_sid = %s"  # noqa: S608
                marks.append(f"({call_id})")
                params.append(call_sid)
            else:
                marks.append("%s")
                params.append(f.get_db_prep_save(row[name], connection))
        groups.append(f"({', '.join(marks)})")
    conflict = ", ".join(qn(by_name[n].column) for n in ("sid", "kind", "status"))
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608 - names from the model, values bound
        f"VALUES {', '.join(groups)} ON CONFLICT ({conflict}) DO NOTHING"
    )
    return sql, params


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
    row = _event_values(
        call_id=call.pk if call is not None else None,
        sid=sid,
        kind=kind,
        status=status,
        detail=detail,
        sequence_number=sequence_number,
        now=now,
    )
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(*_insert_events_sql([row]))
        return cursor.rowcount == 1


def call_log_event_for_sid(
    *,
    call_sid: str,
    sid: str,
    kind: str,
    status: str,
    detail: dict[str, Any] | None = None,
    sequence_number: int | None = None,
    now: datetime | None = None,
) -> bool:
    """``call_log_event`` for the call keyed ``call_sid`` (None if unknown), looked up in the same statement."""
    row = _event_values(
        call_id=None, sid=sid, kind=kind, status=status, detail=detail, sequence_number=sequence_number, now=now
    )
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(*_insert_events_sql([row], call_sid=call_sid))
        return cursor.rowcount == 1


def call_stage_event(
    *,
    call: Call,
    sid: str,
    kind: str,
    status: str,
    detail: dict[str, Any] | None = None,
    sequence_number: int | None = None,
    now: datetime | None = None,
) -> None:
    """An event stored with the call's next write (``call_flush``), in the same statement on PostgreSQL.

    For events whose replay check nobody needs: the unique key still stores each once.
    """
    row = _event_values(
        call_id=call.pk, sid=sid, kind=kind, status=status, detail=detail, sequence_number=sequence_number, now=now
    )
    call.staged_events.append(row)


# --- Writing the call: the step's changes in one statement -----------------------------------------------
#
# A webhook changes several columns of the call (service, location, route, status, ...) and logs
# events; each used to be its own UPDATE or INSERT. Services stage them on the call object
# (``_stage``, ``call_stage_event``) and the step's one write carries them all: on PostgreSQL in
# the same statement as the leg it claims or closes (``WITH ... AS (...)``), elsewhere one
# statement after another. ``call_flush`` writes what is staged; every webhook that stages calls it
# (or a service that writes) before its transaction ends.


def _stage(call: Call, *fields: str) -> None:
    call.staged_fields.update(fields)


def _callupdate_sql(call: Call, fields: Iterable[str], *, only_if: str = "") -> Statement:
    connection = transaction.get_connection()
    qn = connection.ops.quote_name
    meta = Call._meta
    sets, params = [], []
    for name in sorted(fields):
        f = meta.get_field(name)
        sets.append(f"{qn(f.column)} = %s")  # type: ignore[union-attr]
        params.append(f.get_db_prep_save(getattr(call, f.attname), connection))  # type: ignore[union-attr]
    params.append(call.pk)
    guard = f" AND {only_if}" if only_if else ""
    sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} WHERE {qn(meta.pk.column)} = %s{guard}"  # noqa: S608
    return sql, params


def _staged_parts(call: Call | None, *, only_if: str = "") -> list[tuple[str, Statement]]:
    """The staged events and call changes as ``WITH`` parts (taken: staged no more)."""
    parts: list[tuple[str, Statement]] = []
    if call is None:
        return parts
    if call.staged_events:
        parts.append(("staged_events", _insert_events_sql(call.staged_events)))
        call.staged_events = []
    if call.staged_fields:
        parts.append(("staged_call", _callupdate_sql(call, call.staged_fields, only_if=only_if)))
        call.staged_fields = set()
    return parts


def _run_with(parts: list[tuple[str, Statement]], final: Statement) -> tuple | None:
    """``WITH a AS (...), b AS (...) <final>`` as one statement (PostgreSQL); the final SELECT's row."""
    sql = "WITH " + ", ".join(f"{name} AS ({text})" for name, (text, _) in parts) + " " + final[0]
    params = [p for _, (_, ps) in parts for p in ps] + list(final[1])
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description is not None else None


def call_flush(*, call: Call) -> None:
    """Write what is staged on the call: one statement on PostgreSQL (two at most elsewhere)."""
    if not call.staged_events and not call.staged_fields:
        return
    if _postgresql():
        parts = _staged_parts(call)
        if len(parts) == 1:
            with transaction.get_connection().cursor() as cursor:
                cursor.execute(*parts[0][1])
            return
        _run_with(parts[:-1], parts[-1][1])
        return
    events, call.staged_events = call.staged_events, []
    if events:
        with transaction.get_connection().cursor() as cursor:
            cursor.execute(*_insert_events_sql(events))
    if call.staged_fields:
        fields, call.staged_fields = call.staged_fields, set()
        call.save(update_fields=sorted(fields))


def _save(call: Call, fields: Iterable[str]) -> None:
    """Write ``fields`` with everything staged on the call."""
    _stage(call, *fields)
    call_flush(call=call)


def _advance(*, call: Call, status: str, now: datetime, reason: str = "", fields: Iterable[str] = ()) -> bool:
    """Move the call forward to ``status`` in memory and stage it; never backwards, never out of a final state."""
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
    _stage(call, *update)
    return True


def _set_status(*, call: Call, status: str, now: datetime, reason: str = "", fields: Iterable[str] = ()) -> bool:
    """``_advance`` and write it (with whatever else is staged)."""
    moved = _advance(call=call, status=status, now=now, reason=reason, fields=fields)
    if moved:
        call_flush(call=call)
    return moved


# --- IVR choices -------------------------------------------------------------------------------------


def call_set_language(*, call: Call, language: str) -> None:
    if call.language != language:
        call.language = language
        _stage(call, "language")


def call_set_service(*, call: Call, service: str) -> None:
    """Staged: written with the route that always follows (``call_route``)."""
    call.service = service
    _stage(call, "service")


def call_set_location(*, call: Call, location: Location) -> None:
    """Store the resolved location on the call: every failover reuses it, nobody asks twice.

    Staged: written with the route that always follows (``call_route``).
    """
    call.zip_code = location.zip_code
    call.state = location.state
    call.location_source = location.source
    call.location_precision = location.precision
    call.location_hint = location.hint[:80] if location.precision != "zip" else ""
    call.caller_area = location.label[:80]
    _stage(call, "zip_code", "state", "location_source", "location_precision", "location_hint", "caller_area")


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
    _stage(call, "zip_asked_at")
    return True


def call_discard_route(*, call: Call) -> None:
    """Forget an empty state-level decision before the ZIP question; the ZIP's decision replaces it.

    The discarded decision row stays in the log (staff can see why the caller was asked).
    """
    call.routing_decision = None
    call.failover_plan = []
    call.next_choice = 0
    call.routing_started_at = None
    _save(call, ["routing_decision", "failover_plan", "next_choice", "routing_started_at"])


def call_note_zip_attempt(*, call: Call) -> int:
    call.zip_attempts += 1  # the call row is locked: no lost update
    _save(call, ["zip_attempts"])
    return call.zip_attempts


def call_send_to_crisis(*, call: Call, now: datetime) -> None:
    _set_status(call=call, status=S.CRISIS, now=now, reason="caller chose the crisis line")


# What Twilio's <Dial> action says of the 988 leg: reached, or not (busy, no answer, failed, hung up while ringing).
CRISIS_LINE_REACHED = frozenset({"completed", "answered"})
CRISIS_LINE_STATUSES = CRISIS_LINE_REACHED | {"busy", "no-answer", "failed", "canceled"}


def call_record_crisis_result(
    *, call_sid: str, dial_status: str, duration_seconds: int | None, caller_gone: bool, now: datetime
) -> bool:
    """What became of a caller's 988 attempt, on the call's timeline; not reached: flagged for staff follow-up.

    A crisis caller whose 988 call failed must not vanish from staff's view: the
    event says how it ended, and the call is flagged (``needs_followup``) with the
    reason. Stored once per status (a re-sent Dial action changes nothing, and a
    follow-up staff already marked done is not reopened). Returns whether 988 was reached.
    """
    status = dial_status if dial_status in CRISIS_LINE_STATUSES else "unknown"
    reached = status in CRISIS_LINE_REACHED
    detail: dict[str, Any] = {"reached": reached}
    if duration_seconds:
        detail["seconds"] = duration_seconds
    if not reached:
        detail["then"] = "caller hung up" if caller_gone else "offered the default line"
    with transaction.atomic():
        new = call_log_event_for_sid(
            call_sid=call_sid, sid=call_sid, kind="crisis-line", status=status, detail=detail, now=now
        )
        if new and not reached:
            reason = f"988 crisis line not reached ({status}); {detail['then']}"
            Call.objects.filter(call_sid=call_sid).update(needs_followup=True, outcome_reason=reason[:200])
    return reached


def call_send_to_fallback(*, call: Call, reason: str, now: datetime) -> None:
    """Nobody (left) to connect: the default 24/7 line, and staff follow up."""
    call.needs_followup = True
    _stage(call, "needs_followup")
    _set_status(call=call, status=S.FALLBACK, now=now, reason=reason)
    call_flush(call=call)
    _bill_when_final(call=call)


# --- Routing and failover -------------------------------------------------------------------------------


def _choice_dict(choice: Any, *, pool: bool) -> dict[str, Any]:
    data = dataclasses.asdict(choice)
    data["pool"] = pool
    return data


def _route(
    *, call: Call, listing: bool, now: datetime, rotation_key: int = 0, exclude: frozenset[int] = frozenset()
) -> tuple[Any, list[dict[str, Any]]]:
    from routing.services import route

    request = RouteRequest(
        service=call.service or "unsure",
        location=call_location(call=call),  # what the call knows: a ZIP is never asked again
        language=call.language if call.language != "en" else "",
        listing_facility_id=call.listing_facility_id if listing else None,
        max_choices=max(1, settings.DIAL_MAX_ATTEMPTS + 2),  # spare entries for partners found at a cap
        rotation_key=rotation_key,
        exclude_partner_ids=exclude,
    )
    row, decision = route(request=request, kind="call", now=now)
    return row, [
        _choice_dict(c, pool=not listing or c.facility_id != call.listing_facility_id) for c in decision.choices
    ]


def call_route(*, call: Call, now: datetime, rotation_key: int = 0) -> None:
    """Run the routing engine once for this call and keep its ordered failover list.

    Staged: written with the first leg's claim (``call_next_attempt``) or whatever the step writes next.
    ``rotation_key``: the turn of the rotation the call already took (a decision set aside for the
    ZIP question); 0 takes the next one.
    """
    if call.routing_decision_id is not None:
        return  # already routed (a re-delivered webhook)
    row, plan = _route(call=call, listing=call.listing_facility_id is not None, now=now, rotation_key=rotation_key)
    call.routing_decision = row
    call.failover_plan = plan
    call.next_choice = 0
    call.routing_started_at = now
    # A call is dialed only once routed, and a route is set aside only before its first leg:
    # a call routed now has no legs yet (no read needed to know it).
    if call.known_attempts is None:
        call.known_attempts = []
    _stage(call, "routing_decision", "failover_plan", "next_choice", "routing_started_at")


def live_attempt(*, call: Call) -> DialAttempt | None:
    live = [a for a in _attempts(call) if a.outcome in LIVE_OUTCOMES]
    return live[-1] if live else None


def _decision_in_hand(call: Call) -> Any:
    """The routing decision made in this request (with the live partner state it read), if any."""
    for field in ("replan_decision", "pool_decision", "routing_decision"):
        descriptor = getattr(Call, field)
        if descriptor.is_cached(call):
            decision = getattr(call, field)
            if decision is not None and getattr(decision, "live_caps", None):
                return decision
    return None


def _facility_from_plan(choice: dict[str, Any]) -> Any:
    """The dialed facility as the plan has it (id, name, phone), without a read; other fields load on access."""
    model = DialAttempt._meta.get_field("facility").related_model
    return model.from_db(  # type: ignore[union-attr]
        transaction.get_connection().alias,
        ["id", "partner_id", "name", "phone"],
        [choice["facility_id"], choice["partner_id"], choice["facility_name"], choice["phone"]],
    )


def _claim_and_dial(*, call: Call, choice: dict[str, Any], sequence: int, now: datetime) -> DialAttempt | None:
    """Claim the partner's slot, record the leg and write the call's staged changes; None if at a cap.

    On PostgreSQL one statement: the claim (``routing.services.claim_leg_statement``),
    the leg's INSERT only if the claim held, the staged events and the call's
    changes. The call's changes are written either way: the step goes on to the
    next choice or the fallback line in the same transaction.
    """
    from routing.services import claim_leg, claim_leg_statement, partner_caps

    partner_id = choice["partner_id"]
    decision = _decision_in_hand(call)
    attempt = DialAttempt(
        call=call, sequence=sequence, partner_id=partner_id, facility_id=choice["facility_id"], started_at=now
    )
    if _postgresql():
        statement = claim_leg_statement(
            partner_id=partner_id, now=now, caps=partner_caps(partner_id=partner_id, decision=decision)
        )
        if statement is None:
            return None
        connection = transaction.get_connection()
        qn = connection.ops.quote_name
        meta = DialAttempt._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        marks = ", ".join(["%s"] * len(fields))
        values = [f.get_db_prep_save(f.pre_save(attempt, add=True), connection) for f in fields]
        insert = (
            f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608 - our table
            f"SELECT {marks} FROM claim RETURNING {qn(meta.pk.column)}"
        )
        parts = [("claim", statement), ("leg", (insert, values)), *_staged_parts(call)]
        row = _run_with(parts, ("SELECT (SELECT id FROM leg)", []))
        if row is None or row[0] is None:
            return None
        attempt.pk = row[0]
        attempt._state.adding = False
        attempt._state.db = connection.alias
    else:
        call_flush(call=call)
        if not claim_leg(partner_id=partner_id, now=now, decision=decision):
            return None
        attempt.save(force_insert=True)
    attempt.facility = _facility_from_plan(choice)
    _attempts(call).append(attempt)
    return attempt


def call_next_attempt(*, call: Call, now: datetime) -> DialAttempt | None:
    """The leg to dial now, or None when the caller must go to the fallback line.

    Re-delivered webhooks get the leg already being dialed. Partners at a cap
    (``claim_leg`` says no) are skipped. Stops at ``DIAL_MAX_ATTEMPTS`` legs or
    when the overall routing deadline has passed; the reason is kept on the call.
    Whatever was staged on the call is written on every way out.
    """
    current = live_attempt(call=call)
    if current is not None or call.status in TERMINAL_STATUSES:
        call_flush(call=call)
        return current
    attempts = _attempts(call)
    made = len(attempts)
    if made >= settings.DIAL_MAX_ATTEMPTS:
        call_send_to_fallback(call=call, reason=f"no partner accepted after {made} attempts", now=now)
        return None
    started = call.routing_started_at or now
    if now - started >= timedelta(seconds=settings.CALL_ROUTING_DEADLINE_SECONDS):
        call_send_to_fallback(
            call=call, reason=f"routing deadline of {settings.CALL_ROUTING_DEADLINE_SECONDS}s passed", now=now
        )
        return None
    tried = {a.partner_id for a in attempts}
    while True:
        if (
            call.next_choice >= len(call.failover_plan)
            and not _extend_with_pool(call=call, now=now)
            and not _replan(call=call, now=now)
        ):
            reason = f"no partner left after {made} attempt(s)" if made else "nobody eligible"
            if call.replan_decision_id is not None:
                reason += " and a second routing"
            call_send_to_fallback(call=call, reason=reason, now=now)
            return None
        choice = call.failover_plan[call.next_choice]
        call.next_choice += 1
        _stage(call, "next_choice")
        if choice["partner_id"] in tried:
            continue
        # Dialing from here on unless the claim fails; staged with the claim (the status only moves
        # forward, and a failed claim goes on to the next choice or the fallback line in this step).
        _advance(call=call, status=S.DIALING, now=now)
        attempt = _claim_and_dial(call=call, choice=choice, sequence=made + 1, now=now)
        if attempt is not None:
            return attempt
        call_stage_event(
            call=call,
            sid=call.call_sid,
            kind="skip",
            status=f"facility-{choice['facility_id']}",
            detail={"partner": choice["partner_name"], "reason": "partner at a call cap"},
            now=now,
        )


def _extend_with_pool(*, call: Call, now: datetime) -> bool:
    """A listing call whose facility did not answer continues with the general pool (routed once)."""
    if call.listing_facility_id is None or call.pool_decision_id is not None:
        return False
    if not any(a.facility_id == call.listing_facility_id for a in _attempts(call)):
        return False  # the listing facility was not dialed: the first decision already was the pool
    row, plan = _route(call=call, listing=False, now=now)
    tried = {c["facility_id"] for c in call.failover_plan}
    call.pool_decision = row
    call.failover_plan = call.failover_plan + [c for c in plan if c["facility_id"] not in tried]
    _stage(call, "pool_decision", "failover_plan")
    return call.next_choice < len(call.failover_plan)


def _replan(*, call: Call, now: datetime) -> bool:
    """Route the call once more when its plan ran out: the partners it tried left out. At most once per call.

    A plan is fixed when the caller chooses a service; in a burst the partners
    after the first can reach their caps within seconds, so every choice left
    refuses the claim while partners of a lower tier are free. Called only
    while the call is within ``DIAL_MAX_ATTEMPTS`` and the routing deadline
    (``call_next_attempt`` checks both first). Every partner of the plan was
    tried (dialed, or refused the claim): a fresh decision for the same
    service, language and stored location without them, stored like any
    decision (``Call.replan_decision``, with the skip reasons) and noted in
    the call's events. A call whose first decision was empty is not routed
    again: the same request a moment later has the same answer.
    """
    if call.replan_decision_id is not None or not call.failover_plan:
        return False
    tried = frozenset({c["partner_id"] for c in call.failover_plan} | {a.partner_id for a in _attempts(call)})
    row, plan = _route(call=call, listing=False, now=now, exclude=tried)
    call.replan_decision = row
    call.failover_plan = call.failover_plan + plan
    _stage(call, "replan_decision", "failover_plan")
    call_stage_event(
        call=call,
        sid=call.call_sid,
        kind="replan",
        status=f"decision-{row.pk}",
        detail={"tried": len(tried), "new choices": len(plan)},
        now=now,
    )
    return call.next_choice < len(call.failover_plan)


def attempt_for(*, call: Call, attempt_id: str | None) -> DialAttempt | None:
    if not attempt_id or not attempt_id.isdigit():
        return None
    wanted = int(attempt_id)
    return next((a for a in _attempts(call) if a.pk == wanted), None)


def leg_locked(*, attempt_id: str, parent_call_sid: str = "") -> DialAttempt | None:
    """A call leg with its call (row locked) and partner: one query (``parent_call_sid`` must match if given)."""
    if not attempt_id.isdigit():
        return None
    qs = (
        DialAttempt.objects.select_related("call", "partner", "facility")
        .defer(*CALLER_ONLY_FIELDS)
        .select_for_update(of=("call",))
    )
    qs = qs.filter(pk=int(attempt_id), call__isnull=False)
    if parent_call_sid:
        qs = qs.filter(call__call_sid=parent_call_sid)
    return qs.first()


def attempt_accept(*, attempt: DialAttempt, now: datetime) -> bool:
    """The partner pressed 1: the leg is bridged and the call is connected to this partner.

    Compare-and-set from ``pending``: a replayed keypress changes nothing twice,
    and a leg already finished (the caller hung up) cannot be accepted. On
    PostgreSQL the leg's and the call's changes are one statement.
    """
    call = attempt.call
    if call is not None:
        call.connected_partner_id = attempt.partner_id
        call.connected_facility_id = attempt.facility_id
        _advance(call=call, status=S.CONNECTED, now=now)
        _stage(call, "connected_partner", "connected_facility")
    cas = DialAttempt.objects.filter(pk=attempt.pk, outcome=O.PENDING)
    changes = {"outcome": O.ACCEPTED, "accepted": True, "answered_at": now}
    if _postgresql() and call is not None:
        sql, params = update_sql(cas, changes)
        won_sql = (f"{sql} RETURNING 1", list(params))
        parts = [("won", won_sql), *_staged_parts(call, only_if="EXISTS (SELECT 1 FROM won)")]
        row = _run_with(parts, ("SELECT EXISTS (SELECT 1 FROM won)", []))
        won = bool(row and row[0])
    else:
        won = cas.update(**changes) == 1
        if won and call is not None:
            call_flush(call=call)
    if won:
        attempt.outcome, attempt.accepted, attempt.answered_at = O.ACCEPTED, True, now
        if call is not None:
            _notify_partner_connected(call=call, attempt=attempt, now=now)
        return True
    # Lost (already accepted or finished): nothing of this call's staged change was written.
    attempt.refresh_from_db(fields=["outcome", "accepted", "answered_at"])
    if call is not None:
        call.staged_fields = set()
        call.refresh_from_db()
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
    """The partner's phone picked up (the whisper is playing): remember the leg's SID. One UPDATE.

    The SID is set only if the leg has none and no other leg has it (it is unique): a
    replay or a mix-up keeps the time only, with no IntegrityError to catch.
    """
    changes: dict[str, Any] = {}
    if dial_call_sid and not attempt.dial_call_sid:
        changes["dial_call_sid"] = _unclaimed_sid(dial_call_sid[:64])
    if attempt.answered_at is None:
        changes["answered_at"] = Coalesce(F("answered_at"), Value(now), output_field=DateTimeField())
    if changes:
        DialAttempt.objects.filter(pk=attempt.pk).update(**changes)


def _unclaimed_sid(dial_call_sid: str) -> Any:
    """``dial_call_sid`` if no leg has it yet, else the column unchanged (the SID is unique): no IntegrityError."""
    taken = DialAttempt.objects.filter(dial_call_sid=dial_call_sid)
    return Case(
        When(dial_call_sid__isnull=True, then=Case(When(~Exists(taken), then=Value(dial_call_sid)), default=None)),
        default=F("dial_call_sid"),
    )


def attempt_answered_by_id(*, call_sid: str, attempt_id: int, dial_call_sid: str, now: datetime) -> None:
    """``attempt_mark_answered`` for a leg known only by its id and its call's SID: one UPDATE, no read, no lock.

    Only the leg's SID (if it has none and no leg has this one) and the time it was answered
    (if not known yet) change: nothing about the call, so the call row is not locked.
    """
    changes: dict[str, Any] = {
        "answered_at": Coalesce(F("answered_at"), Value(now), output_field=DateTimeField()),
    }
    if dial_call_sid:
        changes["dial_call_sid"] = _unclaimed_sid(dial_call_sid[:64])
    DialAttempt.objects.filter(pk=attempt_id, call__call_sid=call_sid).update(**changes)


def attempt_finish(
    *,
    attempt: DialAttempt,
    dial_status: str,
    duration_seconds: int,
    dial_call_sid: str,
    now: datetime,
    failover: bool = False,
) -> bool:
    """Close one leg exactly once (from the Dial action or the leg's own status callback).

    The compare-and-set on a live outcome is what makes ``release_leg`` run once
    per claimed leg whatever order and number of callbacks Twilio sends. The
    call's row is locked by the caller, so what follows for the call (completed,
    talk time) is decided here and written with the leg: on PostgreSQL the leg,
    the partner's counter and the call (with whatever else was staged on it) in
    one statement, each part only if the leg was still open.

    ``failover``: the next partner is claimed in the same transaction (the Dial
    action of a caller still on the line). The statement then first locks the
    counter rows of this partner and of every partner left in the plan, in
    partner-id order (``routing.services.lock_counters_statement``), so two
    failovers releasing and claiming in opposite order cannot deadlock.
    """
    from routing.services import lock_counters_statement, release_leg, release_leg_statement

    if attempt.outcome not in LIVE_OUTCOMES:
        return False  # already closed (outcomes never reopen): no statement at all
    call = attempt.call
    outcome: str = O.COMPLETED if attempt.accepted else DIAL_STATUS_OUTCOME.get(dial_status, O.FAILED)
    talk = max(0, duration_seconds) if attempt.accepted else 0
    changes: dict[str, Any] = {"outcome": outcome, "ended_at": now, "talk_seconds": talk}
    if dial_call_sid and not attempt.dial_call_sid:
        changes["dial_call_sid"] = _unclaimed_sid(dial_call_sid[:64])
    if call is not None and attempt.accepted:
        call.talk_seconds = talk
        _advance(call=call, status=S.COMPLETED, now=now, reason=f"connected to {attempt.partner}")
        _stage(call, "talk_seconds")
    cas = DialAttempt.objects.filter(pk=attempt.pk, outcome__in=LIVE_OUTCOMES)
    if _postgresql():
        sql, params = update_sql(cas, changes)
        release_sql, release_params = release_leg_statement(
            partner_id=attempt.partner_id, accepted=attempt.accepted, now=attempt.started_at
        )
        opened = "EXISTS (SELECT 1 FROM closed)"
        parts = [("closed", (f"{sql} RETURNING dial_call_sid", list(params)))]
        left = _partners_left(call) if failover and call is not None and not attempt.accepted else []
        if left:
            # Read by the release's WHERE: every row is locked, in order, before the release writes its own.
            parts.append(("counters", lock_counters_statement(partner_ids=[attempt.partner_id, *left])))
            release_sql += " AND (SELECT count(*) FROM counters) >= 0"
        parts += [
            ("released", (f"{release_sql} AND {opened}", release_params)),
            *_staged_parts(call, only_if=opened),
        ]
        row = _run_with(parts, ("SELECT EXISTS (SELECT 1 FROM closed), (SELECT dial_call_sid FROM closed)", []))
        won = bool(row and row[0])
        sid = row[1] if row else None
    else:
        won = cas.update(**changes) == 1
        sid = DialAttempt.objects.filter(pk=attempt.pk).values_list("dial_call_sid", flat=True).first() if won else None
        if won:
            # The count goes back to the UTC day the leg was claimed on (routing's contract).
            release_leg(partner_id=attempt.partner_id, accepted=attempt.accepted, now=attempt.started_at)
            if call is not None:
                call_flush(call=call)
    if not won:
        attempt.refresh_from_db()
        if call is not None:
            call.staged_fields = set()
            call.refresh_from_db()
        return False
    attempt.outcome, attempt.ended_at, attempt.talk_seconds, attempt.dial_call_sid = outcome, now, talk, sid
    if call is not None:
        _bill_when_final(call=call)
    if outcome in UNANSWERED_OUTCOMES:
        events.partner_leg_unanswered.send(sender=DialAttempt, partner_id=attempt.partner_id, now=now)
    return True


def _partners_left(call: Call) -> list[int]:
    """The partners the call's plan may still claim in this step (not dialed yet), in plan order."""
    tried = {a.partner_id for a in _attempts(call)}
    return [c["partner_id"] for c in call.failover_plan[call.next_choice :] if c["partner_id"] not in tried]


def call_caller_gone(*, call: Call, now: datetime, duration_seconds: int | None = None) -> None:
    """Twilio says the caller's leg has ended: stop dialing, close live legs, finish the record."""
    # Ringing legs end with the caller. A bridged (accepted) leg is left to its own Dial action or
    # status callback: only those carry the talk time billing needs.
    for attempt in [a for a in _attempts(call) if a.outcome == O.PENDING]:
        attempt.call = call
        attempt_finish(attempt=attempt, dial_status="canceled", duration_seconds=0, dial_call_sid="", now=now)
    fields = []
    if call.status in TERMINAL_STATUSES and call.ended_at is None:
        call.ended_at = now
        fields.append("ended_at")
    if duration_seconds is not None and duration_seconds > call.duration_seconds:
        call.duration_seconds = duration_seconds
        fields.append("duration_seconds")
    _stage(call, *fields)
    if call.status == S.CONNECTED:
        _advance(call=call, status=S.COMPLETED, now=now)
    elif call.status not in TERMINAL_STATUSES:
        _advance(call=call, status=S.ABANDONED, now=now, reason="caller hung up")
    call_flush(call=call)
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

    What each costs: a leg's initiated/ringing is one INSERT (the call's id
    looked up inside it); a leg's answered adds one UPDATE of the leg (neither
    locks the call: nothing about the call changes). A final status locks the
    call with its legs (one query) and writes the event with what it changes
    (one statement on PostgreSQL). Final statuses are applied even when the
    event is a replay: each transition they make happens once (compare-and-set,
    forward-only status), so a replay changes nothing.
    """
    is_leg = bool(parent_call_sid) or bool(attempt_id)
    owner_sid = parent_call_sid or call_sid
    detail: dict[str, Any] = {}
    if duration_seconds is not None:
        detail["duration"] = duration_seconds
    if attempt_id:
        detail["attempt"] = attempt_id
    event: dict[str, Any] = {
        "sid": call_sid,
        "kind": "leg-status" if is_leg else "call-status",
        "status": call_status or "unknown",
        "detail": detail,
        "sequence_number": sequence_number,
        "now": now,
    }
    answered = call_status in ("in-progress", "answered")
    final = call_status in TWILIO_FINAL
    # No transaction for these two: each statement stands alone (stored once; answered_at and the
    # leg's SID are only ever set, never changed back), and nothing about the call changes.
    if is_leg and not answered and not final:
        call_log_event_for_sid(call_sid=owner_sid, **event)  # initiated, ringing: for the record
        return
    if is_leg and answered and attempt_id and attempt_id.isdigit():
        if call_log_event_for_sid(call_sid=owner_sid, **event):
            attempt_answered_by_id(call_sid=owner_sid, attempt_id=int(attempt_id), dial_call_sid=call_sid, now=now)
        return
    with transaction.atomic():
        _apply_status_locked(
            call_sid=call_sid,
            call_status=call_status,
            owner_sid=owner_sid,
            is_leg=is_leg,
            attempt_id=attempt_id,
            duration_seconds=duration_seconds,
            event=event,
            now=now,
        )


def _apply_status_locked(
    *,
    call_sid: str,
    call_status: str,
    owner_sid: str,
    is_leg: bool,
    attempt_id: str | None,
    duration_seconds: int | None,
    event: dict[str, Any],
    now: datetime,
) -> None:
    """The rest of ``call_apply_status``, with the call row locked (and its legs read with it)."""
    answered = call_status in ("in-progress", "answered")
    final = call_status in TWILIO_FINAL
    call = call_locked_with_attempts(call_sid=owner_sid)
    if call is None:
        call_log_event(call=None, **event)  # stored without a call (adopted if the call is recorded later)
        return
    if is_leg:
        if answered:  # no attempt id: found by the leg's SID
            if not call_log_event(call=call, **event):
                return
            attempt = next((a for a in _attempts(call) if a.dial_call_sid == call_sid), None)
            if attempt is not None:
                attempt_mark_answered(attempt=attempt, dial_call_sid=call_sid, now=now)
            return
        call_stage_event(call=call, **event)
        attempt = attempt_for(call=call, attempt_id=attempt_id)
        if attempt is None and call_sid:
            attempt = next((a for a in _attempts(call) if a.dial_call_sid == call_sid), None)
        if attempt is not None:
            attempt_finish(
                attempt=attempt,
                dial_status=call_status,
                duration_seconds=duration_seconds or 0,
                dial_call_sid=call_sid,
                now=now,
            )
        call_flush(call=call)
        return
    call_stage_event(call=call, **event)
    if TWILIO_STATUS_RANK.get(call_status, -1) > TWILIO_STATUS_RANK.get(call.twilio_status, -1):
        call.twilio_status = call_status
        _stage(call, "twilio_status")
    if final:
        call_caller_gone(call=call, now=now, duration_seconds=duration_seconds)
    call_flush(call=call)


def _bill_when_final(*, call: Call) -> None:
    """Bill (on commit) once the call is over and no leg is still open.

    Billing needs the connected leg's final talk time, so a call whose caller
    hung up while the leg's own result is still on its way waits for that result.
    """
    if call.status not in TERMINAL_STATUSES or any(a.outcome in LIVE_OUTCOMES for a in _attempts(call)):
        return
    if getattr(call, "_bill_scheduled", False):
        return  # one request, one billing run
    call._bill_scheduled = True  # type: ignore[attr-defined]
    call_id = call.pk
    transaction.on_commit(lambda: events.call_final.send(sender=Call, call_id=call_id), robust=True)
