"""QA probes of the voice webhooks: odd but signed Twilio requests never fault, never go silent."""

from __future__ import annotations

import logging

import pytest
from defusedxml import ElementTree as SafeET

from helpline.models import Call, CallEvent, DialAttempt
from tests.helpline.voice_support import (
    CallDriver,
    make_directory,
    new_sid,
    payload,
    post,
)

pytestmark = pytest.mark.django_db

VERBS = {"Say", "Play", "Dial", "Gather", "Redirect", "Hangup", "Pause", "Reject", "Enqueue", "Leave"}


def faults(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "failed" in r.getMessage() and r.name == "helpline.voice.inbound"]


def assert_twiml(response) -> SafeET:
    """A valid, non-empty TwiML document; every <Dial> bounded by a timeout."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/xml")
    root = SafeET.fromstring(response.content)
    assert root.tag == "Response"
    assert len(root) > 0, response.content
    assert {el.tag for el in root} <= VERBS
    for dial in root.iter("Dial"):
        assert dial.get("timeout"), response.content
    return root


def assert_refused(response) -> None:
    """Not Twilio-shaped (helpline.voice.security.TWILIO_SHAPES): the static fallback line, nothing written."""
    root = assert_twiml(response)
    dial = root.find("Dial")
    assert dial is not None and dial.find("Number") is None and (dial.text or "").startswith("+")
    assert not Call.objects.exists()


@pytest.mark.parametrize("from_", ["anonymous", "+266696687", "", "+442071838750", "Restricted", "unknown"])
def test_incoming_from_odd_caller_ids_greets_and_routes(client, caplog, from_):
    make_directory()
    caplog.set_level(logging.ERROR)
    driver = CallDriver(client, from_=from_)
    for key in ("From", "Caller"):
        driver.base[key] = from_
    driver.incoming()
    assert driver.gather() is not None
    root = driver.press("1")  # English
    root = driver.press("5") if root.find("Gather") is not None else root  # not sure
    while root.find("Gather") is not None and root.find("Dial") is None:
        root = driver.press("")
    assert root.find("Dial") is not None
    assert faults(caplog) == []


@pytest.mark.parametrize("from_", ["+15125550123\u00e9", "+1", "client:alice"])
def test_caller_ids_twilio_never_sends_get_the_fallback_line(client, from_):
    make_directory()
    params = payload("incoming", CallSid=new_sid(), From=from_, Caller=from_)
    assert_refused(post(client, "/twilio/voice/incoming", params))


@pytest.mark.parametrize("digits", ["", "#", "*", "1#", "*1", "0", "99"])
def test_menus_with_odd_digits_never_fault(client, caplog, digits):
    make_directory()
    caplog.set_level(logging.ERROR)
    driver = CallDriver(client, from_="anonymous")
    driver.incoming()
    for _ in range(12):  # bounded: a caller who keeps pressing junk still reaches someone
        if driver.root.find("Dial") is not None:
            break
        driver.press(digits)
        noise = post(driver.client, "/twilio/voice/status", {"CallSid": "nobody"})  # not a CallSid: refused
        assert noise.status_code == 200 and noise["Content-Type"].startswith("text/xml")
    assert driver.root.find("Dial") is not None
    assert faults(caplog) == []


@pytest.mark.parametrize("digits", ["12345678901234567890" * 10, "١", "\u00e9", " 1 ", "-1"])
def test_digits_that_are_not_keypad_keys_get_the_fallback_line_and_change_nothing(client, digits):
    make_directory()
    driver = CallDriver(client, from_="anonymous")
    driver.incoming()
    root = driver.press(digits)
    assert root.find("Dial") is not None and root.find("Dial/Number") is None
    call = Call.objects.get()
    assert call.status == Call.Status.IVR and not CallEvent.objects.filter(call=call).exists()


@pytest.mark.parametrize("to", ["client:alice", "sip:x@y.z", "+18885550100\u202e"])
def test_to_numbers_twilio_never_sends_get_the_fallback_line(client, to):
    make_directory()
    params = payload("incoming", CallSid=new_sid(), To=to, Called=to)
    assert_refused(post(client, "/twilio/voice/incoming", params))


@pytest.mark.parametrize("to", ["", "+19995550000"])
def test_unknown_to_number_still_greets(client, caplog, to):
    make_directory()
    caplog.set_level(logging.ERROR)
    driver = CallDriver(client, to=to)
    driver.incoming()
    driver.press("1")
    assert faults(caplog) == []


@pytest.mark.parametrize("zip_", ["<script>", "\u00e9\u00e9", "9" * 500])
def test_from_zip_twilio_never_sends_gets_the_fallback_line(client, zip_):
    make_directory()
    params = payload("incoming", CallSid=new_sid(), FromZip=zip_)
    assert_refused(post(client, "/twilio/voice/incoming", params))


@pytest.mark.parametrize("zip_", ["", "ABCDE", "0", "787011234", "78701-1234", "M5V 2T6"])
def test_from_zip_garbage_never_faults(client, caplog, zip_):
    make_directory()
    caplog.set_level(logging.ERROR)
    driver = CallDriver(client, from_="+442071838750", FromZip=zip_, FromState="ZZ")
    driver.incoming()
    root = driver.press("1")
    assert root.find("Gather") is not None or root.find("Dial") is not None
    assert faults(caplog) == []


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/voice/incoming",
        "/twilio/voice/greeting",
        "/twilio/voice/service?try=1",
        "/twilio/voice/zip?try=1",
        "/twilio/voice/dial-result?attempt=1",
        "/twilio/voice/crisis-result?lang=es",
    ],
)
def test_caller_steps_missing_every_parameter_answer_twiml(client, caplog, path):
    make_directory()
    caplog.set_level(logging.ERROR)
    response = post(client, path, {})
    assert_twiml(response)
    assert not Call.objects.filter(call_sid="").exists()


@pytest.mark.parametrize(
    "path", ["/twilio/voice/whisper?attempt=1", "/twilio/voice/whisper-choice?attempt=x", "/twilio/voice/whisper"]
)
def test_partner_steps_missing_every_parameter_hang_up_politely(client, path):
    root = assert_twiml(post(client, path, {}))
    assert root.find("Hangup") is not None and root.find("Say") is not None


def test_status_callbacks_for_unknown_and_missing_sids_are_2xx_and_change_nothing(client):
    make_directory()
    for params in (
        {},
        {"CallSid": new_sid(), "CallStatus": "completed"},
        {"CallSid": new_sid(), "CallStatus": "bogus", "SequenceNumber": "x", "CallDuration": "-5"},
        {"CallSid": new_sid(), "ParentCallSid": new_sid(), "CallStatus": "completed"},
    ):
        response = post(client, "/twilio/voice/status?attempt=99999", params)
        assert response.status_code in (200, 204)
    assert Call.objects.count() == 0 and DialAttempt.objects.count() == 0


def test_get_and_wrong_content_type_are_refused_writing_nothing(client):
    params = payload("incoming", CallSid=new_sid())
    assert client.get("/twilio/voice/incoming", params).status_code == 405
    response = client.post(
        "/twilio/voice/incoming", data="{}", content_type="application/json", headers={"X-Twilio-Signature": "x"}
    )
    assert response.status_code == 403
    assert Call.objects.count() == 0 and CallEvent.objects.count() == 0
