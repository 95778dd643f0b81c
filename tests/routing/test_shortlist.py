"""The shortlist: examining only part of the area gives exactly the decision of the full computation.

``selectors.walk_directory`` walks the area's facilities for the service in
priority order and stops at a tier boundary once enough partners are eligible;
the oracle is ``decide`` run over the whole directory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from partners.models import Partner
from routing.engine import Candidate, RouteRequest, decide
from routing.location import resolve_location
from routing.selectors import (
    EXCLUDED_SAMPLE,
    NOT_EXAMINED_LOWER_TIER,
    CompiledDirectory,
    FacilityRecord,
    directory_cache,
    reason_category,
    walk_directory,
)
from routing.services import EXCLUDED_KEPT, route
from tests.factories import FacilityFactory, PartnerFactory
from tests.routing.builders import FALLBACK
from tests.routing.test_engine_properties import LOCATIONS, SERVICES
from tests.routing.test_engine_properties import candidates as facility_candidates

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_directory():
    directory_cache.clear()
    yield
    directory_cache.clear()


def record_of(c: Candidate) -> FacilityRecord:
    return FacilityRecord(
        facility_id=c.facility_id, facility_name=c.facility_name, partner_id=c.partner_id, phone=c.phone,
        services=c.services, languages=c.languages, time_zone=c.time_zone, open_24_7=c.open_24_7, hours=c.hours,
        closed_dates=c.closed_dates, latitude=c.latitude, longitude=c.longitude, service_states=c.service_states,
        service_zips=c.service_zips, service_zip_prefixes=c.service_zip_prefixes,
        service_radius_miles=c.service_radius_miles, priority=c.priority, weight=c.weight,
    )  # fmt: skip


@st.composite
def directories(draw):
    """Facilities whose partner terms and live state are per partner (as in the database)."""
    n = draw(st.integers(0, 40))
    raw = [draw(facility_candidates(i + 1)) for i in range(n)]
    partners: dict[int, Candidate] = {}
    out = []
    for c in raw:
        if c.service_radius_miles and c.service_radius_miles > 700:
            # Same cases (a radius holding every test location or not) at a fraction of the index-building cost.
            c = dataclasses.replace(c, service_radius_miles=draw(st.sampled_from([700, 1700])))
        pid = draw(st.integers(1, 15))
        first = partners.setdefault(pid, c)
        out.append(
            dataclasses.replace(
                c, partner_id=pid, partner_name=f"P{pid}", priority=draw(st.sampled_from([1, 2, 3, 5]))
                if first is c else first.priority, weight=first.weight, partner_active=first.partner_active,
                license_verified=first.license_verified, daily_cap=first.daily_cap, calls_today=first.calls_today,
                monthly_cap=first.monthly_cap, calls_this_month=first.calls_this_month,
                concurrent_cap=first.concurrent_cap, active_calls=first.active_calls,
                monthly_budget_cents=first.monthly_budget_cents, spend_this_month_cents=first.spend_this_month_cents,
            )
        )  # fmt: skip
        if first is c:
            partners[pid] = out[-1]
    return out


def compiled(cands: list[Candidate]) -> CompiledDirectory:
    directory = CompiledDirectory(version=1, built_on=NOW.date(), token=7)
    for c in cands:
        directory.add(record_of(c))
        # The compiled copy's partner state is stale on purpose: the walk must use the loader's.
        directory.static[c.facility_id] = dataclasses.replace(c, partner_active=True, active_calls=0)
    return directory


@settings(max_examples=150, deadline=None)
@given(
    directories(),
    st.sampled_from([*SERVICES, "unsure"]),
    st.sampled_from(LOCATIONS),
    st.sampled_from(["", "en", "es"]),
    st.one_of(st.none(), st.integers(1, 42)),
    st.booleans(),
    st.integers(1, 10**9),
    st.integers(1, 6),
    st.datetimes(dt.datetime(2026, 11, 21), dt.datetime(2026, 11, 29)),
    st.frozensets(st.integers(1, 15), max_size=5),
)
def test_shortlist_gives_the_same_choices_as_the_whole_directory(
    cands, service, location, language, listing, require_open, key, max_choices, now, tried
):
    now = now.replace(tzinfo=dt.UTC)
    req = RouteRequest(
        service=service, location=location, language=language, listing_facility_id=listing,
        require_open=require_open, rotation_key=key, max_choices=max_choices, exclude_partner_ids=tried,
    )  # fmt: skip
    by_id = {c.facility_id: c for c in cands}
    directory = compiled(cands)
    reads: list[list[int]] = []

    def loader(_directory, records, _now):
        reads.append([r.facility_id for r in records])
        return {r.facility_id: by_id[r.facility_id] for r in records}, (1, 7)

    short = walk_directory(directory, request=req, now=now, loader=loader, expect=(1, 7))
    full = decide(req, cands, now, fallback=FALLBACK)
    part = decide(req, short.candidates, now, fallback=FALLBACK)

    assert part.choices == full.choices
    assert not {c.partner_id for c in full.choices} & tried
    assert len(reads) == short.rounds <= 2
    assert len(short.excluded) <= EXCLUDED_SAMPLE
    if listing is None:
        # Every facility in the area index is accounted for: handed to decide() or counted with a reason.
        assert len(short.candidates) + sum(short.counts.values()) == short.in_area
    # Only facilities that passed the facility-side rules had their partner read.
    for fid in (f for batch in reads for f in batch):
        assert fid == listing or fid in {c.facility_id for c in short.candidates}


def _austin_detox(**kw) -> RouteRequest:
    return RouteRequest(service="detox", location=resolve_location(given_zip="78701"), **kw)


@pytest.mark.django_db
def test_lower_tiers_are_not_examined_once_the_list_is_full(django_assert_num_queries):
    # Enough top-tier partners for the list and the spares read with it (max_choices + SPARE_PARTNERS).
    top = [FacilityFactory(partner=PartnerFactory(priority=1)) for _ in range(6)]
    for _ in range(12):
        FacilityFactory(partner=PartnerFactory(priority=5))
    route(request=_austin_detox(rotation_key=1, max_choices=3), kind="call", now=NOW)  # compile
    with django_assert_num_queries(2):  # live partners (with the directory key), the decision row
        record, decision = route(request=_austin_detox(rotation_key=1, max_choices=3), kind="call", now=NOW)
    assert len(decision.choices) == 3
    assert {c.facility_id for c in decision.choices} <= {f.pk for f in top}
    assert record.considered_count == 6
    summary = {row["reason"]: row["count"] for row in record.excluded_summary}
    assert summary[NOT_EXAMINED_LOWER_TIER] == 12
    assert summary["eligible, but the list is full"] == 3


@pytest.mark.django_db
def test_paused_top_tier_makes_a_second_read_and_the_next_tier_is_used(django_assert_num_queries):
    for _ in range(6):
        FacilityFactory(partner=PartnerFactory(priority=1))
    lower = {FacilityFactory(partner=PartnerFactory(priority=5)).pk for _ in range(3)}
    route(request=_austin_detox(rotation_key=1, max_choices=3), kind="call", now=NOW)  # compile
    Partner.objects.filter(priority=1).update(status="paused")  # live state: no directory bump needed
    with django_assert_num_queries(3):  # two partner reads, the decision row
        record, decision = route(request=_austin_detox(rotation_key=1, max_choices=3), kind="call", now=NOW)
    assert {c.facility_id for c in decision.choices} == lower
    summary = {row["reason"]: row["count"] for row in record.excluded_summary}
    assert summary["partner paused"] == 6


@pytest.mark.django_db
def test_partners_already_tried_are_left_out_and_the_next_tier_is_read_at_once(django_assert_num_queries):
    top = [FacilityFactory(partner=PartnerFactory(priority=1)) for _ in range(6)]
    lower = {FacilityFactory(partner=PartnerFactory(priority=5)).pk for _ in range(3)}
    tried = frozenset(f.partner_id for f in top)
    route(request=_austin_detox(rotation_key=1, max_choices=3), kind="call", now=NOW)  # compile
    with django_assert_num_queries(2):  # the tried partners are not read: one partner read, the decision row
        record, decision = route(
            request=_austin_detox(rotation_key=1, max_choices=3, exclude_partner_ids=tried), kind="call", now=NOW
        )
    assert {c.facility_id for c in decision.choices} == lower
    summary = {row["reason"]: row["count"] for row in record.excluded_summary}
    assert summary["already tried in this call"] == 6
    assert {x["partner_id"] for x in record.excluded if x["reason"] == "already tried in this call"} == tried


@pytest.mark.django_db
def test_stored_exclusions_are_bounded_and_counted_per_reason():
    for _ in range(30):
        FacilityFactory(services=["outpatient"])  # lacks detox: counted, never examined
    for _ in range(40):
        FacilityFactory(open_24_7=False)  # no opening hours: closed now
    for _ in range(5):
        FacilityFactory(partner=PartnerFactory(status="paused"))
    chosen = FacilityFactory()
    record, decision = route(request=_austin_detox(), kind="call", now=NOW)
    assert [c.facility_id for c in decision.choices] == [chosen.pk]
    assert len(record.excluded) == EXCLUDED_KEPT
    # The engine's own exclusions (partner side) come first, then the facility-side sample.
    assert [x["reason"] for x in record.excluded[:5]] == ["partner paused"] * 5
    assert all(x["reason"].startswith("closed now") for x in record.excluded[5:])
    assert record.excluded_summary == [
        {"reason": "closed now", "count": 40},
        {"reason": "does not offer detox (not examined)", "count": 30},
        {"reason": "partner paused", "count": 5},
    ]
    assert record.considered_count == 46  # the 30 without detox were never examined


def test_reason_category_drops_the_particulars():
    assert reason_category("closed now (local Mon 09:00 America/Chicago)") == "closed now"
    assert reason_category("daily cap reached (3/3 calls today)") == "daily cap reached"
    assert reason_category("listing call for X: goes to it alone") == "listing call for X"
    assert reason_category("partner paused") == "partner paused"


@pytest.mark.django_db
def test_a_version_number_reused_after_a_rollback_does_not_serve_the_old_directory():
    """A rolled-back bump hands the same version number out again; the token tells the two apart."""
    first = FacilityFactory()
    assert [c.facility_id for c in route(request=_austin_detox(), kind="call", now=NOW)[1].choices] == [first.pk]
    first.partner.status = "paused"
    first.partner.save()  # bump: the directory moves on
    try:
        with transaction.atomic():
            ghost = FacilityFactory(name="Rolled back")  # bumps to version v+1
            decision = route(request=_austin_detox(), kind="call", now=NOW)[1]
            assert [c.facility_id for c in decision.choices] == [ghost.pk]  # compiled at v+1 with the ghost
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    FacilityFactory(name="Committed")  # bumps to v+1 again: the same number, another directory
    decision = route(request=_austin_detox(), kind="call", now=NOW)[1]
    assert [c.facility_name for c in decision.choices] == ["Committed"]
