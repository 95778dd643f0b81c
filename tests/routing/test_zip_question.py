"""The ZIP question rule (routing.zip_question): ask only when the ZIP could change who answers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routing.engine import NATIONWIDE, Location
from routing.location import resolve_location
from routing.selectors import compiled_directory, directory_cache
from routing.zip_question import zip_question
from tests.factories import FacilityFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.UTC)
ILLINOIS = Location(state="IL", source="area_code", label="area code 312, IL")


@pytest.fixture(autouse=True)
def fresh_directory():
    directory_cache.clear()
    yield
    directory_cache.clear()


def ask(location: Location = ILLINOIS, service: str = "residential", **kwargs) -> bool:
    return zip_question(location=location, service=service, now=NOW, **kwargs).ask


def test_a_prefix_area_inside_the_state_makes_the_zip_worth_asking():
    FacilityFactory(state="IL", service_states=[], service_zip_prefixes=["606"], services=["residential"])
    assert ask()
    assert not ask(service="detox")  # nobody with a finer area offers detox, and nobody offers it at all


def test_a_radius_reaching_across_a_state_line_counts_for_the_neighbouring_state():
    # Gary, Indiana, 25 miles: its circle reaches Chicago's cells.
    FacilityFactory(
        state="IN", latitude=41.59, longitude=-87.35, service_states=[], service_radius_miles=25,
        services=["residential"],
    )  # fmt: skip
    FacilityFactory(service_states=["TX"], services=["residential"])
    assert ask()
    assert ask(Location(state="IN", source="twilio", label="IN"))
    assert not ask(Location(state="TX", source="twilio", label="TX"))


def test_a_facility_serving_the_whole_state_as_well_adds_nothing():
    FacilityFactory(service_states=["IL"], service_zip_prefixes=["606"], services=["residential"])
    assert not ask()


def test_zip_list_areas_count_for_the_state_of_their_zips():
    FacilityFactory(service_states=["IL"], services=["residential"])
    FacilityFactory(service_states=[], service_zips=["46320"], services=["residential"])  # Hammond, IN
    assert not ask()
    assert ask(Location(state="IN", source="twilio", label="IN"))


def test_nobody_at_state_level_asks_only_if_someone_elsewhere_offers_the_service():
    FacilityFactory(service_states=["WI"], services=["residential"])
    assert ask(routed=True, first_facility_id=None)  # the area code may not be where the caller is
    assert not ask(service="detox", routed=True, first_facility_id=None)
    assert zip_question(location=ILLINOIS, service="detox", now=NOW).reason.startswith("no facility offers")


def test_the_state_level_decision_found_empty_after_routing_asks():
    statewide = FacilityFactory(service_states=["IL"], services=["residential"])
    assert not ask(routed=True, first_facility_id=statewide.pk)
    assert ask(routed=True, first_facility_id=None)


def test_a_finer_area_in_a_lower_tier_than_the_first_choice_cannot_change_the_first_dial():
    statewide = FacilityFactory(service_states=["IL"], services=["residential"], partner__priority=1)
    local = FacilityFactory(
        state="IL", service_states=[], service_zip_prefixes=["606"], services=["residential"], partner__priority=5
    )
    assert ask()  # not routed yet: every tier counts
    assert not ask(routed=True, first_facility_id=statewide.pk)
    local.partner.priority = 1
    local.partner.save()
    directory_cache.clear()
    assert ask(routed=True, first_facility_id=statewide.pk)  # same tier: the rotation may pick it


def test_a_closed_finer_area_facility_does_not_ask():
    FacilityFactory(service_states=["IL"], services=["residential"])
    FacilityFactory(
        state="IL", service_states=[], service_zip_prefixes=["606"], services=["residential"], open_24_7=False
    )  # no opening hours: closed
    assert not ask()


def test_never_twice_never_with_a_zip():
    FacilityFactory(state="IL", service_states=[], service_zip_prefixes=["606"], services=["residential"])
    assert not ask(asked_before=True)
    assert not ask(resolve_location(given_zip="60601"))


def test_unknown_location_asks_when_any_facility_serves_less_than_every_state():
    FacilityFactory(service_states=sorted(NATIONWIDE), services=["residential"])
    nowhere = Location()
    assert not ask(nowhere)
    FacilityFactory(service_states=["TX"], services=["residential"])
    directory_cache.clear()
    assert ask(nowhere)


def test_an_open_listing_facility_answers_whatever_the_zip():
    listing = FacilityFactory(service_states=["IL"], services=["residential"])
    FacilityFactory(state="IL", service_states=[], service_zip_prefixes=["606"], services=["residential"])
    assert not ask(listing_facility_id=listing.pk)
    assert ask(listing_facility_id=None)


def test_the_rule_costs_no_query_once_the_directory_is_compiled():
    FacilityFactory(state="IL", service_states=[], service_zip_prefixes=["606"], services=["residential"])
    compiled_directory(now=NOW)
    with CaptureQueriesContext(connection) as queries:
        for service in ("residential", "detox", "unsure"):
            zip_question(location=ILLINOIS, service=service, now=NOW)
    assert len(queries) == 0


# --- The first dial, ZIP by ZIP (a decision to compare: choices and the rotation key) -----------------

AUSTIN = Location(state="TX", source="area_code", label="area code 512, TX")


def first_dial(location: Location, service: str, key: int, language: str = "") -> int | None:
    """The engine's own first choice (the oracle), at the rotation key the call was routed with."""
    from routing.engine import RouteRequest, decide
    from routing.selectors import candidates_for

    request = RouteRequest(service=service, location=location, rotation_key=key, language=language, max_choices=5)
    decision = decide(request, candidates_for(location=location, now=NOW, service=service), NOW, fallback="")
    return decision.choices[0].facility_id if decision.choices else None


