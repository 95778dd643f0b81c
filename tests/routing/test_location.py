"""Location resolution: ZIP normalisation, order of trust, and never a wrong place."""

from __future__ import annotations

import pytest

from routing.location import area_code_state, normalise_zip, resolve_location


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("78701", "78701"),
        (" 78701 ", "78701"),
        ("787 01", "78701"),
        ("78701-1234", "78701"),
        ("78701 - 1234", "78701"),
        ("787011234", "78701"),
        ("02134", "02134"),
        ("2134", "02134"),  # a spreadsheet dropped the leading zero
        ("2134-0001", "02134"),
        (2134, "02134"),
        (501, "00501"),
        (787011234, "78701"),
        ("", None),
        ("   ", None),
        ("abcde", None),
        ("123", None),
        ("123456", None),
        ("78701-12", None),
        ("７８７０１", None),  # full-width digits are not a ZIP
        (None, None),
        (True, None),
        (0, None),
        (-78701, None),
    ],
)
def test_normalise_zip(raw, expected):
    assert normalise_zip(raw) == expected


def test_given_zip_wins_and_is_placed_with_coordinates():
    loc = resolve_location(given_zip="78701-1234", twilio_zip="10001", twilio_state="NY", caller_number="+12125551234")
    assert (loc.zip_code, loc.state, loc.source, loc.label) == ("78701", "TX", "zip", "Austin, TX")
    assert loc.latitude == pytest.approx(30.27, abs=0.05)
    assert loc.longitude == pytest.approx(-97.74, abs=0.05)
    assert loc.problem == ""


def test_leading_zero_zip_is_placed_in_new_england():
    loc = resolve_location(given_zip="2134")
    assert (loc.zip_code, loc.state, loc.source) == ("02134", "MA", "zip")


def test_unknown_given_zip_is_reported_not_guessed_and_lower_sources_tried():
    loc = resolve_location(given_zip="00000", caller_number="+15125550100")
    assert loc.zip_code == ""
    assert loc.problem == "unknown ZIP 00000"
    assert (loc.state, loc.source, loc.label) == ("TX", "area_code", "area code 512, TX")


def test_garbage_given_zip_is_reported():
    loc = resolve_location(given_zip="12ab")
    assert loc.source == "unknown" and not loc.is_known
    assert "not a ZIP code" in loc.problem


def test_military_zip_is_not_a_served_place():
    loc = resolve_location(given_zip="09001")
    assert not loc.is_known and "09001" in loc.problem


def test_twilio_zip_then_twilio_state():
    by_zip = resolve_location(twilio_zip="10001", twilio_state="NY")
    assert (by_zip.zip_code, by_zip.state, by_zip.source) == ("10001", "NY", "twilio")
    by_state = resolve_location(twilio_state="ca", caller_number="+12125551234")
    assert (by_state.zip_code, by_state.state, by_state.source) == ("", "CA", "twilio")
    assert by_state.latitude is None


def test_foreign_twilio_state_is_ignored():
    loc = resolve_location(twilio_state="ON", caller_number="+16135551234")  # Ottawa
    assert loc.source == "unknown" and loc.state == ""


@pytest.mark.parametrize(
    ("number", "state"),
    [
        ("+15125550100", "TX"),  # Austin
        ("+1 (512) 555-0100", "TX"),
        ("5125550100", "TX"),
        ("+12125551234", "NY"),
        ("+12025551234", "DC"),
        ("+14065551234", "MT"),
        ("+13105550000", "CA"),
        ("+17875551234", "PR"),
    ],
)
def test_area_code_resolves_to_its_state(number, state):
    loc = resolve_location(caller_number=number)
    assert (loc.state, loc.source) == (state, "area_code")
    assert loc.zip_code == "" and loc.latitude is None
    assert loc.label == f"area code {number.replace('+1', '').lstrip(' (')[:3]}, {state}"
    assert "555" not in loc.label  # an area, never the number


@pytest.mark.parametrize(
    "number",
    [
        "+18005551234",  # toll-free
        "+18885551234",
        "+18775551234",
        "+18445551234",
        "+19005551234",  # premium rate
        "+15005551234",  # personal / non-geographic
        "anonymous",
        "Anonymous",
        "+266696687",  # Twilio's anonymous caller ID
        "Restricted",
        "UNKNOWN",
        "",
        "   ",
        "+442071234567",  # London
        "+16135551234",  # Ottawa, Canada (NANP but not US)
        "+16715551234",  # Guam: a US territory no partner serves
        "not a number",
        "+1512",
    ],
)
def test_numbers_that_say_nothing_about_place_resolve_to_unknown(number):
    loc = resolve_location(caller_number=number)
    assert loc.source == "unknown"
    assert (loc.state, loc.zip_code, loc.latitude) == ("", "", None)
    assert not loc.is_known
    assert area_code_state(number) is None


def test_nothing_known_is_unknown():
    loc = resolve_location()
    assert loc.source == "unknown" and loc.label == "unknown location" and loc.problem == ""


@pytest.mark.parametrize(
    ("kwargs", "precision", "source", "hint"),
    [
        ({"given_zip": "60601"}, "zip", "zip", ""),
        ({"twilio_zip": "60614", "twilio_state": "IL", "caller_number": "+13125550142"}, "zip", "twilio", ""),
        ({"twilio_state": "IL", "caller_number": "+13125550142"}, "state", "twilio", "Chicago, IL"),
        ({"caller_number": "+13125550142"}, "state", "area_code", "Chicago, IL"),
        ({"caller_number": "+15125550123"}, "state", "area_code", ""),  # geocoder says only "Texas"
        ({"caller_number": "+18005550199"}, "none", "unknown", ""),
        ({"caller_number": "anonymous"}, "none", "unknown", ""),
        ({"caller_number": "+442071838750"}, "none", "unknown", ""),
    ],
)
def test_every_location_has_a_precision_and_staff_get_the_caller_id_place_as_a_hint(kwargs, precision, source, hint):
    location = resolve_location(**kwargs)
    assert (location.precision, location.source, location.hint) == (precision, source, hint)


def test_the_caller_id_place_never_becomes_part_of_the_area():
    location = resolve_location(caller_number="+13125550142")
    assert location.hint == "Chicago, IL"
    assert (location.zip_code, location.latitude, location.longitude) == ("", None, None)
