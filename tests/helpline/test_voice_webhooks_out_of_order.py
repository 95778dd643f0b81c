"""QA regressions: webhooks out of order and without a CallSid.

A caller who hangs up while the incoming webhook is still being answered makes Twilio post the final
status callback first, for a CallSid we have not recorded yet. The call must still end up closed
(abandoned, with its end time and the event attached), not stuck in the IVR for ever. A request
without a CallSid must not create a call row that every other such request then shares.
"""

from __future__ import annotations

import pytest

from helpline.models import Call, CallEvent
from tests.helpline.voice_support import (
    CallDriver,
    make_directory,
    parse,
    payload,
    post,
)

pytestmark = pytest.mark.django_db


def test_final_status_before_incoming_closes_the_call(client):
    make_directory()
    driver = CallDriver(client)
    assert driver.hangup(duration="3").status_code == 204  # arrives first: no call row yet
    root = driver.incoming()  # the slow incoming webhook finishes afterwards
    assert root.tag == "Response" and len(root) > 0
    call = Call.objects.get()
    assert call.status == Call.Status.ABANDONED
    assert call.ended_at is not None and call.duration_seconds == 3
    assert call.twilio_status == "completed"
    assert list(CallEvent.objects.filter(kind="call-status").values_list("call_id", flat=True)) == [call.pk]


def test_replayed_final_status_after_the_late_incoming_changes_nothing_twice(client):
    make_directory()
    driver = CallDriver(client)
    driver.hangup(duration="3")
    driver.incoming()
    ended = Call.objects.get().ended_at
    assert driver.hangup(duration="3").status_code == 204
    call = Call.objects.get()
    assert call.ended_at == ended and call.status == Call.Status.ABANDONED
    assert CallEvent.objects.filter(kind="call-status").count() == 1


def test_non_final_status_before_incoming_leaves_the_call_live(client):
    make_directory()
    driver = CallDriver(client)
    params = payload("status_callback", **driver.base)
    params.update(CallStatus="ringing", SequenceNumber="0")
    post(client, "/twilio/voice/status", params)
    driver.incoming()
    assert Call.objects.get().status == Call.Status.IVR
    assert driver.press("1").find("Dial") is not None


@pytest.mark.parametrize("path", ["/twilio/voice/incoming", "/twilio/voice/greeting", "/twilio/voice/service?try=1"])
def test_empty_call_sid_gets_the_fallback_line_and_writes_no_call(client, path):
    make_directory()
    for _ in range(2):
        root = parse(post(client, path, payload("gather", CallSid="")))
        dial = root.find("Dial")
        assert dial is not None and dial.get("timeout")
    assert Call.objects.count() == 0
