"""Writes of the routing app: run the engine and store its decision; count call legs.

Contract used by helpline (voice and admission requests) and billing:

- ``route(*, request, kind, now=None) -> tuple[RoutingDecision, Decision]``:
  load the candidates whose service area may hold the caller
  (``routing.selectors``), run ``engine.decide`` and store a ``RoutingDecision``
  row (chosen and excluded with reasons, notes, fallback, location source,
  elapsed_ms; one INSERT, committed asynchronously on PostgreSQL when not
  inside the caller's atomic()), and return both. ``kind`` is "call" or
  "admission". A ``request.rotation_key`` of 0 means "next in the rotation":
  route() takes it from a per-day counter per kind, state and service. The
  fallback is always ``f"{settings.FALLBACK_LINE_NAME} {settings.FALLBACK_LINE}"``;
  with no choices the caller goes there. Raises only when the database is
  unavailable (``django.db.DatabaseError``): callers then send the caller to
  the fallback line. An engine fault is logged and becomes a fallback-only
  decision, never an exception.
- ``claim_leg(*, partner_id, now) -> bool``: before dialing a partner, claim one
  of its concurrent-call slots and count the call toward today's and this
  month's caps, in one conditional UPDATE (compare-and-set) of the partner's
  counter row, so two workers at the same instant cannot both take the last
  slot. ``False``: the partner is at a cap (or gone): try the next choice.
  PostgreSQL only, never Redis: the call path does not wait on Redis.
- ``release_leg(*, partner_id, accepted, now) -> None``: call exactly once per
  claimed leg when it ends (answered and finished, busy, no answer, declined).
  Frees the slot; ``accepted=False`` gives the day's and month's count back.
  Pass the time the leg was claimed as ``now``: the count goes back to that
  day/month (a leg claimed at 23:59 and released at 00:01 must not lower the
  new day's count).
- ``lock_counters_statement(*, partner_ids) -> Statement``: a failover that
  releases one partner's slot and then claims others takes their counter rows
  in partner-id order first (in the releasing statement), so two failovers in
  opposite order never deadlock.
- ``record_billed(*, partner_id, amount_cents, at) -> None``: billing calls it
  for every ledger row it writes (a credit is negative), so the budget check
  compares this month's spend with ``Partner.monthly_budget_cents`` without
  reading the ledger on the call path. Amounts dated in an earlier month
  than the counter's do not change the current month's spend.
- ``bump_directory_version() -> None``: directory writes that bypass model
  signals (``bulk_create``, ``QuerySet.update``) call this so every process
  recompiles its area index.

Days and months of caps are the partner's own: the calendar of its time zone
(``Partner.time_zone``, else its first facility's), so "20 calls a day" resets
at its midnight, not at midnight UTC. Invoices keep UTC calendar months and
say so (``partners.billing.invoices``); the budget is a spending limit on the
partner's own month, not an invoice period. Rotation counters keep UTC days.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace
from datetime import date, datetime
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import BigIntegerField, Case, DateField, F, PositiveIntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Greatest
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from routing import directory, selectors
from routing.engine import Decision, Exclusion, RouteRequest, decide
from routing.models import DirectoryVersion, PartnerCounter, RotationCounter, RoutingDecision

logger = logging.getLogger(__name__)


def fallback_line() -> str:
    return f"{settings.FALLBACK_LINE_NAME} {settings.FALLBACK_LINE}"


# --- Directory version ------------------------------------------------------


def bump_directory_version() -> None:
    """Make every process recompile its directory index on its next decision.

    Runs inside the caller's transaction, so the new version becomes visible
    together with the change that caused it.
    """
    now = timezone.now()
    token = new_directory_token()
    if DirectoryVersion.objects.filter(id=1).update(version=F("version") + 1, token=token, changed_at=now) == 0:
        with transaction.atomic():
            _obj, created = DirectoryVersion.objects.get_or_create(
                id=1, defaults={"version": 1, "token": token, "changed_at": now}
            )
        if not created:
            DirectoryVersion.objects.filter(id=1).update(version=F("version") + 1, token=token, changed_at=now)


def new_directory_token() -> int:
    """A random non-zero 62-bit value: (version, token) never repeats, even after a rollback."""
    return secrets.randbits(62) | 1


def directory_changed(**kwargs: Any) -> None:
    """Signal receiver for saves and deletes of Partner, Facility, OpeningHours, ClosedDate."""
    if kwargs.get("raw"):
        return  # loaddata: the fixture's own rows; bumped once the caller is done
    bump_directory_version()


# --- Rotation -----------------------------------------------------------------


def _async_commit_sql() -> str:
    return selectors.async_commit_sql()


def next_rotation_key(*, scope: str, now: datetime) -> int:
    """Count one decision in ``scope`` today and return the count (1, 2, 3, ...).

    One statement (upsert with RETURNING, PostgreSQL and SQLite alike), so
    concurrent decisions get distinct keys.
    """
    table = RotationCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, scope, value) VALUES (%s, %s, 1) "  # noqa: S608 - table name is ours
            f"ON CONFLICT (day, scope) DO UPDATE SET value = {table}.value + 1 RETURNING value{_async_commit_sql()}",
            [selectors.utc_day(now), scope[:40]],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _store(record: RoutingDecision) -> RoutingDecision:
    """Insert the decision row: one round trip with an asynchronous commit on PostgreSQL, else ``save()``."""
    extra = _async_commit_sql()
    if not extra:
        record.save(force_insert=True)
        return record
    meta = RoutingDecision._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    params = [f.get_db_prep_save(f.pre_save(record, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608 - our own table
            f"VALUES ({placeholders}) RETURNING {connection.ops.quote_name(meta.pk.column)}{extra}",
            params,
        )
        row = cursor.fetchone()
    record.pk = row[0] if row else None
    record._state.adding = False
    record._state.db = connection.alias
    return record


# --- Route --------------------------------------------------------------------


def _choice_json(decision: Decision) -> list[dict[str, Any]]:
    return [
        {
            "facility_id": c.facility_id,
            "facility_name": c.facility_name,
            "partner_id": c.partner_id,
            "partner_name": c.partner_name,
            "phone": c.phone,
            "reason": c.reason,
        }
        for c in decision.choices
    ]


# Excluded facilities stored one by one per decision; the rest are counted per reason.
EXCLUDED_KEPT = 15


def _excluded_json(excluded: list[Exclusion]) -> list[dict[str, Any]]:
    return [
        {
            "facility_id": x.facility_id,
            "facility_name": x.facility_name,
            "partner_id": x.partner_id,
            "partner_name": x.partner_name,
            "reason": x.reason,
        }
        for x in excluded
    ]


def _summary_json(counts: dict[str, int]) -> list[dict[str, Any]]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"reason": reason, "count": n} for reason, n in ordered]


def route(*, request: RouteRequest, kind: str, now: datetime | None = None) -> tuple[RoutingDecision, Decision]:
    """Decide where ``request`` goes and store the decision (see the module docstring).

    Round trips to the database, whatever the directory size: on PostgreSQL
    two, the candidate partners' live state (carrying the directory key and
    the rotation count) and the decision row; elsewhere three (the rotation
    counter on its own). One more only when the first priority tiers'
    partners are mostly paused or at a cap (``selectors.shortlist``).

    The stored row lists every choice, up to ``EXCLUDED_KEPT`` excluded
    facilities with their reasons (the ones ``decide`` ruled on first: paused,
    at a cap, list full; then facility-side ones: closed, out of area), and the
    count per reason of everything left out, examined or not.
    """
    if kind not in RoutingDecision.Kind.values:
        raise ValueError(f"kind must be one of {RoutingDecision.Kind.values}, not {kind!r}")
    now = now or timezone.now()
    started = time.perf_counter()
    fallback = fallback_line()
    location = request.location
    scope = f"{kind}:{location.state or '-'}:{request.service or 'unsure'}" if request.rotation_key == 0 else None
    # On PostgreSQL the rotation count rides on the live partner query (one round trip less).
    shortlist = selectors.shortlist(request=request, now=now, rotation_scope=scope)
    candidates = shortlist.candidates
    if scope is not None:
        key = shortlist.rotation_key
        request = replace(request, rotation_key=key if key is not None else next_rotation_key(scope=scope, now=now))
    try:
        decision = decide(request, candidates, now, fallback=fallback)
    except Exception:  # a fault in the engine must not leave a caller in silence
        logger.exception("routing engine failed; sending the caller to the fallback line")
        decision = Decision(
            choices=(),
            excluded=(),
            fallback=fallback,
            considered=len(candidates),
            notes=("routing engine error: fallback line only",),
        )
    counts = dict(shortlist.counts)
    for x in decision.excluded:
        category = selectors.reason_category(x.reason)
        counts[category] = counts.get(category, 0) + 1
    excluded = [*decision.excluded, *shortlist.excluded][:EXCLUDED_KEPT]
    elapsed_ms = (time.perf_counter() - started) * 1000
    record = RoutingDecision(
        kind=kind,
        created_at=now,
        service=request.service[:20],
        language=request.language[:5],
        zip_code=location.zip_code[:5],
        state=location.state[:2],
        location_source=location.source,
        location_precision=location.precision,
        location_hint=location.hint[:80],
        location_label=location.label[:80],
        location_problem=location.problem[:120],
        listing_facility_id=request.listing_facility_id,
        considered_count=shortlist.examined,
        chosen=_choice_json(decision),
        excluded=_excluded_json(excluded),
        excluded_summary=_summary_json(counts),
        notes=list(decision.notes),
        fallback=decision.fallback[:200],
        rotation_key=request.rotation_key,
        directory_version=shortlist.version,
        elapsed_ms=round(elapsed_ms, 3),
    )
    stored = _store(record)
    stored.live_caps = shortlist.live_caps  # for a claim in the same request (``partner_caps``)
    return stored, decision


# --- Call legs: concurrent slots and caps -----------------------------------


Statement = tuple[str, list[Any]]


def update_sql(queryset: QuerySet[Any], changes: dict[str, Any]) -> Statement:
    """The SQL of ``queryset.update(**changes)``, to run as part of a larger statement (the call legs'
    writes in helpline.calls use it too)."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(changes)
    sql, params = query.get_compiler(queryset.db).as_sql()
    return sql, list(params)


