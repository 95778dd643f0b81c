"""``bill_calls``: many calls billed in one run decide exactly as ``bill_call`` one by one would."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.models import Call, DialAttempt
from partners.billing import rule as billing
from partners.models import BillingDecision, LedgerEntry, PartnerDailyStats, PriceChange
from tests.factories import T0, FacilityFactory, PartnerFactory, billed_call

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quiet_clock")]


def _partner_with_calls() -> tuple[object, list[Call]]:
    """A partner and a day's mix: billable, a repeat, too short, unanswered, a price change, a live call."""
    partner = PartnerFactory(price_per_call_cents=4500, min_billable_seconds=60, repeat_caller_window_days=30)
    facility = FacilityFactory(partner=partner)
    PriceChange.objects.create(partner=partner, price_cents=5000, effective_from=T0 + dt.timedelta(hours=3))
    calls = [
        billed_call(facility=facility, started_at=T0, caller="+15125550101")[0],
        billed_call(facility=facility, started_at=T0 + dt.timedelta(hours=1), caller="+15125550101")[0],  # repeat
        billed_call(facility=facility, started_at=T0 + dt.timedelta(hours=2), caller="+15125550102", talk_seconds=20)[
            0
        ],
        billed_call(facility=facility, started_at=T0 + dt.timedelta(hours=4), caller="+15125550103")[0],  # new price
        billed_call(facility=facility, started_at=T0 + dt.timedelta(days=1), caller="+15125550104")[0],  # next day
    ]
    unanswered, leg = billed_call(facility=facility, started_at=T0 + dt.timedelta(hours=5), caller="+15125550105")
    DialAttempt.objects.filter(pk=leg.pk).update(accepted=False, outcome=DialAttempt.Outcome.NO_ANSWER, talk_seconds=0)
    live, live_leg = billed_call(facility=facility, started_at=T0 + dt.timedelta(hours=6), caller="+15125550106")
    Call.objects.filter(pk=live.pk).update(ended_at=None, status=Call.Status.CONNECTED)
    DialAttempt.objects.filter(pk=live_leg.pk).update(outcome=DialAttempt.Outcome.ACCEPTED, ended_at=None)
    return partner, [*calls, unanswered, live]


def _outcome(partner) -> tuple[list[tuple], list[int], list[tuple]]:
    decisions = list(
        BillingDecision.objects.filter(partner=partner)
        .order_by("occurred_at")
        .values_list("occurred_at", "reason", "price_cents")
    )
    charges = list(
        LedgerEntry.objects.filter(partner=partner).order_by("occurred_at").values_list("amount_cents", flat=True)
    )
    days = list(
        PartnerDailyStats.objects.filter(partner=partner)
        .order_by("day")
        .values_list("day", "offered", "accepted", "billable", "talk_seconds")
    )
    return decisions, charges, days


def test_bill_calls_decides_charges_and_counts_days_as_bill_call_one_by_one(django_capture_on_commit_callbacks):
    one_by_one, one_calls = _partner_with_calls()
    batched, batch_calls = _partner_with_calls()

    with django_capture_on_commit_callbacks(execute=True):
        singly = sum(billing.bill_call(call_id=c.pk) for c in one_calls)
        together = billing.bill_calls(call_ids=[c.pk for c in batch_calls])

    assert singly == together == 3
    assert _outcome(one_by_one) == _outcome(batched)
    decisions, charges, days = _outcome(batched)
    assert [reason for _at, reason, _price in decisions] == [
        "billable", "repeat_caller", "too_short", "billable", "not_accepted", "billable"
    ]  # fmt: skip  # the live call waits for its end
    assert charges == [4500, 5000, 5000]
    assert days == [(T0.date(), 5, 4, 2, 920), (T0.date() + dt.timedelta(days=1), 1, 1, 1, 300)]


def test_bill_calls_adds_to_a_day_already_counted_and_decides_nothing_twice():
    partner, calls = _partner_with_calls()
    billing.bill_call(call_id=calls[0].pk)
    assert billing.bill_calls(call_ids=[c.pk for c in calls]) == 2
    assert billing.bill_calls(call_ids=[c.pk for c in calls]) == 0

    assert BillingDecision.objects.filter(partner=partner).count() == 6
    day = PartnerDailyStats.objects.get(partner=partner, day=T0.date())
    assert (day.offered, day.accepted, day.billable) == (5, 4, 2)


def test_bill_calls_reads_the_batch_once_not_once_per_call(django_assert_max_num_queries):
    """The partner lock, legs, prices and day rows are read per batch: ten calls cost far less than ten runs."""
    facility = FacilityFactory()
    calls = [billed_call(facility=facility, started_at=T0 + dt.timedelta(minutes=n), caller=f"+151255502{n:02d}")[0]
             for n in range(10)]  # fmt: skip
    # Per call: the repeat check, the decision and its charge inside their savepoint (5); per batch:
    # its savepoint, calls, legs, partner lock, already decided, price changes, day rows read and written.
    with django_assert_max_num_queries(10 * 5 + 9):
        assert billing.bill_calls(call_ids=[c.pk for c in calls]) == 10


def test_a_batch_reaches_the_budget_counter_as_one_charge_at_a_time(django_capture_on_commit_callbacks):
    """Charges are summed per month for the counter; one near a month's edge counts in the partner's own month."""
    from routing.models import PartnerCounter

    partner = PartnerFactory(price_per_call_cents=4000, time_zone="America/Chicago")
    facility = FacilityFactory(partner=partner)
    march = dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC)
    at = [
        dt.datetime(2026, 2, 20, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC),  # 28 February, 9 pm in Chicago
        march,
        march + dt.timedelta(days=2),
        march + dt.timedelta(days=3),
    ]
    calls = [billed_call(facility=facility, started_at=t, caller=f"+151255503{n:02d}")[0] for n, t in enumerate(at)]

    with django_capture_on_commit_callbacks(execute=True):
        assert billing.bill_calls(call_ids=[c.pk for c in reversed(calls)]) == 5

    counter = PartnerCounter.objects.get(partner=partner)
    assert (counter.month, counter.spend_this_month_cents) == (dt.date(2026, 3, 1), 3 * 4000)
