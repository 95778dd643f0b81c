"""Caps count the partner's own days and months, and claims count the right period whatever the workers' clocks."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connections, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from routing.engine import RouteRequest
from routing.location import resolve_location
from routing.models import PartnerCounter
from routing.selectors import directory_cache
from routing.services import claim_leg, record_billed, release_leg, route
from tests.factories import FacilityFactory, PartnerFactory
from tests.routing.test_legs import needs_postgres

LA = ZoneInfo("America/Los_Angeles")


def pt(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A wall-clock time in California, late 2026 (PST, UTC-8)."""
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=LA)


def california_partner(**caps) -> int:
    """A partner with no zone of its own and one facility in Los Angeles: its calendar is Pacific."""
    facility = FacilityFactory(
        partner=PartnerFactory(**caps),
        city="Los Angeles",
        state="CA",
        zip_code="90012",
        latitude=34.0614,
        longitude=-118.2385,
        time_zone="America/Los_Angeles",
        service_states=["CA"],
    )
    return facility.partner_id


def counter(partner_id: int) -> PartnerCounter:
    return PartnerCounter.objects.get(partner_id=partner_id)


@pytest.fixture(autouse=True)
def _fresh_directory():
    directory_cache.clear()
    yield
    directory_cache.clear()


# --- The partner's day ---------------------------------------------------------------------


@pytest.mark.django_db
def test_calls_at_2330_and_0030_pacific_count_on_different_days():
    partner_id = california_partner(daily_call_cap=1)
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 23, 30))  # 07:30 UTC on Dec 2
    assert not claim_leg(partner_id=partner_id, now=pt(12, 1, 23, 45))
    assert claim_leg(partner_id=partner_id, now=pt(12, 2, 0, 30))  # its new day
    assert not claim_leg(partner_id=partner_id, now=pt(12, 2, 0, 45))
    row = counter(partner_id)
    assert (row.day, row.calls_today, row.calls_this_month) == (dt.date(2026, 12, 2), 1, 2)


@pytest.mark.django_db
def test_4pm_pacific_midnight_utc_is_not_a_reset():
    partner_id = california_partner(daily_call_cap=1)
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 15, 50))  # 23:50 UTC Dec 1
    assert not claim_leg(partner_id=partner_id, now=pt(12, 1, 16, 10))  # 00:10 UTC Dec 2: same Pacific day
    assert counter(partner_id).day == dt.date(2026, 12, 1)


@pytest.mark.django_db
def test_the_routing_decision_sees_the_cap_until_the_partners_own_midnight():
    partner_id = california_partner(daily_call_cap=1)
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 10))
    caller = RouteRequest(service="detox", location=resolve_location(given_zip="90012"))

    _, evening = route(request=caller, kind="call", now=pt(12, 1, 16, 30))  # 00:30 UTC on Dec 2
    assert evening.choices == ()
    assert [x.reason for x in evening.excluded if x.partner_id == partner_id] == ["daily cap reached (1/1 calls today)"]
    _, next_day = route(request=caller, kind="call", now=pt(12, 2, 0, 30))
    assert [c.partner_id for c in next_day.choices] == [partner_id]


@pytest.mark.django_db
def test_the_partners_own_zone_wins_over_its_first_facilitys():
    partner_id = california_partner(daily_call_cap=1, time_zone="America/New_York")
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 20, 0))  # 23:00 in New York
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 21, 30))  # 00:30 in New York: its new day
    assert counter(partner_id).day == dt.date(2026, 12, 2)


@pytest.mark.django_db
def test_a_partner_without_zone_or_facility_counts_eastern_days():
    partner = PartnerFactory(daily_call_cap=1)
    eastern = ZoneInfo("America/New_York")
    assert claim_leg(partner_id=partner.pk, now=dt.datetime(2026, 12, 1, 23, 30, tzinfo=eastern))
    assert claim_leg(partner_id=partner.pk, now=dt.datetime(2026, 12, 2, 0, 30, tzinfo=eastern))