def _partner_zone(partner_id: int, now: datetime) -> str | None:
    """The zone whose calendar counts the partner's caps, from this process's compiled directory if it has one.

    A zone edit bumps the directory version, and every decision rebuilds a stale copy, so the
    copy is at worst as old as the last decision made here: a zone change reaches the counts
    within one call. Without a copy for today (a worker that has not routed yet): None.
    """
    compiled = selectors.directory_cache.peek(now=now)
    return compiled.partner_zones.get(partner_id) if compiled is not None else None


def _partner_periods(*, partner_id: int, now: datetime) -> tuple[date, date] | None:
    """The partner's (day, month) at ``now`` on its own calendar, or None if the partner is gone."""
    zone = _partner_zone(partner_id, now)
    if zone is not None:
        return selectors.local_periods(now, zone)
    caps = directory.source().partner_caps(partner_id)
    if caps is None:
        return None
    return selectors.local_periods(now, caps[6])


def _create_counter(*, partner_id: int, day: date, month: date, now: datetime) -> None:
    """The partner's counter row, if it has none (a concurrent creator wins; the claim then re-checks)."""
    PartnerCounter.objects.bulk_create(
        [PartnerCounter(partner_id=partner_id, day=day, month=month, updated_at=now)], ignore_conflicts=True
    )


