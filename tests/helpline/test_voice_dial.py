"""Dialing partners: whisper and press 1, failover, fallback line, deadline, listing numbers, hang-ups."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from helpline.models import Call, DialAttempt, HelplineNumber
from routing.models import PartnerCounter
from tests.factories import FacilityFactory, HelplineNumberFactory, OpeningHoursFactory
from tests.helpline.voice_support import CallDriver, make_directory, spoken

pytestmark = pytest.mark.django_db


def routed(client, **driver_kwargs) -> CallDriver:
    """A caller from Austin who chose English and detox; the first partner is ringing."""
    driver = CallDriver(client, **driver_kwargs)
    driver.incoming()
    driver.press("1")
    return driver


def active_calls(facility) -> int:
    counter = PartnerCounter.objects.filter(partner_id=facility.partner_id).first()
    return counter.active_calls if counter else 0


def test_dial_rings_first_partner_with_whisper_and_bounded_timeout(client, settings):
    a, _b, _c = make_directory()
    driver = routed(client)
    dial = driver.dial()
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("timeout") == str(settings.DIAL_RING_TIMEOUT_SECONDS)
    assert dial.get("callerId") == "+18885550100"  # the partner never sees the caller's number
    number = driver.number()
    assert number.text == str(a.phone)
    assert "/twilio/voice/whisper?attempt=" in number.get("url")
    assert number.get("statusCallback").startswith(settings.PUBLIC_BASE_URL)
    assert active_calls(a) == 1
    call = Call.objects.get()
    assert call.status == Call.Status.DIALING and call.routing_decision is not None


def test_whisper_names_service_and_area_never_the_caller(client):
    make_directory()
    driver = routed(client)
    whisper = driver.answer()
    gather = whisper.find("Gather")
    assert gather.get("numDigits") == "1"
    text = spoken(gather)
    assert "helpline call" in text and "detox" in text and "TX" in text and "Press 1" in text
    assert "5125550123" not in text and "0123" not in text
    # No key pressed: the partner leg is hung up (voicemail / phone menus are never bridged).
    assert whisper[-1].tag == "Hangup"


def test_failover_busy_then_no_answer_then_accept(client, settings):
    a, b, c = make_directory()
    driver = routed(client)
    driver.dial_result("busy")
    assert driver.number().text == str(b.phone)
    assert "Trying another one" in spoken(driver.root)
    driver.dial_result("no-answer")
    assert driver.number().text == str(c.phone)
    whisper = driver.answer()
    accepted = driver.partner_press(whisper, "1")
    assert accepted.find("Hangup") is None  # an empty-ish document ends the whisper and bridges the call
    call = Call.objects.get()
    assert call.status == Call.Status.CONNECTED and call.connected_partner_id == c.partner_id
    with mock.patch("partners.billing.rule.bill_call", autospec=True) as bill:
        with django_on_commit():
            end = driver.dial_result("completed", duration="245")
    assert end[-1].tag == "Hangup"
    call.refresh_from_db()
    assert call.status == Call.Status.COMPLETED
    assert call.talk_seconds == 245 and call.connected_facility_id == c.pk
    outcomes = list(call.attempts.values_list("partner_id", "outcome", "accepted", "talk_seconds"))
    assert outcomes == [
        (a.partner_id, "busy", False, 0),
        (b.partner_id, "no-answer", False, 0),
        (c.partner_id, "completed", True, 245),
    ]
    bill.assert_called_once_with(call_id=call.pk)
    assert [active_calls(f) for f in (a, b, c)] == [0, 0, 0]


def test_voicemail_answers_but_never_presses_1_so_it_is_not_accepted(client):
    a, b, _c = make_directory()
    driver = routed(client)
    driver.answer()  # the voicemail greeting plays over the whisper; no digit comes
    root = driver.dial_result("completed", duration="31")
    assert driver.number().text == str(b.phone)
    attempt = DialAttempt.objects.get(partner_id=a.partner_id)
    assert (attempt.outcome, attempt.accepted, attempt.talk_seconds) == ("not-accepted", False, 0)
    assert root.find("Dial") is not None


def test_partner_pressing_another_key_declines(client):
    a, b, _c = make_directory()
    driver = routed(client)
    whisper = driver.answer()
    declined = driver.partner_press(whisper, "2")
    assert declined[-1].tag == "Hangup"
    driver.dial_result("completed", duration="9")
    assert DialAttempt.objects.get(partner_id=a.partner_id).outcome == "not-accepted"
    assert driver.number().text == str(b.phone)


def test_all_partners_fail_then_fallback_line_and_followup(client, settings):
    make_directory(count=2)
    driver = routed(client)
    driver.dial_result("busy")
    root = driver.dial_result("failed")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert settings.FALLBACK_LINE_NAME in spoken(root)
    assert root[-1].tag == "Say"  # even if the fallback line fails, the caller hears what to do
    call = Call.objects.get()
    assert call.status == Call.Status.FALLBACK and call.needs_followup
    assert "no partner left after 2 attempt(s)" in call.outcome_reason


def test_attempts_stop_at_the_configured_maximum(client, settings):
    settings.DIAL_MAX_ATTEMPTS = 2
    make_directory(count=3)
    driver = routed(client)
    driver.dial_result("no-answer")
    root = driver.dial_result("no-answer")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert DialAttempt.objects.count() == 2


def test_nobody_eligible_goes_straight_to_fallback(client, settings):
    HelplineNumberFactory(number="+18885550100")
    FacilityFactory(service_states=["CA"])  # not in Texas
    driver = CallDriver(client)
    driver.incoming()
    ask = driver.press("1")  # nobody at state level: a ZIP might place the caller elsewhere, asked once
    assert ask.find("Gather").get("numDigits") == "5"
    root = driver.press("78701")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    assert call.needs_followup and call.outcome_reason == "nobody eligible"
    assert not DialAttempt.objects.exists()


def test_routing_deadline_exceeded_goes_to_fallback(client, settings):
    settings.CALL_ROUTING_DEADLINE_SECONDS = 60
    make_directory()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        driver = routed(client)
    with time_machine.travel(start + dt.timedelta(seconds=45), tick=False):
        driver.dial_result("no-answer")
        assert driver.dial().get("timeout") == "15"  # the ring time never runs past the deadline
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        root = driver.dial_result("no-answer")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    assert call.status == Call.Status.FALLBACK and "deadline" in call.outcome_reason


def test_caller_hangs_up_mid_dial_stops_and_releases_once(client):
    a, _b, _c = make_directory()
    driver = routed(client)
    assert active_calls(a) == 1
    with mock.patch("partners.billing.rule.bill_call", autospec=True) as bill:
        with django_on_commit():
            root = driver.dial_result("canceled", call_status="completed")
            driver.hangup(duration="25")
    assert root[-1].tag == "Hangup" and root.find("Dial") is None
    call = Call.objects.get()
    assert call.status == Call.Status.ABANDONED and call.duration_seconds == 25
    assert DialAttempt.objects.get().outcome == "canceled"
    assert DialAttempt.objects.count() == 1
    assert active_calls(a) == 0
    assert bill.call_count >= 1 and all(c.kwargs == {"call_id": call.pk} for c in bill.call_args_list)


def test_caller_hangup_status_before_dial_action(client):
    a, _b, _c = make_directory()
    driver = routed(client)
    driver.hangup(duration="12")  # the parent's completed callback wins the race
    root = driver.dial_result("canceled", call_status="completed")
    assert root.find("Dial") is None
    assert DialAttempt.objects.get().outcome == "canceled"
    assert active_calls(a) == 0
    assert Call.objects.get().status == Call.Status.ABANDONED


def test_partner_at_concurrent_cap_is_skipped(client):
    a, b, _c = make_directory()
    a.partner.concurrent_call_cap = 1
    a.partner.save()
    busy = routed(client)  # the first caller takes A's only slot
    assert busy.number().text == str(a.phone)
    second = routed(client)
    assert second.number().text == str(b.phone)


def test_listing_number_rings_its_facility_and_says_so(client):
    make_directory()
    listing = FacilityFactory(name="Lakeside Recovery", phone="+15125559876")
    HelplineNumber.objects.create(number="+18885550177", kind="listing", facility=listing)
    driver = CallDriver(client, to="+18885550177")
    greeting = driver.incoming()
    assert "Lakeside Recovery" in spoken(greeting)
    driver.press("3")
    assert driver.number().text == "+15125559876"
    whisper = driver.answer()
    assert "from your listing for Lakeside Recovery" in spoken(whisper)
    assert Call.objects.get().listing_facility == listing


def test_listing_unanswered_fails_over_to_the_pool_and_whisper_says_so(client):
    a, _b, _c = make_directory()
    listing = FacilityFactory(name="Lakeside Recovery", phone="+15125559876")
    HelplineNumber.objects.create(number="+18885550177", kind="listing", facility=listing)
    driver = CallDriver(client, to="+18885550177")
    driver.incoming()
    driver.press("3")
    driver.dial_result("no-answer")
    assert driver.number().text == str(a.phone)
    whisper = driver.answer()
    assert "listing of another facility, which did not answer" in spoken(whisper)
    call = Call.objects.get()
    assert call.pool_decision is not None and call.routing_decision != call.pool_decision


def test_listing_closed_goes_to_the_pool_and_whisper_says_closed(client):
    a, _b, _c = make_directory()
    # Open only on a weekday we are not on right now, in its own time zone.
    listing = FacilityFactory(name="Lakeside Recovery", phone="+15125559876", open_24_7=False)
    today = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=-6))).weekday()
    OpeningHoursFactory(facility=listing, weekday=(today + 3) % 7)
    HelplineNumber.objects.create(number="+18885550177", kind="listing", facility=listing)
    driver = CallDriver(client, to="+18885550177")
    driver.incoming()
    driver.press("3")
    assert driver.number().text == str(a.phone)
    assert "which is closed right now" in spoken(driver.answer())


def test_redelivered_dial_action_gets_the_same_answer_and_no_extra_leg(client):
    _a, b, _c = make_directory()
    driver = routed(client)
    action = driver.dial().get("action")
    first = driver.dial_result("busy")
    from tests.helpline.voice_support import parse, payload, post

    params = payload("dial_action", **driver.base, DialCallStatus="busy", DialCallSid=driver.leg_sids[0])
    params["CallStatus"] = "in-progress"
    again = parse(post(client, action, params))
    assert again.find("Dial/Number").text == first.find("Dial/Number").text == str(b.phone)
    assert DialAttempt.objects.count() == 2


def django_on_commit():
    """Run on-commit callbacks inside the test transaction (pytest-django's fixture, as a context)."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)