@pytest.mark.django_db
def test_a_count_given_back_goes_to_the_partners_day_of_the_claim():
    partner_id = california_partner(daily_call_cap=2)
    claimed_at = pt(12, 1, 17, 0)  # Dec 2 in UTC, Dec 1 in California
    assert claim_leg(partner_id=partner_id, now=claimed_at)
    release_leg(partner_id=partner_id, accepted=False, now=claimed_at)
    row = counter(partner_id)
    assert (row.calls_today, row.calls_this_month, row.active_calls) == (0, 0, 0)


# --- The partner's month: cap and budget ------------------------------------------------------


@pytest.mark.django_db
def test_monthly_cap_counts_the_partners_own_month():
    partner_id = california_partner(monthly_call_cap=1)
    assert claim_leg(partner_id=partner_id, now=pt(11, 30, 15, 0))  # 23:00 UTC Nov 30
    assert not claim_leg(partner_id=partner_id, now=pt(11, 30, 17, 0))  # 01:00 UTC Dec 1: still November here
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 0, 30))
    row = counter(partner_id)
    assert (row.month, row.calls_this_month) == (dt.date(2026, 12, 1), 1)


@pytest.mark.django_db
def test_budget_counts_the_partners_own_month():
    partner_id = california_partner(monthly_budget_cents=9000)
    record_billed(partner_id=partner_id, amount_cents=9000, at=pt(11, 30, 17, 0))  # December in UTC
    assert counter(partner_id).month == dt.date(2026, 11, 1)
    assert not claim_leg(partner_id=partner_id, now=pt(11, 30, 18, 0))  # November's budget is spent
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 0, 30))  # a new month here: spend starts at 0
    record_billed(partner_id=partner_id, amount_cents=4500, at=pt(11, 30, 23, 0))  # a late November charge
    row = counter(partner_id)
    assert (row.month, row.spend_this_month_cents) == (dt.date(2026, 12, 1), 0)
    record_billed(partner_id=partner_id, amount_cents=4500, at=pt(12, 1, 0, 40))
    assert counter(partner_id).spend_this_month_cents == 4500


# --- Workers whose clocks disagree around midnight -----------------------------------------

JUST_BEFORE = pt(12, 1, 23, 59, 58)  # a worker whose clock is a few seconds behind
JUST_AFTER = pt(12, 2, 0, 0, 1)  # a worker on time, already in the new day


@pytest.mark.django_db
def test_a_late_worker_counts_into_the_new_day_instead_of_refusing():
    partner_id = california_partner(daily_call_cap=3)
    for _ in range(3):
        assert claim_leg(partner_id=partner_id, now=pt(12, 1, 23, 59, 50))
    assert not claim_leg(partner_id=partner_id, now=JUST_BEFORE)  # its own day is full

    assert claim_leg(partner_id=partner_id, now=JUST_AFTER)  # rolls the row: 1 on Dec 2
    assert claim_leg(partner_id=partner_id, now=JUST_BEFORE)  # counted into Dec 2, not refused
    assert counter(partner_id).day == dt.date(2026, 12, 2)
    assert claim_leg(partner_id=partner_id, now=JUST_AFTER)
    assert not claim_leg(partner_id=partner_id, now=JUST_BEFORE)  # Dec 2 is full too
    assert not claim_leg(partner_id=partner_id, now=JUST_AFTER)
    row = counter(partner_id)
    assert (row.day, row.calls_today, row.calls_this_month, row.active_calls) == (dt.date(2026, 12, 2), 3, 6, 6)


@pytest.mark.django_db
def test_a_late_worker_never_moves_the_row_back_a_day():
    partner_id = california_partner(daily_call_cap=5)
    assert claim_leg(partner_id=partner_id, now=JUST_AFTER)
    assert claim_leg(partner_id=partner_id, now=JUST_BEFORE)
    assert claim_leg(partner_id=partner_id, now=JUST_BEFORE - dt.timedelta(days=40))  # a wildly wrong clock
    row = counter(partner_id)
    assert (row.day, row.month, row.calls_today) == (dt.date(2026, 12, 2), dt.date(2026, 12, 1), 3)