def partner_caps(*, partner_id: int, decision: RoutingDecision | None = None) -> tuple | None:
    """The partner's live caps: as ``route`` read them in this request (``decision``), else one query.

    ``route`` keeps the live state it read for the partners it chose on the decision it
    returns (in memory only): a claim made in the same request needs no second read.
    """
    seen = getattr(decision, "live_caps", None) if decision is not None else None
    if seen is not None and partner_id in seen:
        return seen[partner_id]
    return directory.source().partner_caps(partner_id)


def claim_leg_statement(*, partner_id: int, now: datetime, caps: tuple | None) -> Statement | None:
    """The claim as one SQL statement (``claim_leg`` runs it), or None when ``caps`` refuse it outright.

    An upsert, so a partner's first claim ever needs no second statement: a new
    counter row starts at one call; an existing one is counted up in the
    ``DO UPDATE``, whose ``WHERE`` is the compare-and-set on the caps. A row
    was written (``RETURNING partner_id`` gives one row) if and only if the
    claim holds. Portable (PostgreSQL and SQLite upserts), and usable as a
    ``WITH claim AS (...)`` of a larger statement on PostgreSQL, so the
    helpline can insert the leg it dials in the same round trip.

    Days and months are the partner's own. The statement rolls the period over
    too, whatever order workers with slightly different clocks arrive in. With
    (d, m) the worker's day and month and (D, M) the row's:

    - D < d (a new day for this worker): the row moves to d and counts 1;
    - D = d: counts one more if under the cap;
    - D > d (a worker whose clock is a few seconds behind midnight, after
      another rolled the row): counts into the row's newer day, under its cap,
      instead of refusing every claim until its clock catches up;

    and likewise for the month, its cap and its budget (spend restarts at 0 in
    a new month). The row never goes back to an older period and the count in
    it never passes the cap: PostgreSQL locks the row, and a second worker's
    upsert waits, then re-checks its WHERE against the first one's result.
    Every right-hand side reads the row as it was before this statement (SQL
    semantics), so the CASEs see the old day and month although the same
    statement moves them.

    A row already at a cap in the statement's snapshot is refused before the
    upsert (``WHERE NOT EXISTS``): a conflicting upsert locks the row even
    when its ``WHERE`` refuses, until the transaction ends, and a step that
    held such locks while claiming the next partner could deadlock with
    another step (docs/scaling.md). Only a row that reaches its cap within
    the statement itself is still locked when refused.
    """
    if caps is None:
        return None  # the partner is gone
    status, verified_on, daily_cap, monthly_cap, concurrent_cap, budget, zone = caps
    if status != directory.PARTNER_ACTIVE or verified_on is None:
        return None
    if 0 in (daily_cap, monthly_cap, concurrent_cap, budget):
        return None  # a cap of zero: no call at all (a new period must not count one)
    day, month = selectors.local_periods(now, zone)
    ops = connection.ops
    meta = PartnerCounter._meta
    table = ops.quote_name(meta.db_table)
    col = {f.name: ops.quote_name(f.column) for f in meta.concrete_fields}
    new_day, new_month = f"c.{col['day']} < %s", f"c.{col['month']} < %s"
    conditions = ["TRUE"]
    at = ops.adapt_datetimefield_value(now)
    day_p, month_p = ops.adapt_datefield_value(day), ops.adapt_datefield_value(month)
    sets = [
        f"{col['active_calls']} = c.{col['active_calls']} + 1",
        f"{col['day']} = CASE WHEN {new_day} THEN %s ELSE c.{col['day']} END",
        f"{col['calls_today']} = CASE WHEN {new_day} THEN 1 ELSE c.{col['calls_today']} + 1 END",
        f"{col['month']} = CASE WHEN {new_month} THEN %s ELSE c.{col['month']} END",
        f"{col['calls_this_month']} = CASE WHEN {new_month} THEN 1 ELSE c.{col['calls_this_month']} + 1 END",
        f"{col['spend_this_month_cents']} = CASE WHEN {new_month} THEN 0 ELSE c.{col['spend_this_month_cents']} END",
        f"{col['updated_at']} = %s",
    ]
    set_params = [day_p, day_p, day_p, month_p, month_p, month_p, month_p, at]
    cap_params: list[Any] = []
    if concurrent_cap is not None:
        conditions.append(f"c.{col['active_calls']} < %s")
        cap_params.append(concurrent_cap)
    if daily_cap is not None:
        conditions.append(f"({new_day} OR c.{col['calls_today']} < %s)")
        cap_params += [day_p, daily_cap]
    if monthly_cap is not None:
        conditions.append(f"({new_month} OR c.{col['calls_this_month']} < %s)")
        cap_params += [month_p, monthly_cap]
    if budget is not None:
        conditions.append(f"({new_month} OR c.{col['spend_this_month_cents']} < %s)")
        cap_params += [month_p, budget]
    columns = ", ".join(
        col[name]
        for name in ("partner", "active_calls", "day", "calls_today", "month", "calls_this_month")
        + ("spend_this_month_cents", "updated_at")
    )
    caps_hold = " AND ".join(conditions)
    # A row the statement's snapshot already shows at a cap is refused without touching it: an upsert
    # that conflicts locks the row even when its WHERE refuses, and a refused claim holding that lock
    # to the end of its step could deadlock with a failover that takes the rows in order.
    at_cap = f"SELECT 1 FROM {table} AS c WHERE c.{col['partner']} = %s AND NOT ({caps_hold})"  # noqa: S608
    sql = (
        f"INSERT INTO {table} AS c ({columns}) SELECT %s, 1, %s, 1, %s, 1, 0, %s "  # noqa: S608 - our table
        f"WHERE NOT EXISTS ({at_cap}) "
        f"ON CONFLICT ({col['partner']}) DO UPDATE SET {', '.join(sets)} WHERE {caps_hold} "
        f"RETURNING {col['partner']}"
    )
    params = [partner_id, day_p, month_p, at, partner_id, *cap_params, *set_params, *cap_params]
    return sql, params


