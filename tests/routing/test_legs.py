"""claim_leg / release_leg / record_billed: caps hold, counts are given back, periods roll over."""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest
from django.db import connection, connections

from routing.models import PartnerCounter
from routing.services import claim_leg, record_billed, release_leg
from tests.factories import PartnerFactory as _PartnerFactory

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


def PartnerFactory(**kwargs):  # noqa: N802 - stands in for the factory
    """A partner whose calendar is UTC, so the dates below read as they are written.

    These tests are about the mechanics of claims and periods; partners on
    their own local calendars are in ``test_caps_partner_calendar.py``.
    """
    kwargs.setdefault("time_zone", "UTC")
    return _PartnerFactory(**kwargs)


def counter(partner) -> PartnerCounter:
    return PartnerCounter.objects.get(partner=partner)


@pytest.mark.django_db
def test_claim_counts_the_call_and_takes_a_slot():
    partner = PartnerFactory(concurrent_call_cap=2)
    assert claim_leg(partner_id=partner.pk, now=NOW)
    row = counter(partner)
    assert (row.active_calls, row.calls_today, row.calls_this_month) == (1, 1, 1)
    assert (row.day, row.month) == (dt.date(2026, 11, 23), dt.date(2026, 11, 1))


@pytest.mark.django_db
def test_concurrent_cap_refuses_and_release_frees_the_slot():
    partner = PartnerFactory(concurrent_call_cap=2)
    assert claim_leg(partner_id=partner.pk, now=NOW)
    assert claim_leg(partner_id=partner.pk, now=NOW)
    assert not claim_leg(partner_id=partner.pk, now=NOW)
    assert counter(partner).active_calls == 2
    release_leg(partner_id=partner.pk, accepted=True, now=NOW)
    assert claim_leg(partner_id=partner.pk, now=NOW)


@pytest.mark.django_db
def test_declined_leg_gives_the_daily_and_monthly_count_back_accepted_keeps_it():
    partner = PartnerFactory(daily_call_cap=1)
    assert claim_leg(partner_id=partner.pk, now=NOW)
    assert not claim_leg(partner_id=partner.pk, now=NOW)  # daily cap 1 reached
    release_leg(partner_id=partner.pk, accepted=False, now=NOW)
    row = counter(partner)
    assert (row.active_calls, row.calls_today, row.calls_this_month) == (0, 0, 0)
    assert claim_leg(partner_id=partner.pk, now=NOW)
    release_leg(partner_id=partner.pk, accepted=True, now=NOW)
    row = counter(partner)
    assert (row.active_calls, row.calls_today, row.calls_this_month) == (0, 1, 1)
    assert not claim_leg(partner_id=partner.pk, now=NOW)


@pytest.mark.django_db
def test_monthly_cap_and_budget_refuse():
    capped = PartnerFactory(monthly_call_cap=1)
    assert claim_leg(partner_id=capped.pk, now=NOW)
    assert not claim_leg(partner_id=capped.pk, now=NOW + dt.timedelta(days=1))
    budget = PartnerFactory(monthly_budget_cents=9000)
    record_billed(partner_id=budget.pk, amount_cents=4500, at=NOW)
    assert claim_leg(partner_id=budget.pk, now=NOW)
    record_billed(partner_id=budget.pk, amount_cents=4500, at=NOW)
    assert not claim_leg(partner_id=budget.pk, now=NOW)
    record_billed(partner_id=budget.pk, amount_cents=-4500, at=NOW)  # a credit
    assert counter(budget).spend_this_month_cents == 4500
    assert claim_leg(partner_id=budget.pk, now=NOW)


@pytest.mark.django_db
def test_new_day_and_new_month_start_from_zero():
    partner = PartnerFactory(daily_call_cap=1, monthly_call_cap=2, monthly_budget_cents=5000)
    record_billed(partner_id=partner.pk, amount_cents=5000, at=NOW)
    assert not claim_leg(partner_id=partner.pk, now=NOW)  # budget spent
    record_billed(partner_id=partner.pk, amount_cents=-5000, at=NOW)
    assert claim_leg(partner_id=partner.pk, now=NOW)
    assert not claim_leg(partner_id=partner.pk, now=NOW)  # daily cap
    tomorrow = NOW + dt.timedelta(days=1)
    assert claim_leg(partner_id=partner.pk, now=tomorrow)
    assert not claim_leg(partner_id=partner.pk, now=tomorrow + dt.timedelta(days=1))  # monthly cap 2
    december = dt.datetime(2026, 12, 1, 0, 5, tzinfo=dt.UTC)
    record_billed(partner_id=partner.pk, amount_cents=100, at=december)
    row = counter(partner)
    assert (row.month, row.calls_this_month, row.spend_this_month_cents) == (dt.date(2026, 12, 1), 0, 100)
    assert claim_leg(partner_id=partner.pk, now=december)