def _claim_together(partner_id: int, clocks: list[dt.datetime]) -> list[tuple[dt.datetime, bool]]:
    """Every clock's claim at once, each in its own thread and connection."""
    barrier = threading.Barrier(len(clocks))
    results: list[tuple[dt.datetime, bool]] = []
    lock = threading.Lock()

    def work(now: dt.datetime) -> None:
        try:
            barrier.wait()
            ok = claim_leg(partner_id=partner_id, now=now)
            with lock:
                results.append((now, ok))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(clock,)) for clock in clocks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@needs_postgres
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_with_clocks_on_both_sides_of_midnight_fill_the_new_day_exactly():
    partner_id = california_partner(daily_call_cap=3)
    for _ in range(3):  # yesterday (Dec 1) is full
        assert claim_leg(partner_id=partner_id, now=pt(12, 1, 23, 0))
    clocks = [JUST_BEFORE, JUST_AFTER] * 8
    results = _claim_together(partner_id, clocks)
    assert len(results) == 16
    # On-time workers can only be refused once Dec 2 is full, so Dec 2 fills exactly; late ones
    # that came before the roll found their own (full) day and were refused.
    assert sum(ok for _, ok in results) == 3
    row = counter(partner_id)
    assert (row.day, row.calls_today, row.calls_this_month) == (dt.date(2026, 12, 2), 3, 6)


@needs_postgres
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_across_midnight_never_pass_the_cap_of_either_day():
    partner_id = california_partner(daily_call_cap=4)
    assert claim_leg(partner_id=partner_id, now=pt(12, 1, 23, 0))  # Dec 1 has room for 3 more
    clocks = [JUST_BEFORE, JUST_AFTER, JUST_AFTER, JUST_BEFORE] * 5
    results = _claim_together(partner_id, clocks)
    won = sum(ok for _, ok in results)
    row = counter(partner_id)
    assert (row.day, row.calls_today) == (dt.date(2026, 12, 2), 4)  # the new day filled, not passed
    counted_on_dec_1 = row.calls_this_month - 4 - 1
    assert 0 <= counted_on_dec_1 <= 3  # late claims before the roll: within Dec 1's room
    assert won == 4 + counted_on_dec_1


# --- Property: any order of clocks, the row behaves like the model -----------------------------

MIDNIGHTS = [dt.datetime(2026, 11, 30, tzinfo=LA), dt.datetime(2026, 12, 1, tzinfo=LA)]


@pytest.mark.django_db
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cap=st.integers(min_value=1, max_value=4),
    clocks=st.lists(
        st.tuples(st.sampled_from(MIDNIGHTS), st.integers(min_value=-30, max_value=30)), min_size=1, max_size=14
    ),
)
def test_claims_in_any_clock_order_match_the_period_model(cap, clocks):
    """Model: a claim in a newer day than the row's rolls it and counts 1; otherwise it counts into the row's
    day if under the cap. The row's day never goes back and its count never passes the cap.
    The two midnights include Nov 30 -> Dec 1, a new month."""
    with transaction.atomic():
        partner_id = california_partner(daily_call_cap=cap)
        day: dt.date | None = None
        month: dt.date | None = None
        count = monthly = 0
        for midnight, seconds in clocks:
            now = midnight + dt.timedelta(seconds=seconds)
            mine = now.astimezone(LA).date()
            if day is None or mine > day:
                day, count, expected = mine, 1, True
            else:
                expected = count < cap
                count += expected
            if month is None or mine.replace(day=1) > month:
                month, monthly = mine.replace(day=1), int(expected)
            else:
                monthly += expected
            assert claim_leg(partner_id=partner_id, now=now) is expected
            row = counter(partner_id)
            assert (row.day, row.calls_today, row.month, row.calls_this_month) == (day, count, month, monthly)
            assert row.calls_today <= cap
        transaction.set_rollback(True)