def claim_leg(*, partner_id: int, now: datetime, decision: RoutingDecision | None = None) -> bool:
    """Claim one concurrent-call slot and count one call today and this month, or say no.

    One statement (``claim_leg_statement``): a compare-and-set upsert of the
    partner's counter row. Paused or unverified partners, and caps of zero, are
    refused without a write. ``decision``: the decision ``route`` returned in
    this request, whose live partner state spares the read of the caps.
    """
    statement = claim_leg_statement(
        partner_id=partner_id, now=now, caps=partner_caps(partner_id=partner_id, decision=decision)
    )
    if statement is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        return cursor.fetchone() is not None


def release_leg_statement(*, partner_id: int, accepted: bool, now: datetime) -> Statement:
    """``release_leg`` as one UPDATE (a ``WITH`` part of a larger statement on PostgreSQL)."""
    changes: dict[str, Any] = {
        # output_field: PositiveIntegerField minus an int literal is otherwise a "mixed types" FieldError.
        "active_calls": Greatest(F("active_calls") - 1, 0, output_field=PositiveIntegerField()),
        "updated_at": timezone.now(),
    }
    if not accepted:
        periods = _partner_periods(partner_id=partner_id, now=now)
        if periods is not None:
            day, month = periods
            changes["calls_today"] = Case(
                When(day=day, calls_today__gt=0, then=F("calls_today") - 1),
                default=F("calls_today"),
                output_field=PositiveIntegerField(),
            )
            changes["calls_this_month"] = Case(
                When(month=month, calls_this_month__gt=0, then=F("calls_this_month") - 1),
                default=F("calls_this_month"),
                output_field=PositiveIntegerField(),
            )
    sql, params = update_sql(PartnerCounter.objects.filter(partner_id=partner_id), changes)
    return sql, list(params)


