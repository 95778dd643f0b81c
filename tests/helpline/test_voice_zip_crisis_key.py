"""The crisis key works at the ZIP question too, and the ZIP retry still says how to skip it.

The ZIP <Gather> takes five keys and ends on star, so a lone 9 reaches the view after the Gather's
timeout as ``Digits=9``. Nines and nothing else (no ZIP is all nines) go to 988 like everywhere else;
a real ZIP starting with 9 is a ZIP.
"""

from __future__ import annotations

import pytest

from helpline.models import Call, CallEvent, HelplineNumber
from helpline.voice.inbound import is_crisis_entry
from routing.engine import NATIONWIDE
from tests.factories import FacilityFactory
from tests.helpline.voice_support import CallDriver, fresh_routing_directory, spoken

pytestmark = pytest.mark.django_db
__all__ = ["fresh_routing_directory"]  # autouse fixture, imported to apply here

TOLL_FREE = "+18005550199"  # no place: the ZIP is asked


@pytest.fixture
def nationwide():
    facility = FacilityFactory(name="Nationwide", service_states=sorted(NATIONWIDE), phone="+15125550901")
    FacilityFactory(name="Austin only", service_states=["TX"], phone="+15125550902")  # a ZIP could change who answers
    HelplineNumber.objects.create(number="+18885550100")
    return facility


def asked_for_zip(root) -> bool:
    gather = root.find("Gather")
    return gather is not None and gather.get("numDigits") == "5"


@pytest.mark.parametrize(
    ("digits", "crisis"),
    [
        ("9", True),
        ("9#", True),
        ("99", True),
        ("999", True),
        ("99999", True),  # not a ZIP (the highest is 99950)
        ("90210", False),
        ("99501", False),
        ("9#9", True),
        ("19", False),
        ("", False),
        ("#", False),
        ("*", False),
    ],
)
def test_only_nines_are_the_crisis_key(digits, crisis):
    assert is_crisis_entry(digits) is crisis


@pytest.mark.parametrize("digits", ["9", "9#", "999"])
@pytest.mark.parametrize("retry", [False, True], ids=["asked", "retry"])
def test_nine_at_the_zip_question_dials_988(client, settings, nationwide, digits, retry):
    driver = CallDriver(client, from_=TOLL_FREE)
    driver.incoming()
    assert asked_for_zip(driver.press("1"))
    if retry:
        assert asked_for_zip(driver.press("00000"))
    root = driver.press(digits)  # Twilio posts it after the Gather's timeout: star did not end it
    assert [d.text for d in root.findall("Dial")] == [settings.CRISIS_LINE]
    assert "988 Suicide and Crisis Lifeline" in spoken(root)
    call = Call.objects.get()
    assert call.status == Call.Status.CRISIS and not call.attempts.exists()
    assert CallEvent.objects.filter(call=call, kind="ivr", status="crisis").exists()


def test_nine_at_the_spanish_zip_question_dials_988_in_spanish(client, settings, nationwide):
    driver = CallDriver(client, from_=TOLL_FREE)
    driver.incoming()
    driver.press("8")
    assert asked_for_zip(driver.press("1"))
    root = driver.press("9")
    assert root.find("Dial").text == settings.CRISIS_LINE
    assert root.find("Say").get("language") == "es-MX" and "988" in spoken(root)


@pytest.mark.parametrize("zip_code", ["90210", "99501"])
def test_a_real_zip_starting_with_nine_is_a_zip(client, nationwide, zip_code):
    driver = CallDriver(client, from_=TOLL_FREE)
    driver.incoming()
    driver.press("1")
    root = driver.press(zip_code)
    assert root.find("Dial/Number").text == str(nationwide.phone)
    call = Call.objects.get()
    assert (call.location_source, call.zip_code) == ("zip", zip_code) and call.status != Call.Status.CRISIS


def test_nine_then_star_is_a_zip_given_up_not_the_crisis_key(client, nationwide):
    driver = CallDriver(client, from_=TOLL_FREE)
    driver.incoming()
    driver.press("1")
    root = driver.press_params(Digits="9", FinishedOnKey="*")
    assert root.find("Dial/Number").text == str(nationwide.phone)
    assert Call.objects.get().status != Call.Status.CRISIS
    assert CallEvent.objects.filter(status="zip:skipped").exists()


@pytest.mark.parametrize(
    ("language", "skip"), [("en", "If you don't know it, press star."), ("es", "¿No lo sabe? Oprima asterisco.")]
)
def test_the_zip_retry_says_again_how_to_skip_it(client, nationwide, language, skip):
    driver = CallDriver(client, from_=TOLL_FREE)
    driver.incoming()
    if language == "es":
        driver.press("8")
    assert skip in spoken(driver.press("1"))
    retry = driver.press("00000")
    assert asked_for_zip(retry) and spoken(retry.find("Gather")).endswith(skip)
