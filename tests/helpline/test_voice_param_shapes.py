"""Signed requests must also make sense: re-split parameters get the fallback TwiML and write nothing.

Twilio signs the URL plus the parameters concatenated in key order, so the
signature of ``{CallSid: X, Digits: 9}`` also validates ``{CallSid: "XDigits9"}``.
Every signature here is built with the ``twilio`` library's RequestValidator.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from twilio.request_validator import RequestValidator

from helpline.models import Call, CallEvent, ContactBlock, DialAttempt
from helpline.voice.security import twilio_shape_problem
from tests.helpline.voice_support import (
    CallDriver,
    make_directory,
    new_sid,
    parse,
    payload,
    post,
    public_url,
    spoken,
)

pytestmark = pytest.mark.django_db


def resplit_signature(url: str, honest: dict[str, str]) -> str:
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(public_url(url), honest)


def test_a_resplit_request_validates_under_the_honest_signature():
    """The premise: the library accepts both splits with one signature."""
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    url = public_url("/twilio/voice/service?try=1")
    sid = new_sid()
    signature = validator.compute_signature(url, {"CallSid": sid, "Digits": "9"})
    assert validator.validate(url, {"CallSid": f"{sid}Digits9"}, signature)


def test_resplit_callsid_on_the_service_menu_gets_the_fallback_and_writes_nothing(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    calls_before, events_before = Call.objects.count(), CallEvent.objects.count()
    url = "/twilio/voice/service?try=1"
    honest = {"CallSid": driver.sid, "Digits": "9"}
    forged = {"CallSid": f"{driver.sid}Digits9"}
    root = parse(post(client, url, forged, signature=resplit_signature(url, honest)))
    assert root.find("Dial") is not None and root.find("Dial/Number") is None  # the default 24/7 line
    assert "treatment provider" in spoken(root) or settings.FALLBACK_LINE_NAME in spoken(root)
    assert (Call.objects.count(), CallEvent.objects.count()) == (calls_before, events_before)
    assert Call.objects.get().status == Call.Status.IVR  # not routed, not sent to crisis, untouched


def test_resplit_incoming_call_records_nothing(client):
    make_directory()
    sid = new_sid()
    honest = {"CallSid": sid, "From": "+15125550123"}
    forged = {"CallSid": f"{sid}From+15125550123"}
    url = "/twilio/voice/incoming"
    root = parse(post(client, url, forged, signature=resplit_signature(url, honest)))
    assert root.find("Dial") is not None
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CallSid", "CA123"),
        ("CallSid", "XX" + "a" * 32),
        ("Digits", "9FromZip60601"),
        ("From", "+1512555012x"),
        ("To", "anonymous"),
        ("CallStatus", "completedDigits9"),
        ("DialCallDuration", "12Digits1"),
        ("SequenceNumber", "-1"),
        ("FinishedOnKey", "**"),
    ],
)
def test_each_parameter_shape_is_checked(name, value):
    params = payload("gather")
    params["CallSid"] = new_sid()
    assert twilio_shape_problem(params) == ""
    params[name] = value
    assert twilio_shape_problem(params) == name


@pytest.mark.parametrize("caller", ["anonymous", "Restricted", "+266696687", "266696687", "", "+442071838750"])
def test_twilio_anonymous_and_foreign_caller_ids_are_accepted(caller):
    assert twilio_shape_problem({"CallSid": new_sid(), "From": caller, "Caller": caller}) == ""


def test_resplit_status_callback_changes_nothing(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    url = "/twilio/voice/status"
    honest = {"CallSid": driver.sid, "CallStatus": "completed"}
    forged = {"CallSid": f"{driver.sid}CallStatuscompleted"}
    response = post(client, url, forged, signature=resplit_signature(url, honest))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    call = Call.objects.get()
    assert call.status == Call.Status.IVR and call.twilio_status != "completed"
    assert not CallEvent.objects.filter(kind="call-status").exists()


def test_resplit_whisper_choice_does_not_accept_the_leg(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    whisper = driver.answer()
    gather = whisper.find("Gather")
    assert gather is not None
    url = gather.get("action") or ""
    leg = driver.leg_sids[-1]
    honest = {"CallSid": leg, "Digits": "1"}
    forged = {"CallSid": f"{leg}Digits1"}
    post(client, url, forged, signature=resplit_signature(url, honest))
    assert DialAttempt.objects.get().outcome == DialAttempt.Outcome.PENDING


def test_resplit_callback_and_sms_requests_are_refused_without_writes(client):
    url = "/twilio/callback/1/accept"
    leg = new_sid()
    honest = {"CallSid": leg, "Digits": "1"}
    response = post(client, url, {"CallSid": f"{leg}Digits1"}, signature=resplit_signature(url, honest))
    root = parse(response)
    assert root.find("Dial") is not None and root.find("Dial/Number") is None
    sms = "/twilio/sms/incoming"
    message = "SM" + "0" * 32
    honest = {"Body": "STOP", "From": "+15125550123", "MessageSid": message}
    forged = {"Body": "STOP", "From": f"+15125550123MessageSid{message}"}
    response = post(client, sms, forged, signature=resplit_signature(sms, honest))
    assert response.status_code == 200 and b"<Message" not in response.content
    assert not ContactBlock.objects.exists()  # the STOP was not applied to anyone


def test_honest_requests_still_work_after_the_shape_check(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    root = driver.press("1")
    assert root.find("Dial/Number") is not None