def lock_counters_statement(*, partner_ids: list[int]) -> Statement:
    """Lock the partners' counter rows in partner-id order (PostgreSQL; a ``WITH`` part of a larger statement).

    A failover releases one partner's slot and claims another's in one
    transaction. Two failovers doing so in opposite order (X then Y, Y then
    X) deadlock, and PostgreSQL aborts one of them after ``deadlock_timeout``.
    Taking every row the step may write in one order first, in the statement
    that releases, leaves nothing to wait for in the wrong order: the claims
    that follow touch rows this transaction holds already. Rows not created
    yet are not locked (a partner's first claim ever inserts its row).
    """
    table = connection.ops.quote_name(PartnerCounter._meta.db_table)
    column = connection.ops.quote_name(PartnerCounter._meta.get_field("partner").column)
    sql = f"SELECT {column} FROM {table} WHERE {column} = ANY(%s) ORDER BY {column} FOR UPDATE"  # noqa: S608
    return sql, [sorted(set(partner_ids))]


def release_leg(*, partner_id: int, accepted: bool, now: datetime) -> None:
    """Free the leg's slot; when the partner did not accept, give the call count back.

    ``now`` is when the leg was claimed (see the module docstring): the count
    goes back only if the row is still in that day (month), never into a newer
    one. A late worker's claim that counted into the newer day is therefore not
    given back; its day ends one call short rather than one over. Counts never
    go below zero, so a stray second release cannot corrupt them.
    """
    with connection.cursor() as cursor:
        cursor.execute(*release_leg_statement(partner_id=partner_id, accepted=accepted, now=now))