def question(key: int, service: str = "residential", language: str = ""):
    first = first_dial(AUSTIN, service, key, language)
    return zip_question(
        location=AUSTIN, service=service, now=NOW, routed=True, choices=[first] if first else [],
        rotation_key=key, language=language, max_choices=5, area_code="512",
    )  # fmt: skip


def test_a_local_partner_dialed_first_for_most_of_the_area_code_asks():
    FacilityFactory(service_states=["TX"], services=["residential"], partner__priority=5)
    FacilityFactory(
        service_states=[], service_zip_prefixes=["786", "787"], services=["residential"], partner__priority=1
    )  # 93 of area code 512's 123 residential ZIPs
    q = question(7)
    assert q.ask and q.share == pytest.approx(93 / 123)
    assert "93 of 123 ZIPs in area code 512" in q.reason


def test_a_local_partner_for_a_few_zips_of_the_area_code_is_not_worth_a_question():
    statewide = FacilityFactory(service_states=["TX"], services=["residential"], partner__priority=5)
    FacilityFactory(service_states=[], service_zips=["78701", "78702"], services=["residential"], partner__priority=1)
    q = question(7)
    assert not q.ask and q.share == pytest.approx(2 / 123)
    assert "not worth a question" in q.reason
    # The two ZIPs it serves would change the first dial; the other 121 would not.
    assert first_dial(resolve_location(given_zip="78701"), "residential", 7) != statewide.pk
    assert first_dial(resolve_location(given_zip="78745"), "residential", 7) == statewide.pk


def test_in_the_same_tier_the_rule_asks_exactly_when_the_rotation_would_pick_the_local_partner():
    """The rule's first dial is the engine's: same tier, the weighted rotation at the call's key decides."""
    statewide = FacilityFactory(service_states=["TX"], services=["residential"], partner__weight=2)
    local = FacilityFactory(service_states=[], service_zip_prefixes=["786", "787"], services=["residential"])
    austin = resolve_location(given_zip="78745")
    asked, picked_local = set(), set()
    for key in range(1, 41):
        if question(key).ask:
            asked.add(key)
        if first_dial(austin, "residential", key) == local.pk:
            picked_local.add(key)
    assert asked == picked_local
    assert 0 < len(asked) < 40  # both happen: the test can tell a rule that always (or never) asks
    assert first_dial(AUSTIN, "residential", 1) == statewide.pk  # without a ZIP only the state-wide one


def test_a_partners_own_local_facility_changes_the_dial_when_that_partner_is_picked():
    statewide = FacilityFactory(service_states=["TX"], services=["residential"])
    FacilityFactory(
        partner=statewide.partner, service_states=[], service_zip_prefixes=["786", "787"], services=["residential"]
    )  # the same partner's Austin facility: nearer, more specific
    assert question(3).ask  # the only partner is always picked, at its Austin facility


def test_a_finer_area_in_a_lower_tier_never_asks_whatever_its_coverage():
    FacilityFactory(service_states=["TX"], services=["residential"], partner__priority=1)
    FacilityFactory(
        service_states=[], service_zip_prefixes=["786", "787"], services=["residential"], partner__priority=5
    )
    q = question(7)
    assert not q.ask and "in a lower tier than the first choice (priority 1)" in q.reason


