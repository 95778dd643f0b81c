"""The billing rule, exactly-once charges, price history and adjustments."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from helpline.models import Call, DialAttempt
from partners.billing import rule as billing
from partners.directory.services import ledger_adjust
from partners.models import BillingDecision, LedgerEntry, LedgerImmutableError, PriceChange
from tests.factories import (
    T0,
    AdmissionRequestFactory,
    CallbackLegFactory,
    CallFactory,
    DialAttemptFactory,
    FacilityFactory,
    PartnerFactory,
    StaffFactory,
    UserFactory,
    billed_call,
)

# Rows are made "minutes ago" and counted by day and month: a clock far from any boundary.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quiet_clock")]


@pytest.fixture
def facility():
    partner = PartnerFactory(price_per_call_cents=4500, min_billable_seconds=60, repeat_caller_window_days=30)
    return FacilityFactory(partner=partner)


def _decision(attempt: DialAttempt) -> BillingDecision:
    return BillingDecision.objects.get(dial_attempt=attempt)


def test_accepted_long_enough_call_is_charged_once_at_the_partner_price(facility):
    call, attempt = billed_call(facility=facility, talk_seconds=61)

    assert billing.bill_call(call_id=call.pk) == 1

    entry = LedgerEntry.objects.get()
    assert (entry.partner, entry.kind, entry.amount_cents) == (facility.partner, "charge", 4500)
    assert entry.call == call and entry.dial_attempt == attempt and entry.occurred_at == T0
    decision = _decision(attempt)
    assert decision.billable and decision.reason == "billable" and decision.price_cents == 4500


def test_call_exactly_at_minimum_seconds_is_billable(facility):
    call, attempt = billed_call(facility=facility, talk_seconds=60)
    billing.bill_call(call_id=call.pk)
    assert _decision(attempt).reason == "billable"


def test_call_shorter_than_minimum_is_recorded_too_short_and_not_charged(facility):
    call, attempt = billed_call(facility=facility, talk_seconds=59)
    assert billing.bill_call(call_id=call.pk) == 0
    decision = _decision(attempt)
    assert (decision.billable, decision.reason, decision.talk_seconds) == (False, "too_short", 59)
    assert not LedgerEntry.objects.exists()


def test_leg_not_accepted_is_recorded_not_accepted(facility):
    call = CallFactory()
    attempt = DialAttemptFactory(
        call=call, facility=facility, accepted=False, outcome=DialAttempt.Outcome.NOT_ACCEPTED, talk_seconds=0
    )
    billing.bill_call(call_id=call.pk)
    assert _decision(attempt).reason == "not_accepted"
    assert not LedgerEntry.objects.exists()


def test_every_leg_of_a_failover_call_gets_its_own_decision(facility):
    other = FacilityFactory()
    call = CallFactory(connected_partner=facility.partner, connected_facility=facility, talk_seconds=200)
    busy = DialAttemptFactory(
        call=call, facility=other, accepted=False, outcome=DialAttempt.Outcome.BUSY, talk_seconds=0
    )
    answered = DialAttemptFactory(call=call, facility=facility, talk_seconds=200)

    billing.bill_call(call_id=call.pk)

    assert _decision(busy).reason == "not_accepted" and _decision(busy).partner == other.partner
    assert _decision(answered).reason == "billable"
    assert LedgerEntry.objects.get().partner == facility.partner


def test_test_call_is_never_billed(facility):
    call, attempt = billed_call(facility=facility, is_test=True)
    billing.bill_call(call_id=call.pk)
    assert _decision(attempt).reason == "test"
    assert not LedgerEntry.objects.exists()


def test_repeat_caller_within_window_is_not_billed_again(facility):
    first, _ = billed_call(facility=facility, started_at=T0)
    second, second_leg = billed_call(facility=facility, started_at=T0 + dt.timedelta(days=29, hours=23))
    billing.bill_call(call_id=first.pk)
    billing.bill_call(call_id=second.pk)
    assert _decision(second_leg).reason == "repeat_caller"
    assert LedgerEntry.objects.count() == 1


def test_same_caller_after_window_is_billed_again(facility):
    first, _ = billed_call(facility=facility, started_at=T0)
    later, _ = billed_call(facility=facility, started_at=T0 + dt.timedelta(days=30, minutes=1))
    billing.bill_call(call_id=first.pk)
    billing.bill_call(call_id=later.pk)
    assert LedgerEntry.objects.count() == 2


def test_same_caller_to_another_partner_is_billed_to_each(facility):
    other = FacilityFactory()
    a, _ = billed_call(facility=facility)
    b, _ = billed_call(facility=other, started_at=T0 + dt.timedelta(hours=1))
    billing.bill_call(call_id=a.pk)
    billing.bill_call(call_id=b.pk)
    assert sorted(LedgerEntry.objects.values_list("partner_id", flat=True)) == sorted(
        [facility.partner_id, other.partner_id]
    )


def test_a_too_short_first_call_does_not_make_the_next_one_a_repeat(facility):
    dropped, _ = billed_call(facility=facility, talk_seconds=5)
    real, real_leg = billed_call(facility=facility, started_at=T0 + dt.timedelta(minutes=3))
    billing.bill_call(call_id=dropped.pk)
    billing.bill_call(call_id=real.pk)
    assert _decision(real_leg).reason == "billable"


def test_repeat_caller_is_billed_once_whatever_order_calls_are_processed(facility):
    early, early_leg = billed_call(facility=facility, started_at=T0)
    late, late_leg = billed_call(facility=facility, started_at=T0 + dt.timedelta(days=2))
    billing.bill_call(call_id=late.pk)  # processed first (delayed callback of the earlier call)
    billing.bill_call(call_id=early.pk)
    assert LedgerEntry.objects.count() == 1
    assert _decision(late_leg).reason == "billable" and _decision(early_leg).reason == "repeat_caller"


def test_anonymous_caller_is_never_a_repeat(facility):
    a, _ = billed_call(facility=facility, caller="")
    b, _ = billed_call(facility=facility, caller="", started_at=T0 + dt.timedelta(hours=1))
    billing.bill_call(call_id=a.pk)
    billing.bill_call(call_id=b.pk)
    assert LedgerEntry.objects.count() == 2


def test_duplicate_bill_call_makes_one_entry(facility):
    call, _ = billed_call(facility=facility)
    results = [billing.bill_call(call_id=call.pk) for _ in range(5)]
    assert results == [1, 0, 0, 0, 0]
    assert LedgerEntry.objects.count() == 1 and BillingDecision.objects.count() == 1


def test_bill_call_before_the_call_ends_waits_for_the_end(facility):
    call, attempt = billed_call(facility=facility)
    Call.objects.filter(pk=call.pk).update(ended_at=None, status=Call.Status.CONNECTED)
    DialAttempt.objects.filter(pk=attempt.pk).update(talk_seconds=0, ended_at=None)

    assert billing.bill_call(call_id=call.pk) == 0  # early status callback: nothing decided yet
    assert not BillingDecision.objects.exists()

    DialAttempt.objects.filter(pk=attempt.pk).update(talk_seconds=240, ended_at=T0 + dt.timedelta(minutes=4))
    Call.objects.filter(pk=call.pk).update(ended_at=T0 + dt.timedelta(minutes=5), status=Call.Status.COMPLETED)
    assert billing.bill_call(call_id=call.pk) == 1
    assert billing.bill_call(call_id=call.pk) == 0
    assert LedgerEntry.objects.get().amount_cents == 4500


def test_unknown_call_id_is_ignored():
    assert billing.bill_call(call_id=987654) == 0
    assert billing.bill_admission_callback(attempt_id=987654) == 0


def test_database_refuses_a_second_charge_for_the_same_leg(facility):
    call, attempt = billed_call(facility=facility)
    billing.bill_call(call_id=call.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            partner=facility.partner, kind="charge", amount_cents=4500, occurred_at=T0, dial_attempt=attempt
        )


def test_talk_seconds_taken_from_call_when_leg_has_none(facility):
    call, attempt = billed_call(facility=facility, talk_seconds=0)
    Call.objects.filter(pk=call.pk).update(talk_seconds=120)
    billing.bill_call(call_id=call.pk)
    assert _decision(attempt).reason == "billable"


def test_bridged_admission_callback_follows_the_same_rule(facility):
    leg = CallbackLegFactory(facility=facility, partner=facility.partner, talk_seconds=90)
    short = CallbackLegFactory(
        facility=facility,
        partner=facility.partner,
        talk_seconds=20,
        admission_request=AdmissionRequestFactory(caller="+15125550999"),
    )
    assert billing.bill_admission_callback(attempt_id=leg.pk) == 1
    assert billing.bill_admission_callback(attempt_id=leg.pk) == 0
    assert billing.bill_admission_callback(attempt_id=short.pk) == 0
    assert _decision(leg).kind == "callback" and _decision(leg).reason == "billable"
    assert _decision(short).reason == "too_short"
    assert LedgerEntry.objects.get().dial_attempt == leg


def test_callback_from_a_caller_already_billed_by_phone_is_a_repeat(facility):
    call, _ = billed_call(facility=facility, caller="+15125550123")
    billing.bill_call(call_id=call.pk)
    leg = CallbackLegFactory(
        facility=facility,
        partner=facility.partner,
        admission_request=AdmissionRequestFactory(caller="+1 (512) 555-0123"),
        started_at=T0 + dt.timedelta(days=1),
    )
    billing.bill_admission_callback(attempt_id=leg.pk)
    assert _decision(leg).reason == "repeat_caller"


def test_unfinished_callback_leg_waits(facility):
    leg = CallbackLegFactory(facility=facility, partner=facility.partner, outcome="accepted", ended_at=None)
    assert billing.bill_admission_callback(attempt_id=leg.pk) == 0
    assert not BillingDecision.objects.exists()


def test_price_change_mid_month_affects_only_later_calls(facility):
    partner = facility.partner
    before, _ = billed_call(facility=facility, caller="+15125550001", started_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC))
    billing.bill_call(call_id=before.pk)

    partner.price_per_call_cents = 6000
    partner.save()
    change = PriceChange.objects.filter(partner=partner).order_by("-effective_from").first()
    assert change is not None and change.price_cents == 6000

    late_billed, _ = billed_call(
        facility=facility, caller="+15125550002", started_at=dt.datetime(2026, 3, 6, tzinfo=dt.UTC)
    )
    after, _ = billed_call(facility=facility, caller="+15125550003", started_at=change.effective_from)
    billing.bill_call(call_id=late_billed.pk)  # billed after the change, happened before it
    billing.bill_call(call_id=after.pk)

    amounts = dict(LedgerEntry.objects.values_list("call_id", "amount_cents"))
    assert amounts == {before.pk: 4500, late_billed.pk: 4500, after.pk: 6000}


def test_ledger_entries_cannot_be_edited_or_deleted(facility):
    call, _ = billed_call(facility=facility)
    billing.bill_call(call_id=call.pk)
    entry = LedgerEntry.objects.get()
    entry.amount_cents = 1
    with pytest.raises(LedgerImmutableError):
        entry.save()
    with pytest.raises(LedgerImmutableError):
        entry.delete()
    assert LedgerEntry.objects.get().amount_cents == 4500


def test_staff_adjustment_is_a_new_entry_with_reason_and_staff(facility):
    call, _ = billed_call(facility=facility)
    billing.bill_call(call_id=call.pk)
    charge = LedgerEntry.objects.get()
    staff = StaffFactory()

    credit = ledger_adjust(
        partner=facility.partner, amount_cents=-4500, reason="Caller was a wrong number", by=staff, corrects=charge
    )

    assert (credit.kind, credit.amount_cents, credit.created_by, credit.corrects) == (
        "adjustment",
        -4500,
        staff,
        charge,
    )
    assert LedgerEntry.objects.get(pk=charge.pk).amount_cents == 4500
    assert sum(LedgerEntry.objects.values_list("amount_cents", flat=True)) == 0


def test_adjustment_needs_a_reason_and_staff(facility):
    with pytest.raises(ValidationError):
        ledger_adjust(partner=facility.partner, amount_cents=-100, reason="  ", by=StaffFactory())
    with pytest.raises(PermissionDenied):
        ledger_adjust(partner=facility.partner, amount_cents=-100, reason="goodwill", by=UserFactory())
    assert not LedgerEntry.objects.exists()


def test_charge_calls_record_billed_and_enqueues_billed_webhook(
    facility, monkeypatch, django_capture_on_commit_callbacks
):
    from routing import services as routing_services

    seen: list[dict] = []
    monkeypatch.setattr(routing_services, "record_billed", lambda **kw: seen.append(kw))
    call, _ = billed_call(facility=facility)
    with django_capture_on_commit_callbacks(execute=True):
        billing.bill_call(call_id=call.pk)
    assert seen == [{"partner_id": facility.partner_id, "amount_cents": 4500, "at": T0}]


def test_sweep_bills_ended_calls_that_were_never_billed(facility):
    call, attempt = billed_call(facility=facility)
    assert billing.bill_unbilled(now=T0 + dt.timedelta(hours=1)) == 1
    assert billing.bill_unbilled(now=T0 + dt.timedelta(hours=1)) == 0
    assert _decision(attempt).reason == "billable"


def test_demo_activity_bills_through_the_rule_and_is_rerunnable(django_capture_on_commit_callbacks):
    from helpline.models import Call
    from partners.demo import seed_demo_activity

    FacilityFactory()
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo_activity(days=1, per_day=20)
    assert Call.objects.filter(call_sid__startswith="CAdemoh").count() == 20
    assert BillingDecision.objects.count() >= 20
    assert set(BillingDecision.objects.values_list("reason", flat=True)) <= {
        "billable", "too_short", "not_accepted", "repeat_caller"
    }  # fmt: skip
    assert LedgerEntry.objects.count() == BillingDecision.objects.filter(billable=True).count() > 0
    calls = Call.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo_activity(days=1, per_day=20)
    assert Call.objects.count() == calls


def test_charges_and_credits_reach_routings_budget_counter(facility, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from routing.models import PartnerCounter

    call, _ = billed_call(facility=facility, started_at=timezone.now() - dt.timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        billing.bill_call(call_id=call.pk)
    assert PartnerCounter.objects.get(partner=facility.partner).spend_this_month_cents == 4500
    with django_capture_on_commit_callbacks(execute=True):
        ledger_adjust(partner=facility.partner, amount_cents=-4500, reason="Credit", by=StaffFactory())
    assert PartnerCounter.objects.get(partner=facility.partner).spend_this_month_cents == 0


def test_daily_rollup_counts_each_leg_once_and_matches_a_rebuild(facility):
    from partners.models import PartnerDailyStats

    calls = [billed_call(facility=facility, caller=f"+151255501{i:02d}", started_at=T0 + dt.timedelta(hours=7 * i),
                         talk_seconds=30 if i % 3 == 0 else 200)[0] for i in range(8)]  # fmt: skip
    unanswered = CallFactory(started_at=T0)
    DialAttemptFactory(call=unanswered, facility=facility, accepted=False, outcome="no-answer", talk_seconds=0)
    for call in [*calls, unanswered, *calls]:  # every call billed twice: still counted once
        billing.bill_call(call_id=call.pk)

    def snapshot():
        return list(PartnerDailyStats.objects.order_by("day").values_list("day", "offered", "accepted", "billable",
                                                                         "talk_seconds"))  # fmt: skip

    live = snapshot()
    assert sum(row[1] for row in live) == 9 and sum(row[3] for row in live) == 5
    assert billing.rebuild_daily_stats(partner_id=facility.partner_id) == len(live)
    assert snapshot() == live


def test_call_sent_to_fallback_is_billed_once_its_legs_are_over(facility):
    call, attempt = billed_call(facility=facility)
    Call.objects.filter(pk=call.pk).update(status=Call.Status.FALLBACK, ended_at=None)
    assert billing.bill_call(call_id=call.pk) == 1


def test_leg_still_bridged_waits_for_its_talk_time_then_the_sweep_decides(facility):
    call, attempt = billed_call(facility=facility)
    DialAttempt.objects.filter(pk=attempt.pk).update(outcome=DialAttempt.Outcome.ACCEPTED, ended_at=None)
    assert billing.bill_call(call_id=call.pk) == 0  # caller hung up, the leg's result is on its way
    assert not BillingDecision.objects.exists()
    assert billing.bill_unbilled(now=call.ended_at + dt.timedelta(hours=1)) == 1
    assert _decision(attempt).reason == "billable"


def test_sweep_decides_a_callback_leg_whose_end_never_came(facility):
    leg = CallbackLegFactory(facility=facility, partner=facility.partner, outcome="accepted", ended_at=None)
    assert billing.bill_unbilled(now=leg.started_at + dt.timedelta(hours=1)) == 0
    assert billing.bill_unbilled(now=leg.started_at + dt.timedelta(hours=7)) == 1