@pytest.mark.django_db
def test_late_charge_for_last_month_does_not_touch_this_months_budget():
    partner = PartnerFactory(monthly_budget_cents=10_000)
    december = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    assert claim_leg(partner_id=partner.pk, now=december)
    record_billed(partner_id=partner.pk, amount_cents=9_999, at=NOW)  # November
    assert counter(partner).spend_this_month_cents == 0


@pytest.mark.django_db
def test_release_after_midnight_gives_the_count_back_to_the_claim_day_only():
    partner = PartnerFactory(daily_call_cap=5)
    claimed_at = dt.datetime(2026, 11, 23, 23, 59, tzinfo=dt.UTC)
    assert claim_leg(partner_id=partner.pk, now=claimed_at)
    assert claim_leg(partner_id=partner.pk, now=claimed_at + dt.timedelta(minutes=2))  # new day: 1 today
    release_leg(partner_id=partner.pk, accepted=False, now=claimed_at)
    row = counter(partner)
    assert (row.day, row.calls_today, row.active_calls) == (dt.date(2026, 11, 24), 1, 1)


@pytest.mark.django_db
def test_counts_never_go_negative_on_a_stray_release():
    partner = PartnerFactory()
    assert claim_leg(partner_id=partner.pk, now=NOW)
    release_leg(partner_id=partner.pk, accepted=False, now=NOW)
    release_leg(partner_id=partner.pk, accepted=False, now=NOW)
    row = counter(partner)
    assert (row.active_calls, row.calls_today, row.calls_this_month) == (0, 0, 0)
    release_leg(partner_id=PartnerFactory().pk, accepted=False, now=NOW)  # never claimed: nothing to do


@pytest.mark.django_db
def test_paused_unverified_or_missing_partner_cannot_be_claimed():
    assert not claim_leg(partner_id=PartnerFactory(status="paused").pk, now=NOW)
    assert not claim_leg(partner_id=PartnerFactory(license_verified_on=None).pk, now=NOW)
    assert not claim_leg(partner_id=987_654, now=NOW)


@pytest.mark.django_db
def test_record_billed_wants_integer_cents():
    partner = PartnerFactory()
    with pytest.raises(TypeError):
        record_billed(partner_id=partner.pk, amount_cents=45.0, at=NOW)  # type: ignore[arg-type]
    assert not PartnerCounter.objects.filter(partner=partner).exists()


# --- Two workers at the same instant (real PostgreSQL) ----------------------

needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL (PostgreSQL)"
)


def _race(partner_id: int, workers: int) -> list[bool]:
    barrier = threading.Barrier(workers)
    results: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            ok = claim_leg(partner_id=partner_id, now=NOW)
            with lock:
                results.append(ok)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@needs_postgres
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        ({"concurrent_call_cap": 3}, 3),
        ({"daily_call_cap": 4}, 4),
        ({"monthly_call_cap": 2, "concurrent_call_cap": 10}, 2),
        ({"concurrent_call_cap": 1}, 1),
    ],
)
def test_no_partner_goes_over_its_cap_when_workers_claim_at_the_same_instant(caps, expected):
    assert connection.vendor == "postgresql"
    partner = PartnerFactory(**caps)
    results = _race(partner.pk, workers=16)
    assert len(results) == 16
    assert results.count(True) == expected
    row = counter(partner)
    assert row.active_calls == expected
    assert row.calls_today == expected
    assert row.calls_this_month == expected


@needs_postgres
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_race_on_a_new_day_rolls_over_once():
    partner = PartnerFactory(daily_call_cap=3)
    yesterday = NOW - dt.timedelta(days=1)
    assert claim_leg(partner_id=partner.pk, now=yesterday)
    assert claim_leg(partner_id=partner.pk, now=yesterday)
    results = _race(partner.pk, workers=12)
    assert results.count(True) == 3
    row = counter(partner)
    assert (row.day, row.calls_today, row.calls_this_month) == (dt.date(2026, 11, 23), 3, 5)


@needs_postgres
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_claim_refused_at_a_cap_leaves_the_row_unlocked():
    """A step goes on to its next choice after a refusal: it must not hold the refused partner's row meanwhile."""
    from django.db import transaction

    partner = PartnerFactory(concurrent_call_cap=1)
    assert claim_leg(partner_id=partner.pk, now=NOW)
    outcome: list[str] = []

    def another_worker() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '500ms'")
                cursor.execute(
                    "UPDATE routing_partnercounter SET active_calls = active_calls WHERE partner_id = %s", [partner.pk]
                )
            outcome.append("written")
        except Exception as exc:  # noqa: BLE001 - the lock timeout is the failure reported
            outcome.append(type(exc).__name__)
        finally:
            connections.close_all()

    with transaction.atomic():
        assert not claim_leg(partner_id=partner.pk, now=NOW)  # at its cap: refused
        worker = threading.Thread(target=another_worker)
        worker.start()
        worker.join(timeout=10)
    assert outcome == ["written"]
    assert counter(partner).active_calls == 1
