"""route(): the stored decision, the rotation counter, and what never changes the order."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import connection

from routing.engine import Location, RouteRequest
from routing.location import resolve_location
from routing.models import RotationCounter, RoutingDecision
from routing.selectors import directory_cache, directory_key
from routing.services import route
from tests.factories import FacilityFactory, PartnerFactory

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_directory():
    directory_cache.clear()
    yield
    directory_cache.clear()


def austin(**kw) -> RouteRequest:
    return RouteRequest(service="detox", location=resolve_location(given_zip="78701"), **kw)


def test_rotation_key_counts_decisions_per_day_kind_state_and_service():
    FacilityFactory()
    keys = [route(request=austin(), kind="call", now=NOW)[0].rotation_key for _ in range(3)]
    assert keys == [1, 2, 3]
    assert route(request=austin(), kind="admission", now=NOW)[0].rotation_key == 1
    ny = RouteRequest(service="detox", location=resolve_location(given_zip="10001"))
    assert route(request=ny, kind="call", now=NOW)[0].rotation_key == 1
    assert route(request=austin(), kind="call", now=NOW + dt.timedelta(days=1))[0].rotation_key == 1
    assert RotationCounter.objects.get(day=NOW.date(), scope="call:TX:detox").value == 3


def test_a_given_rotation_key_is_used_as_is():
    FacilityFactory()
    record, _ = route(request=austin(rotation_key=41), kind="call", now=NOW)
    assert record.rotation_key == 41
    assert not RotationCounter.objects.exists()


def test_weights_spread_consecutive_calls_in_an_area():
    heavy = FacilityFactory(partner=PartnerFactory(weight=3))
    FacilityFactory(partner=PartnerFactory(weight=1))
    firsts = [route(request=austin(), kind="call", now=NOW)[1].choices[0].partner_id for _ in range(40)]
    assert abs(firsts.count(heavy.partner_id) - 30) <= 1


def test_price_never_changes_the_order():
    a = FacilityFactory(partner=PartnerFactory(price_per_call_cents=1000))
    b = FacilityFactory(partner=PartnerFactory(price_per_call_cents=9000))
    before = [route(request=austin(rotation_key=k), kind="call", now=NOW)[1].choices for k in range(1, 20)]
    compiled = directory_cache.peek(now=NOW)
    assert compiled is not None

    # As staff change a price (a model save): the directory version moves, so the next decision reads the
    # directory again and would see the new prices if they counted.
    for partner, price in ((a.partner, 99_000), (b.partner, 1)):
        partner.price_per_call_cents = price
        partner.save(update_fields=["price_per_call_cents"])
    after = [route(request=austin(rotation_key=k), kind="call", now=NOW)[1].choices for k in range(1, 20)]

    rebuilt = directory_cache.peek(now=NOW)
    assert rebuilt is not None and rebuilt.key == directory_key() != compiled.key  # read again after the change
    assert {choice.partner_id for choices in before for choice in choices[:1]} == {a.partner_id, b.partner_id}
    assert before == after


def test_listing_call_is_stored_with_its_listing_facility():
    listing = FacilityFactory(state="CA", service_states=["CA"])
    FacilityFactory()
    record, decision = route(request=austin(listing_facility_id=listing.pk), kind="call", now=NOW)
    assert [c.facility_id for c in decision.choices] == [listing.pk]
    assert record.listing_facility_id == listing.pk
    assert record.chosen[0]["facility_id"] == listing.pk
    assert any("listing call" in n for n in record.notes)


def test_unknown_location_and_problem_are_recorded():
    request = RouteRequest(service="unsure", location=resolve_location(given_zip="00000", caller_number="anonymous"))
    record, decision = route(request=request, kind="call", now=NOW)
    assert record.location_source == "unknown"
    assert record.location_problem == "unknown ZIP 00000"
    assert decision.choices == ()
    assert any("location unknown" in n for n in record.notes)


def test_engine_fault_becomes_a_fallback_decision_not_an_exception():
    FacilityFactory()
    with mock.patch("routing.services.decide", side_effect=RuntimeError("bug")):
        record, decision = route(request=austin(), kind="call", now=NOW)
    assert decision.choices == ()
    assert decision.fallback == "SAMHSA National Helpline +18006624357"
    assert record.notes == ["routing engine error: fallback line only"]


def test_unknown_kind_is_refused_and_nothing_stored():
    with pytest.raises(ValueError, match="kind"):
        route(request=RouteRequest(service="detox", location=Location()), kind="sms", now=NOW)
    assert not RoutingDecision.objects.exists()


def test_route_uses_the_clock_when_now_is_not_given():
    FacilityFactory()
    record, decision = route(request=austin(), kind="call")
    assert decision.choices and record.created_at is not None and record.elapsed_ms > 0


def test_route_queries_stay_flat_as_the_area_grows(django_assert_num_queries):
    for _ in range(25):
        FacilityFactory()
    route(request=austin(), kind="call", now=NOW)  # compile once
    # The candidate partners with the directory key (and on PostgreSQL the rotation upsert in the same
    # statement), the rotation upsert elsewhere, the decision insert.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        record, _ = route(request=austin(), kind="call", now=NOW)
    assert record.rotation_key == 2
    assert RotationCounter.objects.get(scope="call:TX:detox").value == 2


@pytest.mark.django_db(transaction=True)
def test_route_outside_a_transaction_stores_a_readable_row():
    """In autocommit (how the call path runs) PostgreSQL takes the one-statement insert path."""
    facility = FacilityFactory(name="Casa <Esperanza>")
    record, decision = route(request=austin(language="es"), kind="call", now=NOW)
    stored = RoutingDecision.objects.get(pk=record.pk)
    assert stored.chosen == [
        {
            "facility_id": facility.pk,
            "facility_name": "Casa <Esperanza>",
            "partner_id": facility.partner_id,
            "partner_name": facility.partner.display_name,
            "phone": str(facility.phone),
            "reason": decision.choices[0].reason,
        }
    ]
    assert stored.notes == list(decision.notes)
    assert stored.created_at == NOW
    assert (stored.kind, stored.language, stored.location_label) == ("call", "es", "Austin, TX")
    assert stored.rotation_key == 1 and stored.elapsed_ms > 0
    assert stored.directory_version >= 1
    assert record.pk is not None and not record._state.adding


def test_a_stale_directory_is_rebuilt_and_the_decision_counted_once_in_the_rotation():
    from routing.services import bump_directory_version

    FacilityFactory()
    assert route(request=austin(), kind="call", now=NOW)[0].rotation_key == 1
    late = FacilityFactory(partner=PartnerFactory(priority=1))  # signals bump: the compiled copy is stale
    bump_directory_version()
    record, decision = route(request=austin(), kind="call", now=NOW)
    assert decision.choices[0].facility_id == late.pk  # the rebuilt directory was used
    assert record.rotation_key == 2
    assert RotationCounter.objects.get(scope="call:TX:detox").value == 2
