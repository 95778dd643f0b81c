"""Portal, staff report and API date filters at the edge of the calendar: a page or a 4xx, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from partners.selectors import InvalidCursor, parse_cursor
from tests.factories import FacilityFactory, PartnerUserFactory, StaffFactory, billed_call

pytestmark = pytest.mark.django_db

PORTAL_LISTS = ["/portal/calls/", "/portal/calls/export.csv", "/portal/requests/", "/portal/ledger/"]
EDGE_CURSORS = ["0001-01-01T00:00:00%2B14:00~1", "9999-12-31T23:59:59-14:00~1"]


@pytest.fixture
def facility():
    facility = FacilityFactory()
    billed_call(facility=facility)
    return facility


@pytest.mark.parametrize("path", PORTAL_LISTS)
def test_portal_until_last_calendar_day_lists_everything(facility, path):
    client = Client(raise_request_exception=False)
    client.force_login(PartnerUserFactory(partner=facility.partner))

    response = client.get(f"{path}?since=2000-01-01&until=9999-12-31")

    assert response.status_code == 200
    assert client.get(f"{path}?until=9999-12-31").status_code == 200


@pytest.mark.parametrize("path", ["/portal/calls/", "/portal/requests/", "/portal/ledger/", "/portal/webhooks/"])
@pytest.mark.parametrize("cursor", EDGE_CURSORS)
def test_portal_cursor_at_calendar_edge_is_a_clear_400_not_a_500(facility, path, cursor):
    client = Client(raise_request_exception=False)
    client.force_login(PartnerUserFactory(partner=facility.partner))

    response = client.get(f"{path}?before={cursor}")
    assert response.status_code == 400
    assert "This page link is not valid" in response.content.decode()


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+14:00~1", "9999-12-31T23:59:59-14:00~1"])
def test_parse_cursor_rejects_times_that_overflow_in_utc(raw):
    with pytest.raises(InvalidCursor):
        parse_cursor(raw)


def test_parse_cursor_reads_no_cursor_as_the_first_page():
    assert parse_cursor(None) is None and parse_cursor("") is None


def test_parse_cursor_returns_utc():
    at, pk = parse_cursor("2026-03-01T10:00:00+02:00~7")

    assert (at.hour, at.utcoffset().total_seconds(), pk) == (8, 0, 7)


def test_staff_report_until_last_calendar_day_renders(facility):
    client = Client(raise_request_exception=False)
    client.force_login(StaffFactory())

    response = client.get("/portal/staff/reports/?since=2026-01-01&until=9999-12-31")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/calls/", "/api/v1/billing-entries/", "/api/v1/admission-requests/"])
def test_api_until_last_calendar_day_is_not_a_500(facility, path):
    api = APIClient(raise_request_exception=False)
    api.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=PartnerUserFactory(partner=facility.partner)).key}"
    )

    response = api.get(f"{path}?until=9999-12-31")

    assert response.status_code == 200
    # No upper bound: the same rows as with no filter at all.
    assert response.json()["results"] == api.get(path).json()["results"]
