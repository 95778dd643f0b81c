"""Billing: turns finished calls and bridged callbacks into billing decisions and ledger charges.

Contract used by helpline.voice.inbound / helpline tasks: ``bill_call(*, call_id)`` and
``bill_admission_callback(*, attempt_id)`` are called on commit once a call
(or bridged callback) has ended. Both may be called any number of times, in
any order, concurrently: each dialed leg gets one ``BillingDecision`` and at
most one ``LedgerEntry`` charge, guaranteed by unique constraints (the insert
that loses the race gets an ``IntegrityError`` and changes nothing).

The rule (the same for calls and callbacks): billable to a partner when the
partner accepted (pressed 1), the bridged talk lasted at least the partner's
``min_billable_seconds``, the same caller was not already billed to the same
partner within ``repeat_caller_window_days`` (either side: whichever leg is
decided first is billed, so the order of processing never bills twice), and it
is not a test call. The price is the one in force when the leg started. It
never depends on which provider the caller chose or on admission.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from helpline.models import AdmissionRequest, Call, DialAttempt
from partners.models import BillingDecision, LedgerEntry, Partner, PartnerDailyStats, PriceChange
from routing import services as routing_services

logger = logging.getLogger(__name__)

Reason = BillingDecision.Reason

# The voice code's terminal statuses: the partner legs are over once the call is here.
_CALL_ENDED_STATUSES = {Call.Status.COMPLETED, Call.Status.ABANDONED, Call.Status.FALLBACK, Call.Status.CRISIS}
_LEG_LIVE_OUTCOMES = {DialAttempt.Outcome.PENDING, DialAttempt.Outcome.ACCEPTED}
_LEG_ENDED_OUTCOMES = {
    DialAttempt.Outcome.COMPLETED,
    DialAttempt.Outcome.BUSY,
    DialAttempt.Outcome.NO_ANSWER,
    DialAttempt.Outcome.FAILED,
    DialAttempt.Outcome.NOT_ACCEPTED,
    DialAttempt.Outcome.CANCELED,
}


STUCK_LEG_AFTER = dt.timedelta(hours=6)
SWEEP_BATCH = 100  # calls billed per transaction by the sweep (their partners stay locked until it commits)


@dataclass(frozen=True)
class LegFacts:
    """What the rule needs to know about one leg, whatever kind it is."""

    kind: str
    occurred_at: dt.datetime
    accepted: bool
    talk_seconds: int
    caller_hash: str
    is_test: bool
    service: str
    caller_area: str


def price_at(*, partner: Partner, at: dt.datetime) -> int:
    """The partner's per-call price (cents) in force at ``at``.

    Falls back to the current price when the partner's price never changed.
    """
    change = (
        PriceChange.objects.filter(partner=partner, effective_from__lte=at)
        .order_by("-effective_from", "-id")
        .values_list("price_cents", flat=True)
        .first()
    )
    return change if change is not None else partner.price_per_call_cents


def decide(*, partner: Partner, leg: LegFacts, exclude_decision_id: int | None = None) -> str:
    """The reason code for one leg (``billable`` or why not). Reads only prior decisions."""
    if leg.is_test:
        return Reason.TEST
    if not leg.accepted:
        return Reason.NOT_ACCEPTED
    if leg.talk_seconds < partner.min_billable_seconds:
        return Reason.TOO_SHORT
    if leg.caller_hash and partner.repeat_caller_window_days:
        window = dt.timedelta(days=partner.repeat_caller_window_days)
        earlier_or_later = BillingDecision.objects.filter(
            partner=partner,
            caller_hash=leg.caller_hash,
            billable=True,
            occurred_at__gt=leg.occurred_at - window,
            occurred_at__lt=leg.occurred_at + window,
        )
        if exclude_decision_id is not None:
            earlier_or_later = earlier_or_later.exclude(pk=exclude_decision_id)
        if earlier_or_later.exists():
            return Reason.REPEAT_CALLER
    return Reason.BILLABLE


def _call_leg_facts(call: Call, attempt: DialAttempt) -> LegFacts:
    talk = attempt.talk_seconds
    if not talk and attempt.accepted and call.connected_facility_id == attempt.facility_id:
        # The voice code may only have the bridged duration on the call itself.
        talk = call.talk_seconds
    return LegFacts(
        kind=BillingDecision.Kind.CALL,
        occurred_at=attempt.started_at,
        accepted=attempt.accepted,
        talk_seconds=talk,
        caller_hash=call.caller_hash,
        is_test=call.is_test,
        service=call.service,
        caller_area=call.caller_area,
    )


def _request_leg_facts(request: AdmissionRequest, attempt: DialAttempt) -> LegFacts:
    area = " ".join(part for part in (request.state, f"{request.zip_code[:3]}xx" if request.zip_code else "") if part)
    return LegFacts(
        kind=BillingDecision.Kind.CALLBACK,
        occurred_at=attempt.started_at,
        accepted=attempt.accepted,
        talk_seconds=attempt.talk_seconds,
        caller_hash=request.phone_hash,
        is_test=False,
        service=request.service,
        caller_area=area,
    )


def _after_charges(entries: list[LedgerEntry]) -> None:
    """Side effects once charges have committed: budget counters and the partners' webhooks."""
    for partner_id, amount_cents, at, first_id in _spend_by_month(entries):
        try:
            routing_services.record_billed(partner_id=partner_id, amount_cents=amount_cents, at=at)
        except Exception:  # noqa: BLE001 - a counter failure must not lose the charge (the ledger is the truth)
            logger.exception("record_billed failed for ledger entry %s (and its month's others)", first_id)
    # One charge: enqueue_event checks for a webhook itself. Many (a sweep, demo data): ask once which
    # of their partners have one, instead of once per charge.
    hooked = _partners_with_webhook({e.partner_id for e in entries}) if len(entries) > 1 else None
    for entry in entries:
        if hooked is not None and entry.partner_id not in hooked:
            continue
        try:
            from partners.webhooks.delivery import enqueue_event

            enqueue_event(partner_id=entry.partner_id, event="call.billed", payload=charge_payload(entry))
        except Exception:  # noqa: BLE001 - a webhook failure must not lose the charge
            logger.exception("billed webhook not enqueued for ledger entry %s", entry.pk)


