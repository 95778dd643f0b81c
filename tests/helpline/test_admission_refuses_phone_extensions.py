"""QA regression: a callback number with an extension cannot be dialed by the bridged call; it is refused
with a plain message instead of being saved without the extension (the call would reach a switchboard)."""

from __future__ import annotations

import pytest

from helpline.models import AdmissionRequest
from tests.factories import FacilityFactory
from tests.helpline.admission_support import api_data, form_data, post_api

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]

EXTENSIONS = ["512-867-5309 ext 12", "(512) 867-5309 x4", "+1 512 867 5309;ext=7", "5128675309#22"]


@pytest.mark.parametrize("phone", EXTENSIONS)
def test_api_refuses_a_number_with_an_extension(phone):
    FacilityFactory(partner__notify_email="")
    response = post_api(api_data(phone=phone), address="198.51.100.30")
    assert response.status_code == 400
    assert "extension" in response.json()["phone"][0]
    assert AdmissionRequest.objects.count() == 0


def test_form_refuses_an_extension_and_keeps_what_was_typed(client):
    FacilityFactory(partner__notify_email="")
    response = client.post("/request-a-callback/", form_data(phone="512-867-5309 x12"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "extension" in page and 'value="512-867-5309 x12"' in page
    assert AdmissionRequest.objects.count() == 0


@pytest.mark.parametrize("phone", ["512-867-5309", "(512) 867-5309", "+1 512 867 5309", "1-512-867-5309"])
def test_plain_numbers_are_still_accepted(phone):
    FacilityFactory(partner__notify_email="")
    response = post_api(api_data(phone=phone), address="198.51.100.31")
    assert response.status_code == 201
    assert AdmissionRequest.objects.get().phone == "+15128675309"