def test_a_spanish_caller_is_not_asked_for_a_local_partner_who_does_not_speak_spanish():
    FacilityFactory(service_states=["TX"], services=["residential"], languages=["en", "es"], partner__priority=5)
    FacilityFactory(
        service_states=[], service_zip_prefixes=["786", "787"], services=["residential"], partner__priority=1
    )
    assert question(7).ask
    assert not question(7, language="es").ask  # the list narrows to Spanish speakers: the local one is left out


def test_the_zip_outcomes_are_worked_out_once_per_compiled_directory():
    statewide = FacilityFactory(service_states=["TX"], services=["residential"], partner__priority=5)
    FacilityFactory(
        service_states=[], service_zip_prefixes=["786", "787"], services=["residential"], partner__priority=1
    )
    directory = compiled_directory(now=NOW)
    question(7)
    assert ("a512", "TX", "residential") in directory.zip_outcomes
    with CaptureQueriesContext(connection) as queries:
        again = zip_question(
            location=AUSTIN, service="residential", now=NOW, routed=True, choices=[statewide.pk], rotation_key=8,
            max_choices=5, area_code="512",
        )  # fmt: skip
    assert again.ask and len(queries) == 0


def test_which_finer_areas_serve_which_zip_agrees_with_the_engine_zip_by_zip():
    """The per-ZIP outcomes (lists, prefixes, radii through the cell index) are the engine's area matches."""
    from routing.engine import area_match
    from routing.location import residential_zips
    from routing.zip_question import _outcomes

    FacilityFactory(state="IL", service_states=[], service_zips=["60601", "60614", "60201"], services=["residential"])
    FacilityFactory(state="IL", service_states=[], service_zip_prefixes=["606"], services=["residential"])
    FacilityFactory(
        state="IL", latitude=42.0464, longitude=-87.6931, service_states=[], service_radius_miles=12,
        services=["residential"],
    )  # fmt: skip
    FacilityFactory(
        state="IN", latitude=41.59, longitude=-87.35, service_states=[], service_radius_miles=25,
        services=["residential"],
    )  # fmt: skip
    directory = compiled_directory(now=NOW)
    for place in ("a312", "a847", "a773", "IL"):
        counts, total = _outcomes(directory, place, "IL", "residential")
        expected: dict[frozenset[int], int] = {}
        finer = directory.finer_in_state.get((place, "residential"), [])
        for zip_code, state, lat, lon in residential_zips()[place]:
            if state != "IL":
                continue
            here = Location(zip_code=zip_code, state="IL", latitude=lat, longitude=lon, source="zip")
            served = frozenset(fid for fid in finer if area_match(directory.static[fid], here) is not None)
            expected[served] = expected.get(served, 0) + 1
        assert counts == expected and total == sum(expected.values()), place
        assert len(counts) > 1 or place == "a312"  # the areas split the place: the test can tell them apart


def test_a_tier_fuller_than_the_list_is_completed_from_the_directory_and_still_matches_the_engine():
    """Seven state-wide partners in one tier, five choices kept: the rule adds the two it was not given."""
    from routing.engine import RouteRequest, decide
    from routing.selectors import candidates_for

    for weight in (1, 2, 3, 1, 2, 3, 1):
        FacilityFactory(service_states=["TX"], services=["residential"], partner__weight=weight)
    FacilityFactory(service_states=[], service_zip_prefixes=["786", "787"], services=["residential"])
    austin = resolve_location(given_zip="78745")
    mismatches, asked = [], 0
    for key in range(1, 41):
        request = RouteRequest(service="residential", location=AUSTIN, rotation_key=key, max_choices=5)
        state_level = decide(request, candidates_for(location=AUSTIN, now=NOW, service="residential"), NOW, fallback="")
        assert len(state_level.choices) == 5  # the list is full of the one tier
        q = zip_question(
            location=AUSTIN, service="residential", now=NOW, routed=True,
            choices=[c.facility_id for c in state_level.choices], rotation_key=key, max_choices=5, area_code="512",
        )  # fmt: skip
        at_zip = first_dial(austin, "residential", key)
        if q.ask != (at_zip != state_level.choices[0].facility_id):
            mismatches.append(key)
        asked += q.ask
    assert not mismatches
    assert 0 < asked < 40
