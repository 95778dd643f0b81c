"""Status callbacks and webhook security: stored once, any order, never backwards; 403 writes nothing."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import TestCase

from helpline.models import Call, CallEvent, DialAttempt
from routing.models import PartnerCounter
from tests.helpline.voice_support import CallDriver, make_directory, parse, payload, post, sign

pytestmark = pytest.mark.django_db


def routed(client) -> CallDriver:
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    return driver


@pytest.mark.parametrize(
    "path", ["/twilio/voice/incoming", "/twilio/voice/status", "/twilio/voice/dial-result?attempt=1"]
)
@pytest.mark.parametrize("signature", ["", "bm90LWEtcmVhbC1zaWduYXR1cmU="])
def test_missing_or_wrong_signature_is_403_and_writes_nothing(client, path, signature):
    make_directory()
    response = post(client, path, payload("incoming"), signature=signature)
    assert response.status_code == 403
    assert Call.objects.count() == 0 and CallEvent.objects.count() == 0


def test_signature_for_other_params_is_rejected(client):
    make_directory()
    params = payload("incoming")
    forged = sign("/twilio/voice/incoming", {**params, "From": "+15125550000"})
    assert post(client, "/twilio/voice/incoming", params, signature=forged).status_code == 403
    assert Call.objects.count() == 0


def test_signature_is_checked_on_the_public_url_behind_a_tls_proxy(client, settings):
    """The proxy forwards plain HTTP to an internal host; Twilio signed the public HTTPS URL."""
    make_directory()
    params = payload("incoming")
    signature = sign("https://helpline.example.org/twilio/voice/incoming", params)
    response = client.post(
        "/twilio/voice/incoming", params, headers={"X-Twilio-Signature": signature}, HTTP_HOST="10.0.0.7:8000"
    )
    assert response.status_code == 200
    assert Call.objects.count() == 1
    wrong_base = sign("http://10.0.0.7:8000/twilio/voice/incoming", params)
    response = client.post("/twilio/voice/incoming", params, headers={"X-Twilio-Signature": wrong_base})
    assert response.status_code == 403


def test_get_on_a_webhook_is_refused(client):
    assert client.get("/twilio/voice/incoming").status_code == 405


def test_duplicate_status_callbacks_are_stored_once(client):
    make_directory()
    driver = routed(client)
    driver.dial_result("busy")
    driver.hangup(duration="40", seq=3)
    driver.hangup(duration="40", seq=3)
    events = CallEvent.objects.filter(kind="call-status", sid=driver.sid)
    assert events.count() == 1 and events.get().sequence_number == 3
    assert Call.objects.get().duration_seconds == 40


def test_status_callbacks_out_of_order_never_move_the_call_back(client):
    make_directory()
    driver = routed(client)
    driver.hangup(duration="30", seq=4)  # completed arrives first
    late = payload("status_callback", **driver.base, CallStatus="ringing", SequenceNumber="0")
    late.pop("CallDuration")
    assert post(client, "/twilio/voice/status", late).status_code == 204
    call = Call.objects.get()
    assert call.twilio_status == "completed" and call.status == Call.Status.ABANDONED
    assert set(CallEvent.objects.filter(kind="call-status").values_list("status", flat=True)) == {
        "completed",
        "ringing",
    }


def test_unknown_call_sid_gets_2xx_and_changes_nothing_twice(client):
    params = payload("status_callback", CallSid="CA00000000000000000000000000000000")
    assert post(client, "/twilio/voice/status", params).status_code == 204
    assert post(client, "/twilio/voice/status", params).status_code == 204
    assert CallEvent.objects.filter(call__isnull=True).count() == 1
    assert Call.objects.count() == 0


def test_leg_completed_before_dial_action_releases_once_and_continues(client):
    a, b, _c = make_directory()
    driver = routed(client)
    driver.answer()
    assert driver.leg_status("completed", seq=3, duration="12").status_code == 204
    assert driver.leg_status("completed", seq=3, duration="12").status_code == 204  # replay
    counter = PartnerCounter.objects.get(partner_id=a.partner_id)
    assert counter.active_calls == 0
    attempt = DialAttempt.objects.get(partner_id=a.partner_id)
    assert attempt.outcome == "not-accepted" and attempt.dial_call_sid == driver.leg_sids[-1]
    root = driver.dial_result("completed", duration="12")
    assert root.find("Dial/Number").text == str(b.phone)
    assert PartnerCounter.objects.get(partner_id=a.partner_id).active_calls == 0


def test_connected_call_billed_once_after_the_talk_time_is_known(client):
    _a, _b, c = make_directory(count=3)
    driver = routed(client)
    whisper = driver.answer()
    driver.partner_press(whisper, "1")
    with mock.patch("partners.billing.rule.bill_call", autospec=True) as bill:
        with TestCase.captureOnCommitCallbacks(execute=True):
            driver.hangup(duration="300", seq=5)  # the caller's completed callback comes first
        assert bill.call_count == 0  # the connected leg is still open: talk time unknown
        with TestCase.captureOnCommitCallbacks(execute=True):
            driver.dial_result("completed", duration="280", call_status="completed")
        call = Call.objects.get()
        bill.assert_called_once_with(call_id=call.pk)
    assert call.status == Call.Status.COMPLETED and call.talk_seconds == 280 and call.duration_seconds == 300


def test_whisper_keypress_replayed_accepts_once(client):
    make_directory()
    driver = routed(client)
    whisper = driver.answer()
    first = driver.partner_press(whisper, "1")
    second = driver.partner_press(whisper, "1")
    assert [el.tag for el in first] == [el.tag for el in second] == ["Say"]
    attempt = DialAttempt.objects.get()
    assert attempt.accepted and attempt.outcome == "accepted"


def test_partner_presses_1_after_the_caller_left_is_not_bridged(client):
    make_directory()
    driver = routed(client)
    whisper = driver.answer()
    driver.hangup(duration="15")
    root = driver.partner_press(whisper, "1")
    assert root[-1].tag == "Hangup"
    attempt = DialAttempt.objects.get()
    assert attempt.outcome == "canceled" and not attempt.accepted


def test_replayed_incoming_after_routing_returns_the_greeting_without_new_rows(client):
    make_directory()
    driver = routed(client)
    again = parse(post(client, "/twilio/voice/incoming", payload("incoming", **driver.base)))
    assert again.find("Gather") is not None
    assert Call.objects.count() == 1 and DialAttempt.objects.count() == 1
