"""POST /api/v1/admission-requests/: same checks as the form, anonymous but throttled, create-only."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from unittest import mock

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from helpline.admission.forms import CONSENT_VERSION
from helpline.models import AdmissionRequest, ContactBlock
from helpline.privacy import caller_hash
from tests.factories import FacilityFactory
from tests.helpline.admission_support import PHONE, PHONE_E164, api_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]
URL = "/api/v1/admission-requests/"


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR="203.0.113.50")


@pytest.fixture
def facility():
    return FacilityFactory(partner__display_name="Harbor Recovery", languages=["en", "es"], partner__notify_email="")


def test_anonymous_post_creates_a_routed_request(api, facility):
    response = api.post(URL, api_data(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    req = AdmissionRequest.objects.get()
    assert body["public_id"] == str(req.public_id)
    assert body["partner_name"] == "Harbor Recovery"
    assert body["consent_version"] == CONSENT_VERSION
    assert "/request-a-callback/thanks/" in body["confirmation_url"]
    assert "/request-a-callback/withdraw/" in body["withdraw_url"]
    assert "phone" not in body and "first_name" not in body
    assert req.source == "api" and req.phone == PHONE_E164 and req.first_name == "J.R."
    assert (req.zip_code, req.language, req.service, req.substances) == ("78701", "es", "unsure", ["opioids"])
    assert req.status == "routed" and req.partner == facility.partner


def test_window_request_through_the_api(api, facility):
    day = (dt.datetime.now(zoneinfo.ZoneInfo("America/Chicago")) + dt.timedelta(days=1)).date()
    response = api.post(
        URL, api_data(callback_when="window", window_date=day.isoformat(), window_slot="morning"), format="json"
    )
    assert response.status_code == 201, response.json()
    req = AdmissionRequest.objects.get()
    assert req.window_start == dt.datetime.combine(day, dt.time(9), tzinfo=zoneinfo.ZoneInfo("America/Chicago"))


BAD = [
    ("phone", {"phone": "800-555-1234"}, "Toll-free numbers"),
    ("phone", {"phone": "900-555-1234"}, "Premium-rate numbers"),
    ("phone", {"phone": "12345"}, "not a working US phone number"),
    ("phone", {"phone": "+44 20 7946 0018"}, "only call US phone numbers"),
    ("zip_code", {"zip_code": "00000"}, "could not find ZIP code 00000"),
    ("zip_code", {"zip_code": "ABCDE"}, "Enter a 5-digit ZIP code"),
    ("first_name", {"first_name": "=cmd|' /C calc'!A0"}, "Use letters only"),
    ("first_name", {"first_name": "B" * 31}, "up to 30 letters"),
    ("service", {"service": "spa"}, "is not a valid choice"),
    ("substances", {"substances": ["glue"]}, "is not a valid choice"),
    ("consent", {"consent": False}, "must agree to be called"),
    ("consent", {"consent": None}, "required"),
    ("consent_version", {"consent_version": "2019-01"}, "out of date"),
    ("window_date", {"callback_when": "window", "window_slot": "morning"}, "Choose the day"),
    ("window_date", {"callback_when": "window", "window_date": "2020-01-01", "window_slot": "morning"}, "has passed"),
]


@pytest.mark.parametrize(("field", "overrides", "message"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_gets_a_400_naming_the_field(api, facility, field, overrides, message):
    response = api.post(URL, api_data(**overrides), format="json")
    assert response.status_code == 400
    errors = response.json()
    assert message in str(errors[field]), errors
    assert AdmissionRequest.objects.count() == 0


def test_malformed_json_is_a_400_not_a_500(api):
    response = api.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_oversize_body_is_refused(api):
    response = api.post(URL, api_data(first_name="x" * 300_000), format="json")
    assert response.status_code == 413
    assert AdmissionRequest.objects.count() == 0


def test_reading_requests_needs_a_login(api, facility):
    """Anonymous callers may only create: any list or read needs an authenticated, partner-scoped login."""
    api.post(URL, api_data(), format="json")
    req = AdmissionRequest.objects.get()
    assert api.get(URL).status_code in (401, 403)
    assert api.get(f"{URL}{req.public_id}/").status_code in (401, 403)
    assert "8675309" not in api.get(f"{URL}{req.public_id}/").content.decode()


def test_blocked_phone_is_refused(api, facility):
    ContactBlock.objects.create(phone_hash=caller_hash(PHONE), source="sms-stop")
    response = api.post(URL, api_data(), format="json")
    assert response.status_code == 400
    assert "asked us not to contact it" in response.json()["phone"][0]


def test_throttled_per_client_address(api, facility):
    for i in range(10):  # the client's one budget, shared with the web form (helpline.admission.policy)
        assert api.post(URL, api_data(phone=f"512-867-53{i:02d}"), format="json").status_code == 201
    response = api.post(URL, api_data(phone="512-867-5399"), format="json")
    assert response.status_code == 429
    assert AdmissionRequest.objects.count() == 10
    other = APIClient(REMOTE_ADDR="203.0.113.51")
    assert other.post(URL, api_data(phone="512-867-5398"), format="json").status_code == 201


def test_phone_rate_limit_is_shared_with_the_form(api, facility):
    for i in range(3):
        assert APIClient(REMOTE_ADDR=f"192.0.2.{i}").post(URL, api_data(), format="json").status_code == 201
    assert api.post(URL, api_data(), format="json").status_code == 429


def test_throttle_fails_open_when_the_cache_is_down(api, facility):
    with (
        mock.patch("rest_framework.throttling.SimpleRateThrottle.cache") as broken,
        mock.patch("helpline.admission.policy.cache") as broken_views,
    ):
        broken.get.side_effect = ConnectionError("redis down")
        broken_views.add.side_effect = ConnectionError("redis down")
        response = api.post(URL, api_data(), format="json")
    assert response.status_code == 201
    assert AdmissionRequest.objects.count() == 1
    cache.clear()


def test_schema_documents_the_endpoint(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    post = schema["paths"]["/api/v1/admission-requests/"]["post"]
    assert "201" in post["responses"] and "400" in post["responses"]
