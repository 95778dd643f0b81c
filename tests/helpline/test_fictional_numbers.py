"""555-0100 … 555-0199 are reserved for fiction: refused as callback numbers, with a plain message (issue 11, 8)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from helpline.admission.forms import clean_callback_phone
from helpline.models import AdmissionRequest
from tests.factories import FacilityFactory
from tests.helpline.admission_support import api_data, form_data

MESSAGE = "Numbers from 555-0100 to 555-0199 are for films and examples"


@pytest.mark.parametrize("number", ["+1 312 555 0142", "(512) 555-0100", "512-555-0199", "+15125550150"])
def test_fictional_numbers_are_refused_with_a_plain_message(number):
    with pytest.raises(ValidationError, match=MESSAGE):
        clean_callback_phone(number)


@pytest.mark.parametrize("number", ["512-555-0200", "512-555-0099", "512-556-0142", "512-867-5309"])
def test_neighbouring_numbers_are_still_accepted(number):
    assert clean_callback_phone(number).startswith("+1")


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")
def test_the_form_and_the_api_refuse_a_fictional_callback_number(client):
    FacilityFactory(languages=["en", "es"], partner__notify_email="")
    page = client.post("/request-a-callback/", form_data(phone="+1 312 555 0142"), REMOTE_ADDR="203.0.113.60")
    assert page.status_code == 400 and MESSAGE in page.content.decode()
    api = APIClient(REMOTE_ADDR="203.0.113.61")
    response = api.post("/api/v1/admission-requests/", api_data(phone="+1 312 555 0142"), format="json")
    assert response.status_code == 400 and MESSAGE in response.json()["phone"][0]
    assert not AdmissionRequest.objects.exists()
