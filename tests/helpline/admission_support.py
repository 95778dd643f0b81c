"""Helpers for the admission request tests: valid input, the fake Twilio, signed webhook posts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from helpline.admission.forms import new_form_stamp
from tests.fake_twilio import BridgedCallDriver, FakeTwilio, running_fake_twilio, signed_post_factory
from tests.helpline.voice_support import clear_routing_caches

PHONE = "512-867-5309"
PHONE_E164 = "+15128675309"
API_URL = "/api/v1/admission-requests/"


def form_data(**overrides: Any) -> dict[str, Any]:
    """A valid web form submission, shown 10 seconds ago (a person's pace)."""
    data: dict[str, Any] = {
        "for_whom": "myself",
        "first_name": "Sam",
        "phone": PHONE,
        "zip_code": "78701",
        "service": "detox",
        "substances": ["alcohol"],
        "payment": "medicaid",
        "language": "en",
        "callback_when": "now",
        "window_date": "",
        "window_slot": "",
        "allow_voicemail": "",
        "allow_text": "on",
        "consent": "on",
        "website": "",
        "started": new_form_stamp(time.time() - 10),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def api_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "for_whom": "someone_else",
        "first_name": "J.R.",
        "phone": PHONE,
        "zip_code": "78701-1234",
        "service": "unsure",
        "substances": ["opioids"],
        "payment": "",
        "language": "es",
        "callback_when": "now",
        "allow_voicemail": False,
        "allow_text": False,
        "consent": True,
        "started": new_form_stamp(time.time() - 10),  # the API's form stamp, single-use like the form's
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post_api(body: Any, *, address: str, content_type: str = "application/json") -> Any:
    """POST ``body`` to the admission API from a client at ``address``: str or bytes as they are, else as JSON.

    Encoded here, not by DRF's test renderer: that one refuses NaN (STRICT_JSON), which a real client may send.
    """
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return APIClient(REMOTE_ADDR=address).generic("POST", API_URL, raw, content_type=content_type)


@pytest.fixture(name="twilio_offline")
def twilio_offline_fixture(settings: Any) -> None:
    """No test ever reaches api.twilio.com: without the fake, REST calls go to a closed local port."""
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"


@pytest.fixture(name="fake_twilio")
def fake_twilio_fixture(settings: Any, twilio_offline: None) -> Iterator[FakeTwilio]:
    """A local fake of Twilio's REST API; the seam is pointed at it for the test."""
    with running_fake_twilio() as fake:
        settings.TWILIO_API_BASE_URL = fake.base_url
        yield fake


def client_poster(client: Client):  # type: ignore[no-untyped-def]
    """Deliver signed webhook posts through Django's test client."""

    def send(path: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        response = client.post(path, params, headers={"X-Twilio-Signature": signature})
        return response.status_code, response.content.decode()

    return signed_post_factory(
        public_base_url=settings.PUBLIC_BASE_URL, auth_token=settings.TWILIO_AUTH_TOKEN, send=send
    )


def driver(client: Client) -> BridgedCallDriver:
    return BridgedCallDriver(post=client_poster(client))


@pytest.fixture(name="fresh_routing_directory")
def fresh_routing_directory_fixture() -> Iterator[None]:
    """The routing caches empty at the start and end of the test (``voice_support.clear_routing_caches``).

    For tests outside tests/helpline, where it is not applied to every test (see tests/helpline/conftest.py).
    """
    clear_routing_caches()
    yield
    clear_routing_caches()
