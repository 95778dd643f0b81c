"""Portal hours edit: the same span rules as the staff admin and the importer, shown as form errors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from partners.models import OpeningHours
from tests.factories import FacilityFactory, OpeningHoursFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def facility():
    facility = FacilityFactory(open_24_7=False)
    OpeningHoursFactory(facility=facility, weekday=2, opens=dt.time(9), closes=dt.time(17))
    return facility


@pytest.fixture
def client(facility):
    client = Client(raise_request_exception=False)
    client.force_login(PartnerUserFactory(partner=facility.partner))
    return client


def _saved(facility):
    return sorted((h.weekday, h.opens, h.closes) for h in OpeningHours.objects.filter(facility=facility))


@pytest.mark.parametrize(
    ("post", "message"),
    [
        (
            {"d6_0_opens": "22:00", "d6_0_closes": "06:00", "d0_0_opens": "05:00", "d0_0_closes": "09:00"},
            "Sunday 22:00-06:00 overlaps Monday 05:00-09:00",
        ),
        (
            {"d0_0_opens": "20:00", "d0_0_closes": "04:00", "d1_0_opens": "03:00", "d1_0_closes": "12:00"},
            "Monday 20:00-04:00 overlaps Tuesday 03:00-12:00",
        ),
        (
            {"d0_0_opens": "08:00", "d0_0_closes": "17:00", "d0_1_opens": "16:00", "d0_1_closes": "19:00"},
            "Monday 08:00-17:00 overlaps Monday 16:00-19:00",
        ),
        ({"d3_0_opens": "08:00", "d3_0_closes": "08:00"}, "opening and closing times are the same"),
    ],
)
def test_overlapping_or_empty_spans_are_a_form_error_and_keep_the_old_hours(client, facility, post, message):
    before = _saved(facility)

    response = client.post(f"/portal/facilities/{facility.pk}/hours/", post)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert _saved(facility) == before


def test_overnight_span_that_ends_before_the_next_day_opens_is_saved(client, facility):
    response = client.post(
        f"/portal/facilities/{facility.pk}/hours/",
        {"d6_0_opens": "22:00", "d6_0_closes": "06:00", "d0_0_opens": "06:00", "d0_0_closes": "09:00"},
    )

    assert response.status_code == 302
    assert _saved(facility) == [(0, dt.time(6), dt.time(9)), (6, dt.time(22), dt.time(6))]
