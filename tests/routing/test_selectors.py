"""The compiled directory: the area index never misses a facility, and it follows every edit."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partners.models import Facility, Partner
from routing.engine import Candidate, Location, area_match
from routing.location import resolve_location
from routing.models import DirectoryVersion
from routing.selectors import CompiledDirectory, FacilityRecord, candidates_for, directory_cache
from routing.services import bump_directory_version
from tests.factories import FacilityFactory, OpeningHoursFactory, PartnerFactory

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_directory():
    directory_cache.clear()
    yield
    directory_cache.clear()


# --- The index is a superset of what area_match accepts ----------------------

coords = st.tuples(st.floats(18, 65), st.floats(-165, -66))


@st.composite
def records(draw, fid):
    lat, lon = draw(coords)
    return FacilityRecord(
        facility_id=fid, facility_name="F", partner_id=fid, phone="+15125550100", services=frozenset({"detox"}),
        languages=frozenset({"en"}), time_zone="America/Chicago", open_24_7=True, hours=(), closed_dates=frozenset(),
        latitude=lat, longitude=lon,
        service_states=draw(st.frozensets(st.sampled_from(["TX", "AK", "NY", "ME"]), max_size=2)),
        service_zips=draw(st.frozensets(st.sampled_from(["78701", "99501", "10001"]), max_size=2)),
        service_zip_prefixes=draw(st.frozensets(st.sampled_from(["787", "995", "100", "040"]), max_size=2)),
        service_radius_miles=draw(st.one_of(st.none(), st.integers(1, 600))),
    )  # fmt: skip


def as_candidate(r: FacilityRecord) -> Candidate:
    return Candidate(
        facility_id=r.facility_id, facility_name=r.facility_name, partner_id=r.partner_id, partner_name="P",
        phone=r.phone, partner_active=True, license_verified=True, priority=1, weight=1, services=r.services,
        languages=r.languages, time_zone=r.time_zone, open_24_7=r.open_24_7, hours=r.hours,
        closed_dates=r.closed_dates, latitude=r.latitude, longitude=r.longitude, service_states=r.service_states,
        service_zips=r.service_zips, service_zip_prefixes=r.service_zip_prefixes,
        service_radius_miles=r.service_radius_miles,
    )  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_area_index_never_misses_a_facility_whose_area_holds_the_caller(data):
    directory = CompiledDirectory(version=1, built_on=dt.date(2026, 11, 23))
    recs = [data.draw(records(i)) for i in range(1, 30)]
    for r in recs:
        directory.add(r)
    lat, lon = data.draw(coords)
    loc = data.draw(
        st.sampled_from(
            [
                Location(zip_code="78701", state="TX", latitude=lat, longitude=lon),
                Location(zip_code="99501", state="AK", latitude=lat, longitude=lon),
                Location(state="NY"),
                Location(),
            ]
        )
    )
    found = directory.area_facility_ids(loc)
    for r in recs:
        if area_match(as_candidate(r), loc) is not None:
            assert r.facility_id in found, (r, loc)


def test_radius_near_a_cell_edge_and_far_north():
    directory = CompiledDirectory(version=1, built_on=dt.date(2026, 11, 23))
    anchorage = FacilityRecord(
        facility_id=1, facility_name="F", partner_id=1, phone="", services=frozenset(), languages=frozenset(),
        time_zone="America/Anchorage", open_24_7=True, hours=(), closed_dates=frozenset(), latitude=61.2181,
        longitude=-149.9003, service_states=frozenset(), service_zips=frozenset(), service_zip_prefixes=frozenset(),
        service_radius_miles=120,
    )  # fmt: skip
    directory.add(anchorage)
    # Talkeetna is ~100 miles north and in a different 1° cell on both axes.
    talkeetna = Location(zip_code="99676", state="AK", latitude=62.32, longitude=-150.11)
    assert 1 in directory.area_facility_ids(talkeetna)
    assert math.floor(talkeetna.latitude) != math.floor(anchorage.latitude)


# --- Loaded from the database --------------------------------------------------


@pytest.mark.django_db
def test_candidates_come_from_the_area_index_with_live_partner_state():
    austin = FacilityFactory(service_states=[], service_zip_prefixes=["787"], open_24_7=False)
    OpeningHoursFactory(facility=austin, weekday=0)
    FacilityFactory(state="OH", service_states=["OH"])
    nationwide = FacilityFactory(service_states=sorted(__import__("routing.engine").engine.NATIONWIDE))
    loc = resolve_location(given_zip="78701")
    found = {c.facility_id: c for c in candidates_for(location=loc, now=NOW)}
    assert set(found) == {austin.pk, nationwide.pk}
    assert found[austin.pk].hours[0].opens == dt.time(8)
    assert found[austin.pk].service_zip_prefixes == frozenset({"787"})
    # Unknown location: only the nationwide facility is considered.
    assert [c.facility_id for c in candidates_for(location=Location(), now=NOW)] == [nationwide.pk]


@pytest.mark.django_db
def test_a_pause_written_with_update_is_seen_at_once():
    facility = FacilityFactory()
    loc = resolve_location(given_zip="78701")
    assert candidates_for(location=loc, now=NOW)[0].partner_active
    Partner.objects.filter(pk=facility.partner_id).update(status="paused")  # no signal
    assert not candidates_for(location=loc, now=NOW)[0].partner_active


@pytest.mark.django_db
def test_facility_save_and_delete_recompile_the_directory():
    facility = FacilityFactory()
    loc = resolve_location(given_zip="78701")
    assert [c.facility_id for c in candidates_for(location=loc, now=NOW)] == [facility.pk]
    version = DirectoryVersion.objects.get().version
    facility.service_states = ["OK"]
    facility.save()
    assert DirectoryVersion.objects.get().version > version
    assert candidates_for(location=loc, now=NOW) == []
    facility.service_states = ["TX"]
    facility.save()
    OpeningHoursFactory(facility=facility)
    facility.refresh_from_db()
    facility.open_24_7 = False
    facility.save()
    assert candidates_for(location=loc, now=NOW)[0].hours != ()
    facility.delete()
    assert candidates_for(location=loc, now=NOW) == []


@pytest.mark.django_db
def test_bulk_writes_need_bump_directory_version():
    loc = resolve_location(given_zip="78701")
    partner = PartnerFactory()
    assert candidates_for(location=loc, now=NOW) == []
    Facility.objects.bulk_create(
        [
            Facility(partner=partner, name="Bulk", slug="bulk", address_line="1 A St", city="Austin", state="TX",
                     zip_code="78701", latitude=30.27, longitude=-97.74, phone="+15125550199",
                     services=["detox"], languages=["en"], service_states=["TX"], open_24_7=True)
        ]
    )  # fmt: skip
    assert candidates_for(location=loc, now=NOW) == []  # the compiled copy does not know yet
    bump_directory_version()
    assert [c.facility_name for c in candidates_for(location=loc, now=NOW)] == ["Bulk"]


@pytest.mark.django_db
def test_inactive_facilities_are_not_candidates():
    FacilityFactory(is_active=False)
    assert candidates_for(location=resolve_location(given_zip="78701"), now=NOW) == []


@pytest.mark.django_db
def test_listing_facility_is_loaded_even_outside_the_callers_area():
    listing = FacilityFactory(state="CA", service_states=["CA"])
    loc = resolve_location(given_zip="78701")
    ids = [c.facility_id for c in candidates_for(location=loc, now=NOW, listing_facility_id=listing.pk)]
    assert ids == [listing.pk]


@pytest.mark.django_db
def test_counters_of_an_earlier_day_read_as_zero():
    from routing.services import claim_leg

    facility = FacilityFactory(partner=PartnerFactory(daily_call_cap=1, concurrent_call_cap=5))
    assert claim_leg(partner_id=facility.partner_id, now=NOW - dt.timedelta(days=1))
    c = candidates_for(location=resolve_location(given_zip="78701"), now=NOW)[0]
    assert (c.calls_today, c.calls_this_month, c.active_calls) == (0, 1, 1)


@pytest.mark.django_db
def test_candidate_loading_takes_two_queries_whatever_the_directory_size(django_assert_max_num_queries):
    for _ in range(30):
        FacilityFactory()
    loc = resolve_location(given_zip="78701")
    candidates_for(location=loc, now=NOW)  # compile once
    with django_assert_max_num_queries(2):
        assert len(candidates_for(location=loc, now=NOW)) == 30
