"""Property-based tests of engine.decide: the invariants hold for any directory and any moment.

The oracles below are written independently of the engine (plain loops over
local time and geometry), so a bug in the engine's helpers cannot hide here.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine import Candidate, Location, RouteRequest, Span, decide
from tests.routing.builders import FALLBACK

SERVICES = ["detox", "residential", "outpatient", "iop", "php", "mat", "dual_diagnosis"]
STATES = ["TX", "OK", "NY", "CA"]
ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Denver", "America/Phoenix"]
ALL_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VA WA WV WI WY".split()
)
LOCATIONS = [
    Location(zip_code="78701", state="TX", latitude=30.2713, longitude=-97.7426, source="zip"),
    Location(zip_code="73102", state="OK", latitude=35.4709, longitude=-97.5187, source="zip"),
    Location(zip_code="10001", state="NY", latitude=40.7484, longitude=-73.9967, source="twilio"),
    Location(state="TX", source="area_code"),
    Location(),
]
PLACES = [(30.27, -97.74), (32.78, -96.80), (35.47, -97.52), (40.75, -73.99), (34.05, -118.24)]

times = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 30]))


@st.composite
def candidates(draw, facility_id: int) -> Candidate:
    lat, lon = draw(st.sampled_from(PLACES))
    cap = st.one_of(st.none(), st.integers(0, 5))
    states = draw(st.one_of(st.frozensets(st.sampled_from(STATES), max_size=2), st.just(ALL_STATES)))
    return Candidate(
        facility_id=facility_id,
        facility_name=f"F{facility_id}",
        partner_id=draw(st.integers(1, 6)),
        partner_name="P",
        phone="+15125550100",
        partner_active=draw(st.booleans()),
        license_verified=draw(st.booleans()),
        priority=draw(st.integers(1, 3)),
        weight=draw(st.integers(1, 5)),
        services=draw(st.frozensets(st.sampled_from(SERVICES), min_size=1)),
        languages=draw(st.frozensets(st.sampled_from(["en", "es"]), min_size=1)),
        time_zone=draw(st.sampled_from(ZONES)),
        open_24_7=draw(st.booleans()),
        hours=tuple(
            Span(wd, o, c)
            for wd, o, c in draw(st.lists(st.tuples(st.integers(0, 6), times, times), max_size=4))
            if o != c
        ),
        closed_dates=draw(st.frozensets(st.dates(dt.date(2026, 11, 20), dt.date(2026, 11, 30)), max_size=2)),
        latitude=lat,
        longitude=lon,
        service_states=states,
        service_zips=draw(st.frozensets(st.sampled_from(["78701", "73102", "10001", "75201"]), max_size=2)),
        service_zip_prefixes=draw(st.frozensets(st.sampled_from(["787", "731", "100", "752"]), max_size=2)),
        service_radius_miles=draw(st.one_of(st.none(), st.sampled_from([10, 100, 250, 2000]))),
        daily_cap=draw(cap),
        calls_today=draw(st.integers(0, 6)),
        monthly_cap=draw(cap),
        calls_this_month=draw(st.integers(0, 6)),
        concurrent_cap=draw(cap),
        active_calls=draw(st.integers(0, 6)),
        monthly_budget_cents=draw(st.one_of(st.none(), st.integers(0, 10_000))),
        spend_this_month_cents=draw(st.integers(0, 10_000)),
    )


@st.composite
def scenarios(draw):
    n = draw(st.integers(0, 12))
    cands = [draw(candidates(i + 1)) for i in range(n)]
    req = RouteRequest(
        service=draw(st.sampled_from([*SERVICES, "unsure"])),
        location=draw(st.sampled_from(LOCATIONS)),
        language=draw(st.sampled_from(["", "en", "es"])),
        listing_facility_id=draw(st.one_of(st.none(), st.integers(1, 14))),
        require_open=draw(st.booleans()),
        rotation_key=draw(st.integers(0, 10**9)),
        max_choices=draw(st.integers(1, 6)),
    )
    now = draw(st.datetimes(dt.datetime(2026, 11, 21), dt.datetime(2026, 11, 29))).replace(tzinfo=dt.UTC)
    return req, cands, now


def miles(lat1, lon1, lat2, lon2):
    # Spherical law of cosines: a different formula from the engine's haversine.
    a1, a2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(a1) * math.sin(a2) + math.cos(a1) * math.cos(a2) * math.cos(dl)
    return 3958.7613 * math.acos(max(-1.0, min(1.0, c)))


def in_area(c: Candidate, loc: Location) -> bool:
    if not loc.state:
        return c.service_states >= ALL_STATES
    if loc.state in c.service_states:
        return True
    if loc.zip_code and (loc.zip_code in c.service_zips or loc.zip_code[:3] in c.service_zip_prefixes):
        return True
    return (
        c.service_radius_miles is not None
        and loc.latitude is not None
        and loc.longitude is not None
        and miles(loc.latitude, loc.longitude, c.latitude, c.longitude) <= c.service_radius_miles + 1e-6
    )


def is_open(c: Candidate, now: dt.datetime) -> bool:
    local = now.astimezone(zoneinfo.ZoneInfo(c.time_zone)).replace(tzinfo=None)
    if c.open_24_7:
        return local.date() not in c.closed_dates
    for span in c.hours:
        # Each span as concrete local intervals starting on this week's and last week's matching days.
        for back in range(0, 8):
            start_day = local.date() - dt.timedelta(days=back)
            if start_day.weekday() != span.weekday or start_day in c.closed_dates:
                continue
            start = dt.datetime.combine(start_day, span.opens)
            end = dt.datetime.combine(start_day, span.closes)
            if end <= start:
                end += dt.timedelta(days=1)
            if start <= local < end:
                return True
    return False


def over_a_cap(c: Candidate) -> bool:
    return (
        (c.daily_cap is not None and c.calls_today >= c.daily_cap)
        or (c.monthly_cap is not None and c.calls_this_month >= c.monthly_cap)
        or (c.concurrent_cap is not None and c.active_calls >= c.concurrent_cap)
        or (c.monthly_budget_cents is not None and c.spend_this_month_cents >= c.monthly_budget_cents)
    )


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_invariants(scenario):
    req, cands, now = scenario
    decision = decide(req, cands, now, fallback=FALLBACK)
    by_id = {c.facility_id: c for c in cands}

    # Every candidate is accounted for exactly once, each with a reason.
    chosen_ids = [c.facility_id for c in decision.choices]
    excluded_ids = [x.facility_id for x in decision.excluded]
    assert sorted(chosen_ids + excluded_ids) == sorted(by_id)
    assert all(c.reason for c in decision.choices) and all(x.reason for x in decision.excluded)
    assert decision.fallback == FALLBACK
    assert decision.considered == len(cands)

    # Never the same partner twice, never more than asked for.
    partners = [c.partner_id for c in decision.choices]
    assert len(partners) == len(set(partners))
    assert len(decision.choices) <= max(1, req.max_choices)

    for choice in decision.choices:
        c = by_id[choice.facility_id]
        listing = c.facility_id == req.listing_facility_id
        assert c.partner_active, "paused partner chosen"
        assert c.license_verified, "unverified partner chosen"
        assert not over_a_cap(c), "partner over a cap chosen"
        if req.require_open:
            assert is_open(c, now), "closed facility chosen"
        if not listing:
            assert req.service == "unsure" or req.service in c.services, "facility lacking the service chosen"
            assert in_area(c, req.location), "out-of-area facility chosen"

    # A listing call that reached its facility goes there alone.
    if req.listing_facility_id in chosen_ids:
        assert chosen_ids == [req.listing_facility_id]
    else:
        # Priorities are in order (lower number first).
        priorities = [by_id[i].priority for i in chosen_ids]
        assert priorities == sorted(priorities)
        # Language narrows but never empties.
        if req.language and decision.choices:
            speakers = [i for i in chosen_ids if req.language in by_id[i].languages]
            assert speakers == chosen_ids or not speakers

    if not decision.choices:
        assert any("nobody eligible" in n for n in decision.notes)

    # Pure: the same input gives the same decision.
    assert decide(req, cands, now, fallback=FALLBACK) == decision


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=5), st.integers(0, 10**6))
def test_weights_are_respected_over_a_day_of_calls(weights, start):
    cands = [
        Candidate(
            facility_id=i + 1, facility_name=f"F{i}", partner_id=i + 1, partner_name=f"P{i}", phone="+15125550100",
            partner_active=True, license_verified=True, priority=1, weight=w, services=frozenset({"detox"}),
            languages=frozenset({"en"}), time_zone="America/Chicago", open_24_7=True, hours=(),
            closed_dates=frozenset(), latitude=30.27, longitude=-97.74, service_states=frozenset({"TX"}),
            service_zips=frozenset(), service_zip_prefixes=frozenset(), service_radius_miles=None,
        )
        for i, w in enumerate(weights)
    ]  # fmt: skip
    calls = 1000
    firsts = dict.fromkeys(range(1, len(weights) + 1), 0)
    now = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
    for key in range(start + 1, start + calls + 1):
        decision = decide(RouteRequest(service="detox", location=LOCATIONS[0], rotation_key=key), cands, now,
                          fallback=FALLBACK)  # fmt: skip
        firsts[decision.choices[0].partner_id] += 1
    total = sum(weights)
    for i, w in enumerate(weights):
        expected = calls * w / total
        assert abs(firsts[i + 1] - expected) <= 0.02 * calls, (weights, firsts)
