"""QA probes of the bridged-callback webhooks: junk, unknown attempts and replays in any order never fault."""

from __future__ import annotations

import logging

import pytest
from defusedxml import ElementTree as SafeET
from django.urls import reverse

from helpline.models import AdmissionRequest, DialAttempt
from tests.helpline.test_admission_callbacks import partners as partners_fixture
from tests.helpline.test_admission_callbacks import placed
from tests.helpline.voice_support import post

partners = partners_fixture  # the fixture, by its own name

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]

VOICE = [
    "callback_whisper",
    "callback_accept",
    "callback_caller_screen",
    "callback_caller_accept",
    "callback_dial_done",
]
JUNK = [
    {},
    {"Digits": ""},
    {"Digits": "#"},
    {"Digits": "*1"},
    {"Digits": "1" * 500},
    {"Digits": "١"},
    {"DialCallDuration": "-9", "DialCallStatus": "weird"},
    {"DialCallDuration": "1e9"},
    {"CallStatus": "completed"},
]


def check(response, name: str) -> None:
    assert response.status_code < 500, (name, response.status_code)
    if name == "callback_status" and response.status_code == 204:
        return  # a shaped status callback; junk that Twilio never sends gets the static fallback TwiML instead
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml"), name
    root = SafeET.fromstring(response.content)
    assert root.tag == "Response" and len(root) > 0, response.content
    for dial in root.iter("Dial"):
        assert dial.get("timeout")


@pytest.mark.parametrize("name", [*VOICE, "callback_status"])
@pytest.mark.parametrize("params", JUNK)
def test_unknown_attempts_and_junk_never_fault(client, caplog, name, params):
    caplog.set_level(logging.ERROR)
    check(post(client, reverse(f"twilio:{name}", kwargs={"attempt_id": 987654}), params), name)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("params", JUNK)
@pytest.mark.usefixtures("partners")
def test_junk_on_a_live_callback_leg_never_faults_and_never_connects(client, caplog, fake_twilio, params):
    caplog.set_level(logging.ERROR)
    req, attempt = placed()
    for name in [*VOICE, "callback_status", *VOICE]:  # every step, then every step again (replays)
        check(post(client, reverse(f"twilio:{name}", kwargs={"attempt_id": attempt.pk}), params), name)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    req.refresh_from_db()
    attempt.refresh_from_db()
    assert req.status != AdmissionRequest.Status.CONNECTED  # nobody pressed 1 on both sides
    if params.get("CallStatus") == "completed":
        assert attempt.ended_at is not None and attempt.outcome != DialAttempt.Outcome.PENDING
