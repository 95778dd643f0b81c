"""QA regression: first names typed in decomposed Unicode, full-width letters, or scripts written with
combining marks (Hindi, Thai…) are real names; markup and formulas are still refused."""

from __future__ import annotations

import pytest

from helpline.models import AdmissionRequest
from tests.factories import FacilityFactory
from tests.helpline.admission_support import api_data, form_data, post_api

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Jose\u0301", "José"),  # NFD, as some keyboards and copy-paste send it
        ("Ｍａｒｉａ", "Maria"),  # full-width letters from an East Asian input method
        ("प्रिया", "प्रिया"),  # Devanagari: vowel signs and virama are combining marks
        ("สมชาย", "สมชาย"),  # Thai
        ("Zoë Ann", "Zoë Ann"),
    ],
)
def test_real_names_in_any_script_are_accepted_and_stored_composed(typed, stored):
    FacilityFactory(partner__notify_email="")
    response = post_api(api_data(first_name=typed), address="198.51.100.20")
    assert response.status_code == 201, response.json()
    assert AdmissionRequest.objects.get().first_name == stored


def test_the_web_form_accepts_a_decomposed_name(client):
    FacilityFactory(partner__notify_email="")
    response = client.post("/request-a-callback/", form_data(first_name="Rene\u0301e"))
    assert response.status_code == 302, response.content.decode()[:500]
    assert AdmissionRequest.objects.get().first_name == "Renée"


@pytest.mark.parametrize(
    "typed",
    [
        "\u0301Jose",  # a name may not start with a bare combining mark
        "=HYPERLINK(1)",
        "+Ｓam",
        "－Sam",  # full-width hyphen-minus becomes "-" first: still a formula opener
        "Sam<b>",
        "Sam\u202e",
        "Sam😀",
        "Ａ" * 31,
    ],
)
def test_markup_formulas_and_oversize_names_are_still_refused(typed):
    response = post_api(api_data(first_name=typed), address="198.51.100.20")
    assert response.status_code == 400
    assert "first_name" in response.json()
    assert AdmissionRequest.objects.count() == 0
