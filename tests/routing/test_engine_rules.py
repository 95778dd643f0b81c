"""Table-driven tests of each eligibility rule of engine.decide (pure: no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from routing.engine import Location, Span, decide
from tests.routing.builders import FALLBACK, MONDAY_9AM_AUSTIN, candidate, request, weekday_hours

TX_BY_AREA_CODE = Location(state="TX", source="area_code", label="area code 512, TX")
UNKNOWN = Location()
ALL_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VA WA WV WI WY".split()
)
# Local times in Austin (UTC-6 in November).
MONDAY_7AM = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)
MONDAY_6PM = dt.datetime(2026, 11, 24, 0, 0, tzinfo=dt.UTC)  # 18:00 local: closing time is exclusive
TUESDAY_1AM = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)
TUESDAY_3AM = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
MONDAY_11PM = dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)

RULES = [
    # id, candidate overrides, request overrides, now, eligible, reason fragment
    ("active partner", {}, {}, MONDAY_9AM_AUSTIN, True, "serves TX"),
    ("paused partner", {"partner_active": False}, {}, MONDAY_9AM_AUSTIN, False, "partner paused"),
    ("licence unverified", {"license_verified": False}, {}, MONDAY_9AM_AUSTIN, False, "licence not verified"),
    ("under daily cap", {"daily_cap": 3, "calls_today": 2}, {}, MONDAY_9AM_AUSTIN, True, ""),
    ("at daily cap", {"daily_cap": 3, "calls_today": 3}, {}, MONDAY_9AM_AUSTIN, False, "daily cap reached (3/3"),
    ("at monthly cap", {"monthly_cap": 50, "calls_this_month": 50}, {}, MONDAY_9AM_AUSTIN, False, "monthly cap"),
    ("under monthly cap", {"monthly_cap": 50, "calls_this_month": 49}, {}, MONDAY_9AM_AUSTIN, True, ""),
    (
        "budget spent",
        {"monthly_budget_cents": 100_000, "spend_this_month_cents": 100_000},
        {},
        MONDAY_9AM_AUSTIN,
        False,
        "monthly budget reached ($1,000.00 of $1,000.00",
    ),
    (
        "budget left",
        {"monthly_budget_cents": 100_000, "spend_this_month_cents": 99_999},
        {},
        MONDAY_9AM_AUSTIN,
        True,
        "",
    ),
    ("at concurrent cap", {"concurrent_cap": 2, "active_calls": 2}, {}, MONDAY_9AM_AUSTIN, False, "concurrent"),
    ("under concurrent cap", {"concurrent_cap": 2, "active_calls": 1}, {}, MONDAY_9AM_AUSTIN, True, ""),
    ("service lacking", {"services": frozenset({"outpatient"})}, {}, MONDAY_9AM_AUSTIN, False, "does not offer detox"),
    ("caller unsure: any service", {"services": frozenset({"iop"})}, {"service": "unsure"}, MONDAY_9AM_AUSTIN, True,
     "any service"),
    # Areas.
    ("other state", {"service_states": frozenset({"OK"})}, {}, MONDAY_9AM_AUSTIN, False, "outside service area"),
    ("ZIP listed", {"service_states": frozenset(), "service_zips": frozenset({"78701"})}, {}, MONDAY_9AM_AUSTIN,
     True, "serves ZIP 78701"),
    ("ZIP not listed", {"service_states": frozenset(), "service_zips": frozenset({"78702"})}, {}, MONDAY_9AM_AUSTIN,
     False, "outside service area"),
    ("ZIP prefix", {"service_states": frozenset(), "service_zip_prefixes": frozenset({"787"})}, {},
     MONDAY_9AM_AUSTIN, True, "serves ZIP prefix 787"),
    ("other ZIP prefix", {"service_states": frozenset(), "service_zip_prefixes": frozenset({"752"})}, {},
     MONDAY_9AM_AUSTIN, False, "outside service area"),
    # Dallas is ~183 miles (great circle) from Austin.
    ("inside radius", {"service_states": frozenset(), "service_radius_miles": 200, "latitude": 32.7876,
                       "longitude": -96.7994}, {}, MONDAY_9AM_AUSTIN, True, "within its 200-mile radius"),
    ("outside radius", {"service_states": frozenset(), "service_radius_miles": 150, "latitude": 32.7876,
                        "longitude": -96.7994}, {}, MONDAY_9AM_AUSTIN, False, "150-mile radius (183 mi away)"),
    ("state known, ZIP-only area", {"service_states": frozenset(), "service_zip_prefixes": frozenset({"787"})},
     {"location": TX_BY_AREA_CODE}, MONDAY_9AM_AUSTIN, False, "no ZIP: only state-wide areas can match"),
    ("state known, radius area", {"service_states": frozenset(), "service_radius_miles": 500},
     {"location": TX_BY_AREA_CODE}, MONDAY_9AM_AUSTIN, False, "outside service area"),
    ("state known, state area", {}, {"location": TX_BY_AREA_CODE}, MONDAY_9AM_AUSTIN, True, "serves TX"),
    ("unknown location, one state", {}, {"location": UNKNOWN}, MONDAY_9AM_AUSTIN, False, "location unknown"),
    ("unknown location, nationwide", {"service_states": ALL_STATES}, {"location": UNKNOWN}, MONDAY_9AM_AUSTIN, True,
     "serves every state"),
    # Hours in the facility's own time zone.
    ("open within hours", {"open_24_7": False, "hours": weekday_hours()}, {}, MONDAY_9AM_AUSTIN, True, "open now"),
    ("before opening", {"open_24_7": False, "hours": weekday_hours()}, {}, MONDAY_7AM, False, "closed now"),
    ("at closing time", {"open_24_7": False, "hours": weekday_hours()}, {}, MONDAY_6PM, False, "closed now"),
    ("no hours at all", {"open_24_7": False, "hours": ()}, {}, MONDAY_9AM_AUSTIN, False, "closed now"),
    ("other weekday only", {"open_24_7": False, "hours": weekday_hours(days=[2])}, {}, MONDAY_9AM_AUSTIN, False,
     "closed now"),
    # 09:00 in Austin is 07:00 in Los Angeles.
    ("own time zone", {"open_24_7": False, "hours": weekday_hours(), "time_zone": "America/Los_Angeles"}, {},
     MONDAY_9AM_AUSTIN, False, "Mon 07:00 America/Los_Angeles"),
    ("past midnight, after midnight", {"open_24_7": False, "hours": (Span(0, dt.time(20), dt.time(2)),)}, {},
     TUESDAY_1AM, True, "Mon 20:00–02:00"),
    ("past midnight, before midnight", {"open_24_7": False, "hours": (Span(0, dt.time(20), dt.time(2)),)}, {},
     MONDAY_11PM, True, "open now"),
    ("past midnight, after it closes", {"open_24_7": False, "hours": (Span(0, dt.time(20), dt.time(2)),)}, {},
     TUESDAY_3AM, False, "closed now"),
    ("until midnight", {"open_24_7": False, "hours": (Span(0, dt.time(20), dt.time(0)),)}, {}, MONDAY_11PM, True,
     "open now"),
    ("closed date", {"open_24_7": False, "hours": weekday_hours(), "closed_dates": frozenset({dt.date(2026, 11, 23)})},
     {}, MONDAY_9AM_AUSTIN, False, "2026-11-23 is a closed date"),
    ("closed date 24/7", {"closed_dates": frozenset({dt.date(2026, 11, 23)})}, {}, MONDAY_9AM_AUSTIN, False,
     "closed today"),
    ("closed date is local, not UTC", {"closed_dates": frozenset({dt.date(2026, 11, 24)})}, {}, MONDAY_11PM, True,
     "open 24/7"),
    ("overnight span of a closed day", {"open_24_7": False, "hours": (Span(0, dt.time(20), dt.time(2)),),
                                        "closed_dates": frozenset({dt.date(2026, 11, 23)})}, {}, TUESDAY_1AM, False,
     "2026-11-23 is a closed date"),
    ("bad time zone", {"time_zone": "Mars/Olympus"}, {}, MONDAY_9AM_AUSTIN, False, "unknown time zone"),
    ("closed but hours not required", {"open_24_7": False, "hours": ()}, {"require_open": False}, MONDAY_9AM_AUSTIN,
     True, "not required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cand", "req", "now", "eligible", "fragment"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_eligibility_rule(cand, req, now, eligible, fragment):
    c = candidate(**cand)
    decision = decide(request(**req), [c], now, fallback=FALLBACK)
    if eligible:
        assert [x.facility_id for x in decision.choices] == [c.facility_id]
        assert fragment in decision.choices[0].reason
        assert decision.excluded == ()
    else:
        assert decision.choices == ()
        assert [x.facility_id for x in decision.excluded] == [c.facility_id]
        assert fragment in decision.excluded[0].reason
    assert decision.fallback == FALLBACK


def test_daylight_saving_time_is_the_facility_local_time():
    # 14:30 UTC on 2 Nov 2026 is 09:30 in New York after the clocks went back (EST), 10:30 the week before.
    c = candidate(open_24_7=False, hours=weekday_hours(dt.time(10), dt.time(17)), time_zone="America/New_York")
    after = decide(request(), [c], dt.datetime(2026, 11, 2, 14, 30, tzinfo=dt.UTC), fallback=FALLBACK)
    before = decide(request(), [c], dt.datetime(2026, 10, 26, 14, 30, tzinfo=dt.UTC), fallback=FALLBACK)
    assert after.choices == () and before.choices != ()


def test_nobody_eligible_gives_empty_choices_and_names_the_fallback():
    decision = decide(request(), [candidate(partner_active=False)], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert decision.choices == ()
    assert decision.fallback == FALLBACK
    assert any("nobody eligible" in n and FALLBACK in n for n in decision.notes)
    assert decide(request(), [], MONDAY_9AM_AUSTIN, fallback=FALLBACK).fallback == FALLBACK


def test_facility_rules_come_before_partner_rules_in_the_reason():
    # Facility-side reasons never depend on (possibly not freshly loaded) partner state.
    c = candidate(partner_active=False, license_verified=False, services=frozenset({"iop"}))
    assert decide(request(), [c], MONDAY_9AM_AUSTIN, fallback=FALLBACK).excluded[0].reason == "does not offer detox"
    c = candidate(partner_active=False, license_verified=False)
    assert decide(request(), [c], MONDAY_9AM_AUSTIN, fallback=FALLBACK).excluded[0].reason == "partner paused"


def test_partners_already_tried_in_the_call_are_never_chosen_again():
    tried, other = candidate(partner_id=41, priority=1), candidate(partner_id=42, priority=5)
    decision = decide(
        request(exclude_partner_ids=frozenset({41})), [tried, other], MONDAY_9AM_AUSTIN, fallback=FALLBACK
    )
    assert [c.partner_id for c in decision.choices] == [42]
    assert [(x.partner_id, x.reason) for x in decision.excluded] == [(41, "already tried in this call")]
    # A facility-side reason still comes first: it does not depend on the call.
    closed = candidate(partner_id=41, services=frozenset({"iop"}))
    excluded = decide(request(exclude_partner_ids=frozenset({41})), [closed], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert excluded.excluded[0].reason == "does not offer detox"


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="aware"):
        decide(request(), [candidate()], dt.datetime(2026, 11, 23, 9, 0), fallback=FALLBACK)  # noqa: DTZ001


# --- Language --------------------------------------------------------------


def test_language_narrows_to_facilities_that_speak_it():
    en = candidate(languages=frozenset({"en"}))
    es = candidate(languages=frozenset({"en", "es"}))
    decision = decide(request(language="es"), [en, es], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert [c.facility_id for c in decision.choices] == [es.facility_id]
    assert "speaks es" in decision.choices[0].reason
    assert decision.excluded[0].facility_id == en.facility_id
    assert "does not speak es" in decision.excluded[0].reason


def test_language_never_empties_the_list():
    en1, en2 = candidate(), candidate()
    decision = decide(request(language="es"), [en1, en2], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert {c.facility_id for c in decision.choices} == {en1.facility_id, en2.facility_id}
    assert any("no eligible facility speaks it" in n for n in decision.notes)


def test_language_only_counts_eligible_speakers():
    closed_speaker = candidate(languages=frozenset({"es"}), open_24_7=False, hours=())
    en = candidate()
    decision = decide(request(language="es"), [closed_speaker, en], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert [c.facility_id for c in decision.choices] == [en.facility_id]


# --- Listing numbers --------------------------------------------------------


def test_listing_call_goes_to_the_listing_facility_alone():
    listing = candidate(service_states=frozenset({"CA"}), services=frozenset({"iop"}))  # area/service not checked
    other = candidate()
    decision = decide(
        request(listing_facility_id=listing.facility_id), [other, listing], MONDAY_9AM_AUSTIN, fallback=FALLBACK
    )
    assert [c.facility_id for c in decision.choices] == [listing.facility_id]
    assert "listing" in decision.choices[0].reason
    assert [x.facility_id for x in decision.excluded] == [other.facility_id]
    assert decision.fallback == FALLBACK


def test_closed_listing_facility_falls_over_to_the_general_pool():
    listing = candidate(open_24_7=False, hours=())
    other = candidate()
    decision = decide(
        request(listing_facility_id=listing.facility_id), [listing, other], MONDAY_9AM_AUSTIN, fallback=FALLBACK
    )
    assert [c.facility_id for c in decision.choices] == [other.facility_id]
    assert any("listing facility" in n and "not available" in n and "closed" in n for n in decision.notes)
    assert decision.excluded[0].facility_id == listing.facility_id


@pytest.mark.parametrize(
    "overrides", [{"partner_active": False}, {"license_verified": False}, {"concurrent_cap": 1, "active_calls": 1}]
)
def test_listing_facility_still_needs_an_active_verified_partner_under_caps(overrides):
    listing = candidate(**overrides)
    decision = decide(request(listing_facility_id=listing.facility_id), [listing], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert decision.choices == ()
    assert any("not available" in n for n in decision.notes)


def test_unknown_listing_facility_routes_to_the_general_pool():
    other = candidate()
    decision = decide(request(listing_facility_id=999_999), [other], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert [c.facility_id for c in decision.choices] == [other.facility_id]
    assert any("not in the directory" in n for n in decision.notes)


# --- Order --------------------------------------------------------------------


def test_lower_priority_number_comes_first_whatever_the_weight():
    high = candidate(priority=1, weight=1)
    low = candidate(priority=2, weight=100)
    for key in range(50):
        decision = decide(request(rotation_key=key), [low, high], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
        assert [c.facility_id for c in decision.choices] == [high.facility_id, low.facility_id]


def test_one_facility_per_partner_the_most_specific_match():
    state_wide = candidate(partner_id=70, facility_id=701)
    by_zip = candidate(partner_id=70, facility_id=702, service_zips=frozenset({"78701"}))
    other = candidate(partner_id=71)
    decision = decide(request(), [state_wide, by_zip, other], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert sorted(c.facility_id for c in decision.choices) == sorted([702, other.facility_id])
    assert "same partner" in next(x.reason for x in decision.excluded if x.facility_id == 701)


def test_one_facility_per_partner_the_nearest_when_equally_specific():
    far = candidate(partner_id=80, facility_id=801, latitude=32.78, longitude=-96.80)  # Dallas
    near = candidate(partner_id=80, facility_id=802, latitude=30.27, longitude=-97.74)  # Austin
    decision = decide(request(), [far, near], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert [c.facility_id for c in decision.choices] == [802]


def test_list_is_cut_at_max_choices_and_the_rest_get_a_reason():
    cands = [candidate() for _ in range(8)]
    decision = decide(request(max_choices=3), cands, MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert len(decision.choices) == 3
    assert len(decision.excluded) == 5
    assert all("list is full" in x.reason for x in decision.excluded)


def test_rotation_is_deterministic():
    cands = [candidate(weight=w) for w in (1, 2, 3, 4)]
    a = decide(request(rotation_key=17), cands, MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    b = decide(request(rotation_key=17), list(reversed(cands)), MONDAY_9AM_AUSTIN, fallback=FALLBACK)
    assert a == b


def test_weight_three_gets_three_times_the_first_calls_of_weight_one():
    heavy = candidate(weight=3)
    light = candidate(weight=1)
    firsts = {heavy.partner_id: 0, light.partner_id: 0}
    for key in range(1, 401):  # a busy day in one area
        decision = decide(request(rotation_key=key), [light, heavy], MONDAY_9AM_AUSTIN, fallback=FALLBACK)
        firsts[decision.choices[0].partner_id] += 1
    assert firsts[heavy.partner_id] + firsts[light.partner_id] == 400
    assert abs(firsts[heavy.partner_id] - 300) <= 3  # within 1%, not merely on average
    # Short runs are fair too: every 20 consecutive calls split 15/5 give or take one.
    for start in range(1, 381, 20):
        n = sum(
            decide(request(rotation_key=k), [light, heavy], MONDAY_9AM_AUSTIN, fallback=FALLBACK).choices[0].partner_id
            == heavy.partner_id
            for k in range(start, start + 20)
        )
        assert 14 <= n <= 16