# No time zone is further than this from UTC: an instant further than this from a UTC month's
# first and last moment is in that same month on every partner's own calendar.
_FURTHEST_ZONE = dt.timedelta(hours=14)


def _spend_by_month(entries: list[LedgerEntry]) -> list[tuple[int, int, dt.datetime, int | None]]:
    """(partner, amount, at, first entry id) for ``record_billed``: charges summed per partner and month.

    ``record_billed`` adds up the amounts of a month and uses ``at`` only to find
    the month, so one sum per partner and month leaves the counter as one call per
    charge would. The month is the partner's own (routing knows its zone): a
    charge near a month's edge, where zones disagree, is passed on alone.
    """
    sums: dict[tuple[int, dt.date | None, int | None], list[Any]] = {}
    for entry in sorted(entries, key=lambda e: (e.occurred_at, e.pk or 0)):
        at = entry.occurred_at.astimezone(dt.UTC)
        if (at - _FURTHEST_ZONE).month == at.month == (at + _FURTHEST_ZONE).month:
            key: tuple[int, dt.date | None, int | None] = (entry.partner_id, at.date().replace(day=1), None)
        else:
            key = (entry.partner_id, None, entry.pk)
        if key in sums:
            sums[key][1] += entry.amount_cents
        else:
            sums[key] = [entry.partner_id, entry.amount_cents, entry.occurred_at, entry.pk]
    return [(partner_id, amount, at, first_id) for partner_id, amount, at, first_id in sums.values()]


