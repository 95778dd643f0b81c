"""A partner with a webhook hears about a connected call: one signed event, no caller number."""

from __future__ import annotations

import json

import pytest

from helpline.models import Call
from partners.models import WebhookEvent
from tests.helpline.voice_support import CallDriver, make_directory

pytestmark = pytest.mark.django_db


def test_accepted_call_queues_one_call_connected_event_without_the_number(client):
    a, _b, _c = make_directory()
    a.partner.webhook_url = "https://partner.example.org/hooks"
    a.partner.webhook_secret = "s3cret-for-tests"
    a.partner.save(update_fields=["webhook_url", "webhook_secret"])
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    driver.press("1")
    whisper = driver.answer()
    driver.partner_press(whisper, "1")
    driver.partner_press(whisper, "1")  # Twilio re-delivers the keypress: still one event

    events = list(WebhookEvent.objects.filter(partner=a.partner))
    assert [e.event for e in events] == ["call.connected"]
    call = Call.objects.get()
    assert events[0].payload["call_id"] == call.pk
    assert events[0].payload["service"] == "detox"
    assert "5125550123" not in json.dumps(events[0].payload)


def test_partner_without_webhook_gets_no_event(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    driver.partner_press(driver.answer(), "1")
    assert Call.objects.get().status == Call.Status.CONNECTED
    assert not WebhookEvent.objects.exists()
