"""What people read: numbers in one style, opening hours in plain words, crisis links they can tap, API docs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template import Context, Template
from django.urls import reverse

from helpline.phones import phone_display, sms_href, tel_href
from routing.vocabulary import time_zone_words
from tests.factories import FacilityFactory, OpeningHoursFactory


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("+18005550100", "1-800-555-0100"),
        ("(512) 555-0199", "1-512-555-0199"),
        ("512.555.0199", "1-512-555-0199"),
        ("988", "988"),
        ("911", "911"),
        ("+442079460958", "+44 20 7946 0958"),
        ("not a number", "not a number"),
        ("", ""),
    ],
)
def test_phone_display_writes_every_number_the_same_way(raw, shown):
    assert phone_display(raw) == shown
    assert Template("{% load clearline %}{{ n|phone_display }}").render(Context({"n": raw})) == shown


def test_tel_and_sms_targets_keep_short_codes_as_dialled():
    assert tel_href("988") == "tel:988" and sms_href("988") == "sms:988"
    assert tel_href("1-800-555-0100") == "tel:+18005550100" and sms_href("+18005550100") == "sms:+18005550100"


@pytest.mark.parametrize(
    ("zone", "words"),
    [
        ("America/Phoenix", "Arizona time"),
        ("America/New_York", "Eastern time"),
        ("America/Chicago", "Central time"),
        ("America/Los_Angeles", "Pacific time"),
        ("Europe/Paris", "Paris time"),
    ],
)
def test_time_zones_are_named_as_people_say_them(zone, words):
    assert time_zone_words(zone) == words


@pytest.mark.django_db
def test_directory_hours_are_12_hour_with_the_zone_in_words(client):
    facility = FacilityFactory(name="Desert Dawn", open_24_7=False, time_zone="America/Phoenix")
    for weekday in range(5):
        OpeningHoursFactory(facility=facility, weekday=weekday, opens=dt.time(9), closes=dt.time(17))
    OpeningHoursFactory(facility=facility, weekday=5, opens=dt.time(10), closes=dt.time(12, 30))

    html = client.get(reverse("directory")).content.decode()

    hours = re.search(r'<p class="facility-hours">(.*?)</p>', html, re.S)
    assert hours is not None
    text = re.sub(r"<[^>]+>", "", hours.group(1))
    assert text == "Hours: Mon–Fri 9:00 am – 5:00 pm; Sat 10:00 am – 12:30 pm Arizona time"
    assert "America/Phoenix" not in html and "17:00" not in html


@pytest.mark.django_db
def test_crisis_bar_offers_a_text_link_to_988(client):
    html = client.get(reverse("home")).content.decode()
    bar = html.split('data-testid="crisis-bar"', 1)[1].split("</aside>", 1)[0]
    assert 'href="tel:988"' in bar and 'href="sms:988"' in bar and 'href="tel:911"' in bar


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api-docs", "api-redoc"])
def test_api_docs_declare_their_language(client, name):
    html = client.get(reverse(name)).content.decode()
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert 'id="where-do-calls-go"' in html


@pytest.mark.django_db
def test_api_descriptions_carry_no_developer_notes(client):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").content.decode()
    for note in ("viewset", "unchanged", "occurred_at,", "when decided", "the helpline's own"):
        assert note not in schema, note
    assert "Admission requests routed to you, newest first." in schema