def _partners_with_webhook(partner_ids: set[int]) -> set[int]:
    return set(Partner.objects.filter(pk__in=partner_ids).exclude(webhook_url="").values_list("pk", flat=True))


def charge_payload(entry: LedgerEntry) -> dict[str, object]:
    """The partner-facing description of a charge (no caller data beyond the area)."""
    decision = entry.decision
    return {
        "ledger_entry_id": entry.pk,
        "amount_cents": entry.amount_cents,
        "currency": "USD",
        "occurred_at": entry.occurred_at.isoformat(),
        "call_record_id": decision.pk if decision else None,
        "kind": decision.kind if decision else None,
        "service": decision.service if decision else "",
        "talk_seconds": decision.talk_seconds if decision else 0,
    }


class _DailyCounts:
    """The decided legs of one billing run, added to their partners' days once per day at the end.

    The caller holds the partners' locks (every writer of these rows does, except the
    ``rebuild_daily_stats`` repair), so reading which days exist, inserting the missing
    ones with their counts and incrementing the others cannot lose an update.
    """

    def __init__(self) -> None:
        self._days: dict[tuple[int, dt.date], list[int]] = {}

    def add(self, decision: BillingDecision) -> None:
        day = decision.occurred_at.astimezone(dt.UTC).date()
        counts = self._days.setdefault((decision.partner_id, day), [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += int(decision.accepted)
        counts[2] += int(decision.billable)
        counts[3] += decision.talk_seconds if decision.accepted else 0

    def save(self) -> None:
        if not self._days:
            return
        existing = set(
            PartnerDailyStats.objects.filter(
                partner_id__in={partner_id for partner_id, _ in self._days}, day__in={day for _, day in self._days}
            ).values_list("partner_id", "day")
        )
        new_days = [
            PartnerDailyStats(
                partner_id=partner_id, day=day, offered=offered, accepted=accepted, billable=billable,
                talk_seconds=talk,
            )
            for (partner_id, day), (offered, accepted, billable, talk) in sorted(self._days.items())
            if (partner_id, day) not in existing
        ]  # fmt: skip
        PartnerDailyStats.objects.bulk_create(new_days)
        for (partner_id, day), (offered, accepted, billable, talk) in sorted(self._days.items()):
            if (partner_id, day) in existing:
                PartnerDailyStats.objects.filter(partner_id=partner_id, day=day).update(
                    offered=F("offered") + offered,
                    accepted=F("accepted") + accepted,
                    billable=F("billable") + billable,
                    talk_seconds=F("talk_seconds") + talk,
                )


class _PriceBook:
    """``price_at`` for many legs: each partner's price changes read once, on its first billable leg."""

    def __init__(self) -> None:
        self._changes: dict[int, list[tuple[dt.datetime, int]]] = {}

    def at(self, *, partner: Partner, at: dt.datetime) -> int:
        changes = self._changes.get(partner.pk)
        if changes is None:
            changes = list(
                PriceChange.objects.filter(partner=partner)
                .order_by("-effective_from", "-id")
                .values_list("effective_from", "price_cents")
            )
            self._changes[partner.pk] = changes
        # Newest first, as price_at orders them: the first change in force at ``at`` wins.
        return next((price for since, price in changes if since <= at), partner.price_per_call_cents)


def rebuild_daily_stats(*, partner_id: int | None = None) -> int:
    """Recompute the dashboard rollup from the decisions (repairs, bulk imports). Returns rows written."""
    decisions = BillingDecision.objects.all()
    if partner_id is not None:
        decisions = decisions.filter(partner_id=partner_id)
    rows = (
        decisions.annotate(d=TruncDate("occurred_at", tzinfo=dt.UTC))
        .values("partner_id", "d")
        .annotate(
            n_offered=Count("id"),
            n_accepted=Count("id", filter=Q(accepted=True)),
            n_billable=Count("id", filter=Q(billable=True)),
            talk=Sum("talk_seconds", filter=Q(accepted=True)),
        )
        .order_by()
    )
    with transaction.atomic():
        stale = PartnerDailyStats.objects.all()
        if partner_id is not None:
            stale = stale.filter(partner_id=partner_id)
        stale.delete()
        created = PartnerDailyStats.objects.bulk_create(
            [
                PartnerDailyStats(
                    partner_id=r["partner_id"],
                    day=r["d"],
                    offered=r["n_offered"],
                    accepted=r["n_accepted"],
                    billable=r["n_billable"],
                    talk_seconds=r["talk"] or 0,
                )
                for r in rows
            ],  # fmt: skip
            batch_size=1000,
        )
    return len(created)


def _decide_legs(legs: Iterable[tuple[DialAttempt, LegFacts, Call | None, AdmissionRequest | None]]) -> int:
    """Decide each leg once; returns the number of new charges. Runs in one transaction."""
    legs = list(legs)
    if not legs:
        return 0
    charges: list[LedgerEntry] = []
    days = _DailyCounts()
    prices = _PriceBook()
    with transaction.atomic():
        # Serialise billing per partner so two of one caller's calls decided at
        # the same moment cannot both pass the repeat-caller check.
        partner_ids = sorted({attempt.partner_id for attempt, *_ in legs})
        partners = {p.pk: p for p in Partner.objects.select_for_update().filter(pk__in=partner_ids).order_by("pk")}
        already = set(
            BillingDecision.objects.filter(dial_attempt__in=[a.pk for a, *_ in legs]).values_list(
                "dial_attempt_id", flat=True
            )
        )
        for attempt, facts, call, request in legs:
            if attempt.pk in already:
                continue
            partner = partners[attempt.partner_id]
            reason = decide(partner=partner, leg=facts)
            billable = reason == Reason.BILLABLE
            price = prices.at(partner=partner, at=facts.occurred_at) if billable else 0
            try:
                with transaction.atomic():
                    decision = BillingDecision.objects.create(
                        partner=partner,
                        facility_id=attempt.facility_id,
                        dial_attempt=attempt,
                        call=call,
                        admission_request=request,
                        kind=facts.kind,
                        occurred_at=facts.occurred_at,
                        service=facts.service,
                        caller_area=facts.caller_area,
                        caller_hash=facts.caller_hash,
                        outcome=attempt.outcome,
                        accepted=facts.accepted,
                        talk_seconds=facts.talk_seconds,
                        billable=billable,
                        reason=reason,
                        price_cents=price,
                        min_billable_seconds=partner.min_billable_seconds,
                    )
                    if billable:
                        charges.append(
                            LedgerEntry.objects.create(
                                partner=partner,
                                kind=LedgerEntry.Kind.CHARGE,
                                amount_cents=price,
                                occurred_at=facts.occurred_at,
                                decision=decision,
                                dial_attempt=attempt,
                                call=call,
                                description=f"{decision.get_kind_display()} {facts.occurred_at:%Y-%m-%d %H:%M} UTC"
                                f" · {facts.service or 'service not given'} · {facts.talk_seconds}s",
                            )
                        )
                days.add(decision)
            except IntegrityError:
                # Another run decided this leg (or charged this call) first: nothing to do.
                logger.info("billing: leg %s already decided", attempt.pk)
        days.save()
        if charges:
            transaction.on_commit(functools.partial(_after_charges, charges))
    return len(charges)


def bill_call(*, call_id: int, force: bool = False) -> int:
    """Decide every dialed leg of a finished call; charge the accepted one if billable.

    Does nothing until the call has ended and no leg is still live (ringing or
    bridged: its final talk time is still on its way), so an early or
    out-of-order callback is simply early; safe to call again and again.
    ``force`` (the sweep, long after the end) decides with what is known.
    Returns the number of new charges (0 on a repeat).
    """
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        logger.warning("bill_call: no call %s", call_id)
        return 0
    attempts = list(DialAttempt.objects.filter(call=call).exclude(billing_decision__isnull=False))
    if not force and not _legs_over(call, attempts):
        return 0
    return _decide_legs((a, _call_leg_facts(call, a), call, None) for a in attempts)


def bill_calls(*, call_ids: Iterable[int], force: bool = False) -> int:
    """``bill_call`` for many calls in one transaction, in call id order (the sweep, demo data).

    The same rule, rows and side effects; the calls, their legs, the partner
    locks, prices and daily rollups are read once for the batch instead of once
    per call. Returns the number of new charges.
    """
    ids = sorted(set(call_ids))
    calls = {call.pk: call for call in Call.objects.filter(pk__in=ids)}
    attempts: dict[int | None, list[DialAttempt]] = {}
    for attempt in DialAttempt.objects.filter(call_id__in=ids, billing_decision__isnull=True).order_by(
        "call_id", "sequence"
    ):
        attempts.setdefault(attempt.call_id, []).append(attempt)
    legs = []
    for call_id in ids:
        call = calls.get(call_id)
        if call is None:
            logger.warning("bill_calls: no call %s", call_id)
            continue
        mine = attempts.get(call_id, [])
        if force or _legs_over(call, mine):
            legs += [(a, _call_leg_facts(call, a), call, None) for a in mine]
    return _decide_legs(legs)


def _legs_over(call: Call, attempts: list[DialAttempt]) -> bool:
    """The call has ended and none of its legs is ringing or bridged any more."""
    ended = call.ended_at is not None or call.status in _CALL_ENDED_STATUSES
    return ended and not any(a.outcome in _LEG_LIVE_OUTCOMES for a in attempts)


def bill_admission_callback(*, attempt_id: int, force: bool = False) -> int:
    """Decide one bridged callback leg of an admission request (same rule as calls)."""
    attempt = DialAttempt.objects.select_related("admission_request").filter(pk=attempt_id, call__isnull=True).first()
    if attempt is None or attempt.admission_request is None:
        logger.warning("bill_admission_callback: no callback leg %s", attempt_id)
        return 0
    if not force and attempt.ended_at is None and attempt.outcome not in _LEG_ENDED_OUTCOMES:
        return 0
    request = attempt.admission_request
    return _decide_legs([(attempt, _request_leg_facts(request, attempt), None, request)])


def bill_unbilled(*, now: dt.datetime | None = None, grace: dt.timedelta = dt.timedelta(minutes=15)) -> int:
    """Sweep: bill ended calls and callback legs that never got a decision.

    Covers a lost on-commit hook (a worker killed, Redis down). Legs that
    ended more than ``grace`` ago are considered final.
    """
    now = now or timezone.now()
    cutoff = now - grace
    charges = 0
    call_ids = (
        DialAttempt.objects.filter(call__isnull=False, billing_decision__isnull=True)
        .filter(Q(call__ended_at__lte=cutoff) | Q(call__status__in=_CALL_ENDED_STATUSES, call__started_at__lte=cutoff))
        .values_list("call_id", flat=True)
        .distinct()
    )
    to_bill = list(call_ids[:5000])
    for start in range(0, len(to_bill), SWEEP_BATCH):
        charges += bill_calls(call_ids=to_bill[start : start + SWEEP_BATCH], force=True)
    attempt_ids = DialAttempt.objects.filter(
        call__isnull=True, billing_decision__isnull=True, admission_request__isnull=False
    ).filter(
        Q(ended_at__lte=cutoff)
        | Q(outcome__in=_LEG_ENDED_OUTCOMES, started_at__lte=cutoff)
        | Q(started_at__lte=now - STUCK_LEG_AFTER)  # its end never reported: decide with what is known
    )
    for attempt_id in list(attempt_ids.values_list("pk", flat=True)[:5000]):
        charges += bill_admission_callback(attempt_id=attempt_id, force=True)
    return charges
