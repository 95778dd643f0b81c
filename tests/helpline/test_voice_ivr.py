"""The IVR: greeting, crisis line, Spanish, service menu, location and ZIP, faults → fallback TwiML."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from helpline.models import Call, CallEvent, HelplineNumber
from helpline.privacy import caller_hash
from tests.factories import FacilityFactory
from tests.helpline.voice_support import (
    CallDriver,
    make_directory,
    parse,
    payload,
    post,
    said,
    spoken,
)

pytestmark = pytest.mark.django_db


def test_greeting_discloses_paid_providers_and_offers_crisis_and_spanish(client):
    make_directory()
    root = CallDriver(client).incoming()
    assert [el.tag for el in root] == ["Gather", "Gather", "Redirect"]  # silence never ends in silence
    first, menu = root.findall("Gather")
    assert first.get("numDigits") == menu.get("numDigits") == "1"
    # Part 1: the name, Spanish, who answers; a key pressed there says so on its action URL.
    text = spoken(first)
    assert "Free and confidential" in text and "treatment providers who pay to advertise" in text
    assert text.index("oprima 8") < text.index("pay to advertise")
    spanish = [s for s in first.iter("Say") if s.get("language") == "es-MX"]
    assert [s.text for s in spanish] == ["Para español, oprima 8."]
    assert "disclosed=0" in first.get("action")
    # Part 2: the crisis line before the services, detox first.
    text = spoken(menu)
    assert "Dial 9 1 1" in text and text.index("press 9") < text.index("For detox, press 1.")
    assert "disclosed" not in menu.get("action") and root.find("Redirect").text == menu.get("action")


def test_incoming_records_call_once_with_encrypted_number_and_hash(client):
    make_directory()
    driver = CallDriver(client)
    first = driver.incoming()
    params = payload("incoming", **driver.base)
    second = parse(post(client, "/twilio/voice/incoming", params))
    assert Call.objects.count() == 1
    call = Call.objects.get()
    assert said(first) == said(second)
    assert call.call_sid == driver.sid
    assert call.caller_hash == caller_hash("+15125550123")
    assert call.caller_number == "+15125550123"
    assert call.helpline_number is not None and call.is_test is False
    with connection.cursor() as cursor:
        cursor.execute("SELECT caller_number FROM helpline_call WHERE id = %s", [call.pk])
        stored = cursor.fetchone()[0]
    assert "5125550123" not in stored


def test_unknown_to_number_is_treated_as_the_general_helpline(client):
    make_directory()
    driver = CallDriver(client, to="+18885559999")
    driver.incoming()
    root = driver.press("1")  # detox
    call = Call.objects.get()
    assert call.helpline_number is None and call.listing_facility is None
    assert root.find("Dial/Number") is not None


def test_a_number_edited_in_the_admin_takes_effect_on_the_next_call(client):
    make_directory()
    CallDriver(client).incoming()
    listing = FacilityFactory(name="Lakeside Recovery")
    number = HelplineNumber.objects.get(number="+18885550100")
    number.kind, number.facility = HelplineNumber.Kind.LISTING, listing
    number.save()
    greeting = CallDriver(client).incoming()
    assert "Lakeside Recovery, through Clearline." in spoken(greeting)
    assert Call.objects.filter(listing_facility=listing).count() == 1


def test_crisis_option_dials_988_then_the_fallback_line(client, settings):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    root = driver.press("9")
    dials = root.findall("Dial")
    assert [d.text for d in dials] == [settings.CRISIS_LINE]
    assert "988 Suicide and Crisis Lifeline" in spoken(root)
    call = Call.objects.get()
    assert call.status == Call.Status.CRISIS
    assert CallEvent.objects.filter(call=call, kind="ivr", status="crisis").exists()
    action = dials[0].get("action")
    busy = parse(post(client, action, payload("dial_action", **driver.base, DialCallStatus="busy")))
    assert busy.find("Dial").text == settings.FALLBACK_LINE  # 988 did not connect: the default line
    done = parse(post(client, action, payload("dial_action", **driver.base, DialCallStatus="completed")))
    assert [el.tag for el in done] == ["Hangup"]  # 988 connected and ended: nothing more


def test_crisis_option_also_works_from_the_service_menu(client, settings):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    driver.press("8")
    root = driver.press("9")
    assert root.find("Dial").text == settings.CRISIS_LINE
    assert root.find("Say").get("language") == "es-MX"
    assert Call.objects.get().status == Call.Status.CRISIS


def test_spanish_keeps_the_rest_of_the_call_in_spanish(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    menu = driver.press("8")
    assert {s.get("language") for s in menu.iter("Say")} == {"es-MX"}
    # The Spanish caller hears who answers and the crisis line in Spanish before the services.
    text = spoken(menu)
    assert text.index("pagan por anunciarse") < text.index("oprima 9") < text.index("desintoxicación")
    root = driver.press("1")
    assert {s.get("language") for s in root.iter("Say")} == {"es-MX"}
    call = Call.objects.get()
    assert call.language == "es" and call.service == "detox"


def test_a_wrong_key_hears_the_menu_once_more_then_not_sure(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    again = driver.press("7")
    assert spoken(again).startswith("Sorry, I didn't get that.")
    assert "For detox, press 1." in spoken(again) and "press 9" in spoken(again)
    assert "Para español, oprima 8." in spoken(again)  # a wrong key may be a Spanish speaker's
    assert "try=2" in again.find("Gather").get("action")
    root = driver.press("7")  # invalid on the second try: no third menu
    assert root.find("Gather") is None
    assert root.find("Dial/Number") is not None
    assert "help you decide" in spoken(root)
    call = Call.objects.get()
    assert call.service == "unsure"
    statuses = set(CallEvent.objects.filter(call=call, kind="ivr").values_list("status", flat=True))
    assert {"service-invalid-1", "service-invalid-2", "service:unsure"} <= statuses


def test_silence_on_the_menu_goes_on_as_not_sure_after_one_timeout(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    root = driver.silence()
    assert root.find("Gather") is None
    assert root.find("Dial/Number") is not None
    assert "help you decide" in spoken(root)
    call = Call.objects.get()
    assert call.service == "unsure" and call.language == "en"
    statuses = list(CallEvent.objects.filter(call=call, kind="ivr").values_list("status", flat=True))
    assert "service-no-input-1" in statuses and "service:unsure" in statuses


def test_eight_pressed_again_on_the_spanish_menu_is_a_wrong_key_not_a_loop(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    driver.press("8")
    again = driver.press("8")
    assert spoken(again).startswith("Disculpe")
    root = driver.press("8")
    assert root.find("Dial/Number") is not None
    assert Call.objects.get().service == "unsure"


def test_the_legacy_greeting_step_still_serves_a_call_in_flight(client):
    """A call answered before the one-menu greeting posts its language to /voice/greeting."""
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    menu = parse(post(client, "/twilio/voice/greeting", payload("gather", **driver.base, Digits="2")))
    assert "pagan por anunciarse" in spoken(menu) and "oprima 9" in spoken(menu)
    driver.root = menu
    assert driver.press("1").find("Dial/Number") is not None
    assert Call.objects.get().language == "es"


def test_location_from_twilio_fromzip_needs_no_zip_question(client):
    make_directory()
    driver = CallDriver(client, FromZip="78701", FromState="TX")
    driver.incoming()
    root = driver.press("3")
    assert root.find("Dial/Number") is not None
    call = Call.objects.get()
    assert (call.location_source, call.zip_code, call.state) == ("twilio", "78701", "TX")
    assert call.zip_attempts == 0


def test_location_from_area_code_when_twilio_sends_none(client):
    make_directory()
    driver = CallDriver(client)  # +1 512: Austin area code, no FromZip/FromState
    driver.incoming()
    root = driver.press("2")
    assert root.find("Dial/Number") is not None
    call = Call.objects.get()
    assert (call.location_source, call.state) == ("area_code", "TX")


def test_zip_is_asked_when_location_unknown_and_used_for_routing(client):
    make_directory()
    driver = CallDriver(client, from_="+18005550199")  # toll-free: no place
    driver.incoming()
    ask = driver.press("1")
    gather = ask.find("Gather")
    assert gather is not None and gather.get("numDigits") == "5"
    assert "5-digit ZIP code" in spoken(ask)
    root = driver.press("78701")
    assert root.find("Dial/Number") is not None
    call = Call.objects.get()
    assert (call.location_source, call.zip_code, call.state) == ("zip", "78701", "TX")
    assert call.caller_area and "5550199" not in call.caller_area


def test_zip_retry_then_continue_as_unknown(client, settings):
    FacilityFactory(name="Nationwide", service_states=sorted(__import__("routing.engine").engine.NATIONWIDE))
    FacilityFactory(name="Austin only", service_states=["TX"])  # a ZIP could change who answers: asked
    HelplineNumber.objects.create(number="+18885550100")
    driver = CallDriver(client, from_="+18005550199")
    driver.incoming()
    driver.press("1")
    retry = driver.press("00000")  # not a real ZIP
    assert "not recognized" in spoken(retry)
    assert "try=2" in retry.find("Gather").get("action")
    root = driver.silence()
    assert root.find("Gather") is None
    assert "We will find someone who can help" in spoken(root)
    assert root.find("Dial/Number") is not None  # a nationwide provider still takes unknown callers
    call = Call.objects.get()
    assert call.location_source == "unknown" and call.zip_attempts == 1  # silence is not an attempt


def test_database_error_inside_a_voice_view_serves_fallback_twiml(client, settings, caplog):
    make_directory()
    driver = CallDriver(client)
    with mock.patch("helpline.calls.services.call_record_incoming", autospec=True, side_effect=DatabaseError("down")):
        response = post(client, "/twilio/voice/incoming", payload("incoming", **driver.base))
    root = parse(response)
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert {s.get("language") for s in root.iter("Say")} == {"en-US", "es-MX"}
    assert Call.objects.count() == 0
    assert "DatabaseError" in caplog.text and "5125550123" not in caplog.text


def test_fault_in_a_menu_step_also_serves_fallback(client, settings):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    with mock.patch("helpline.calls.services.call_set_service", autospec=True, side_effect=RuntimeError("bug")):
        root = driver.press("1")
    assert root.find("Dial").text == settings.FALLBACK_LINE


def test_static_fallback_needs_no_database(client, settings):
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/twilio/voice/fallback", {"CallSid": "CAx"})
    root = parse(response)
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert len(queries) == 0


def test_menu_step_for_a_call_whose_row_was_lost_records_it_and_carries_on(client):
    """The incoming row commits without waiting for the WAL flush; a later webhook re-creates it."""
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    Call.objects.all().delete()
    menu = driver.press("8")
    assert "desintoxicación" in spoken(menu)
    call = Call.objects.get(call_sid=driver.sid)
    assert call.language == "es" and call.caller_hash == caller_hash("+15125550123")


@pytest.mark.parametrize("dial_status", ["busy", "no-answer", "failed"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_failed_988_says_the_crisis_line_was_not_reached_and_988_to_dial_before_the_fallback(
    client, settings, dial_status, language
):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    if language == "es":
        driver.press("8")
    action = driver.press("9").find("Dial").get("action")
    root = parse(post(client, action, payload("dial_action", **driver.base, DialCallStatus=dial_status)))
    assert [el.tag for el in root][:2] == ["Say", "Dial"] and root.find("Dial").text == settings.FALLBACK_LINE
    before_dial = root.find("Say").text or ""
    assert root.find("Say").get("language") == {"en": "en-US", "es": "es-MX"}[language]
    assert "9 8 8" in before_dial  # read digit by digit, to dial directly
    assert before_dial.index("9 8 8") < before_dial.index(settings.FALLBACK_LINE_NAME)
    if language == "en":
        assert "could not reach the crisis line" in before_dial
        assert "treatment provider" not in spoken(root)
    else:
        assert "la línea de crisis" in before_dial
        assert "proveedor" not in spoken(root)