# SQLSTATEs of a transaction PostgreSQL rolled back to break a lock conflict: deadlock detected,
# serialization failure.
LOCK_CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})
# How many times a transaction that lost a lock conflict is run again before its error stands.
LOCK_CONFLICT_RETRIES = 2


def is_lock_conflict(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) is PostgreSQL rolling the transaction back to break a deadlock.

    Counter rows deadlock under a burst of calls: a failover releases partner X's
    slot and claims partner Y's in one transaction while another call's failover
    releases Y and claims X (billing's spend update may queue behind either).
    PostgreSQL aborts one of them after ``deadlock_timeout``; nothing of it was
    written, so running it again is the remedy.
    """
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is short: Django's OperationalError, then psycopg's error
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in LOCK_CONFLICT_SQLSTATES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def record_billed(*, partner_id: int, amount_cents: int, at: datetime) -> None:
    """Add a ledger amount (US cents; a credit is negative) to the partner's spend this month.

    The month is the partner's own, at ``at`` (when the ledger row occurred). An
    amount from a month before the counter's is not added (the budget is
    per month); one from a later month rolls the counter over first, in the
    same UPDATE.
    """
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise TypeError("amount_cents must be an int (US cents)")
    if amount_cents == 0:
        return
    periods = _partner_periods(partner_id=partner_id, now=at)
    if periods is None:
        return
    day, month = periods
    new_month = Q(month__lt=month)
    for attempt in range(LOCK_CONFLICT_RETRIES + 1):
        try:
            with transaction.atomic():
                _create_counter(partner_id=partner_id, day=day, month=month, now=at)
                PartnerCounter.objects.filter(partner_id=partner_id, month__lte=month).update(
                    month=Value(month, output_field=DateField()),
                    calls_this_month=Case(
                        When(new_month, then=Value(0)),
                        default=F("calls_this_month"),
                        output_field=PositiveIntegerField(),
                    ),
                    spend_this_month_cents=Case(
                        When(new_month, then=Value(amount_cents)),
                        default=F("spend_this_month_cents") + amount_cents,
                        output_field=BigIntegerField(),
                    ),
                )
            return
        except DatabaseError as exc:  # a deadlock victim wrote nothing: add the amount again
            if attempt == LOCK_CONFLICT_RETRIES or not is_lock_conflict(exc):
                raise
            logger.warning("record_billed for partner %s lost a lock conflict; trying again", partner_id)
