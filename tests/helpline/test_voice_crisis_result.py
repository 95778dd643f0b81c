"""A caller whose 988 call did not connect is on the call's timeline and flagged for staff follow-up.

Twilio posts the crisis <Dial>'s action with how the 988 leg ended. Reached: recorded, not flagged.
Busy, no answer, failed, or hung up while it rang: recorded, the call flagged with the reason, and the
caller hears that the crisis line could not be reached, 988 to dial, then the default line.
"""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from helpline.models import Call, CallEvent
from tests.factories import StaffFactory
from tests.helpline.voice_support import (
    CallDriver,
    fresh_routing_directory,
    make_directory,
    parse,
    payload,
    post,
    spoken,
)

pytestmark = pytest.mark.django_db
__all__ = ["fresh_routing_directory"]  # autouse fixture, imported to apply here


def crisis_call(client, *, language: str = "en") -> tuple[CallDriver, str]:
    """A caller who pressed 9; returns the driver and the 988 <Dial>'s action URL."""
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    if language == "es":
        driver.press("8")
    root = driver.press("9")
    action = root.find("Dial").get("action")
    assert action
    return driver, action


def crisis_result(client, driver: CallDriver, action: str, status: str, **extra: str):
    params = payload("dial_action", **driver.base, DialCallStatus=status, **extra)
    return parse(post(client, action, params))


def timeline(client, call: Call) -> str:
    client.force_login(StaffFactory())
    return client.get(f"/admin/helpline/call/{call.pk}/change/").content.decode()


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("busy", "Not reached: busy"),
        ("no-answer", "Not reached: no answer"),
        ("failed", "Not reached: the call failed"),
    ],
)
def test_988_not_reached_is_recorded_flagged_and_shown_on_the_timeline(client, settings, status, words):
    driver, action = crisis_call(client)
    root = crisis_result(client, driver, action, status)
    assert "could not reach the crisis line" in spoken(root)
    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    event = CallEvent.objects.get(call=call, kind="crisis-line")
    assert event.status == status and event.detail == {"reached": False, "then": "offered the default line"}
    assert call.needs_followup and call.status == Call.Status.CRISIS
    assert call.outcome_reason == f"988 crisis line not reached ({status}); offered the default line"
    body = timeline(client, call)
    assert "988 crisis line" in body
    assert f"{words}; offered the default line; flagged for staff follow-up" in body


def test_988_reached_is_recorded_and_not_flagged(client):
    driver, action = crisis_call(client)
    root = crisis_result(client, driver, action, "completed", DialCallDuration="312")
    assert [el.tag for el in root] == ["Hangup"]
    call = Call.objects.get()
    event = CallEvent.objects.get(call=call, kind="crisis-line")
    assert event.status == "completed" and event.detail == {"reached": True, "seconds": 312}
    assert not call.needs_followup and call.outcome_reason == "caller chose the crisis line"
    body = timeline(client, call)
    assert "988 crisis line" in body and "Reached, talked 5:12" in body and "flagged" not in body


def test_a_caller_who_hangs_up_while_988_rings_is_flagged_too(client):
    driver, action = crisis_call(client, language="es")
    root = crisis_result(client, driver, action, "canceled", CallStatus="completed")
    assert [el.tag for el in root] == ["Hangup"]  # nobody left to speak to
    call = Call.objects.get()
    assert call.needs_followup and call.outcome_reason == "988 crisis line not reached (canceled); caller hung up"


def test_a_resent_result_is_stored_once_and_does_not_reopen_a_follow_up_staff_closed(client):
    driver, action = crisis_call(client)
    crisis_result(client, driver, action, "busy")
    Call.objects.update(needs_followup=False, followup_note="Called back, reached 988 together.")
    again = crisis_result(client, driver, action, "busy")
    assert "could not reach the crisis line" in spoken(again)
    assert CallEvent.objects.filter(kind="crisis-line").count() == 1
    assert not Call.objects.get().needs_followup


def test_an_unknown_dial_status_is_recorded_as_not_reached(client):
    driver, action = crisis_call(client)
    crisis_result(client, driver, action, "in-progress")  # not a way a <Dial> ends
    event = CallEvent.objects.get(kind="crisis-line")
    assert event.status == "unknown" and Call.objects.get().needs_followup


def test_a_fault_recording_the_result_still_answers_the_caller(client, settings, caplog):
    driver, action = crisis_call(client)
    caplog.set_level(logging.ERROR, logger="helpline.voice.inbound")
    with mock.patch(
        "helpline.calls.services.call_record_crisis_result", autospec=True, side_effect=DatabaseError("down")
    ):
        root = crisis_result(client, driver, action, "no-answer")
    assert "could not reach the crisis line" in spoken(root)  # the crisis words, not the generic fault line
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert "Recording the 988 result failed (DatabaseError)" in caplog.text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="round trips are counted on PostgreSQL")
def test_recording_the_result_stays_within_the_step_budget(client):
    driver, action = crisis_call(client)
    with CaptureQueriesContext(connection) as ctx:
        crisis_result(client, driver, action, "failed")
    assert len(ctx.captured_queries) <= 4, [q["sql"][:80] for q in ctx.captured_queries]
