"""route() end to end on the ORM: candidates loaded, decision stored."""

from __future__ import annotations

import datetime as dt

import pytest

from routing.engine import Location, RouteRequest
from routing.location import resolve_location
from routing.models import RoutingDecision
from routing.services import route
from tests.factories import FacilityFactory, PartnerFactory

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # a Monday, 09:00 in Austin

pytestmark = pytest.mark.django_db


def test_route_stores_the_decision_with_chosen_and_excluded():
    tx = FacilityFactory(name="Austin Detox")
    paused = FacilityFactory(name="Paused Place", partner=PartnerFactory(status="paused"))
    FacilityFactory(name="Ohio House", state="OH", service_states=["OH"])
    request = RouteRequest(service="detox", location=resolve_location(given_zip="78701"))

    record, decision = route(request=request, kind="call", now=NOW)

    assert [c.facility_id for c in decision.choices] == [tx.pk]
    stored = RoutingDecision.objects.get(pk=record.pk)
    assert stored.chosen[0]["facility_id"] == tx.pk
    assert stored.excluded == [
        {
            "facility_id": paused.pk,
            "facility_name": "Paused Place",
            "partner_id": paused.partner_id,
            "partner_name": paused.partner.display_name,
            "reason": "partner paused",
        }
    ]
    assert stored.location_source == "zip"
    assert stored.location_label == "Austin, TX"
    assert stored.fallback == "SAMHSA National Helpline +18006624357"
    assert stored.rotation_key == 1
    assert stored.considered_count == 2  # the Ohio facility is outside the area index


def test_route_with_nobody_eligible_names_the_fallback():
    record, decision = route(request=RouteRequest(service="detox", location=Location()), kind="admission", now=NOW)
    assert decision.choices == ()
    assert record.fallback == "SAMHSA National Helpline +18006624357"
    assert any("nobody eligible" in n for n in record.notes)
