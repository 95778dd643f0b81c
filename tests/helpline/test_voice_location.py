"""Location precision and the ZIP question in the IVR: each caller-ID situation, star, silence, failover.

The ZIP is asked only when it could change who answers (``routing.zip_question``),
once per call; the answer is kept on the call for every failover.
"""

from __future__ import annotations

import pytest

from helpline.models import Call, CallEvent, HelplineNumber
from routing.engine import NATIONWIDE
from routing.models import RoutingDecision
from tests.factories import FacilityFactory, HelplineNumberFactory, PartnerFactory
from tests.helpline.voice_support import CallDriver, spoken

pytestmark = pytest.mark.django_db

CHICAGO_MOBILE = "+13125550142"


def chicago_directory() -> tuple:
    """The issue's directory: two Chicago partners with areas finer than Illinois, nobody state-wide."""
    HelplineNumberFactory(number="+18885550100", kind=HelplineNumber.Kind.GENERAL)
    prefixes = FacilityFactory(
        partner=PartnerFactory(display_name="Lakefront Recovery"),
        name="Lakefront Recovery Loop",
        city="Chicago", state="IL", zip_code="60601", latitude=41.8858, longitude=-87.6181,
        phone="+13125550900", services=["residential", "detox"],
        service_states=[], service_zip_prefixes=["606", "607"],
    )  # fmt: skip
    radius = FacilityFactory(
        partner=PartnerFactory(display_name="North Shore Health"),
        name="North Shore Evanston",
        city="Evanston", state="IL", zip_code="60201", latitude=42.0464, longitude=-87.6931,
        phone="+18475550901", services=["residential"],
        service_states=[], service_radius_miles=100,
    )  # fmt: skip
    return prefixes, radius


def austin_local(**kwargs):
    """A partner dialed before state-wide ones (priority 1) serving Austin's prefixes 786 and 787: most of
    area code 512's ZIPs (93 of 123), so knowing the ZIP changes the first dial for most 512 callers."""
    return FacilityFactory(
        partner=PartnerFactory(priority=1), service_states=[], service_zip_prefixes=["786", "787"],
        phone="+15125550902", **kwargs,
    )  # fmt: skip


def dialed(root) -> str:
    number = root.find("Dial/Number")
    assert number is not None, spoken(root)
    return number.text or ""


def asked_for_zip(root) -> bool:
    gather = root.find("Gather")
    return gather is not None and gather.get("numDigits") == "5"


# --- the Chicago caller ----------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"FromState": "IL"}], ids=["area-code-only", "fromstate-only"])
def test_chicago_mobile_without_fromzip_is_asked_for_a_zip_and_reaches_a_chicago_partner(client, extra):
    prefixes, radius = chicago_directory()
    driver = CallDriver(client, from_=CHICAGO_MOBILE, **extra)
    driver.incoming()
    ask = driver.press("2")  # residential
    assert asked_for_zip(ask)
    assert "press star" in spoken(ask)
    root = driver.press("60601")
    assert dialed(root) in {str(prefixes.phone), str(radius.phone)}
    call = Call.objects.get()
    assert (call.location_source, call.location_precision, call.zip_code) == ("zip", "zip", "60601")
    decision = RoutingDecision.objects.get(pk=call.routing_decision_id)
    assert (decision.location_source, decision.location_precision, decision.zip_code) == ("zip", "zip", "60601")
    asked = CallEvent.objects.get(call=call, status="zip:asked")
    assert asked.detail["why"] == "nobody in IL can take residential treatment now without a ZIP"


def test_state_level_decision_records_precision_and_the_approximate_place_for_staff(client):
    chicago_directory()
    driver = CallDriver(client, from_=CHICAGO_MOBILE)
    driver.incoming()
    driver.press("2")
    root = driver.press("*")  # does not know the ZIP
    call = Call.objects.get()
    assert (call.location_source, call.location_precision, call.state) == ("area_code", "state", "IL")
    assert call.location_hint == "Chicago, IL"  # a hint only ...
    decision = RoutingDecision.objects.get(pk=call.routing_decision_id)
    assert (decision.location_precision, decision.location_hint) == ("state", "Chicago, IL")
    assert decision.chosen == []  # ... it never widens an area: nobody serves all of Illinois
    assert root.find("Dial") is not None and root.find("Dial/Number") is None  # the fallback line, not silence


# --- each caller-ID situation ------------------------------------------------------------------------


def test_landline_with_fromzip_is_never_asked(client):
    prefixes, radius = chicago_directory()
    driver = CallDriver(client, from_="+17735550100", FromZip="60614", FromState="IL")
    driver.incoming()
    root = driver.press("2")
    assert not asked_for_zip(root)
    assert dialed(root) in {str(prefixes.phone), str(radius.phone)}
    call = Call.objects.get()
    assert (call.location_source, call.location_precision, call.zip_code) == ("twilio", "zip", "60614")
    assert call.zip_asked_at is None and call.location_hint == ""


def test_fromstate_only_mobile_is_asked_when_another_states_partner_reaches_in_by_prefix(client):
    HelplineNumberFactory(number="+18885550100")
    FacilityFactory(service_states=["TX"], phone="+15125550901")
    border = FacilityFactory(
        partner=PartnerFactory(priority=1), service_states=["OK"], service_zip_prefixes=["786", "787"],
        phone="+14055550902",
    )  # fmt: skip
    driver = CallDriver(client, from_="+15125550123", FromState="TX")
    driver.incoming()
    ask = driver.press("1")
    call = Call.objects.get()
    assert (call.location_source, call.location_precision) == ("twilio", "state")
    assert asked_for_zip(ask)  # the OK partner, dialed first, serves most of area code 512: the ZIP matters
    root = driver.press("78701")
    assert dialed(root) in {"+15125550901", str(border.phone)}


def test_state_caller_is_not_asked_when_no_finer_area_offers_the_service(client):
    HelplineNumberFactory(number="+18885550100")
    statewide = FacilityFactory(service_states=["TX"], phone="+15125550901", services=["detox"])
    FacilityFactory(service_states=[], service_zip_prefixes=["787"], services=["outpatient"])
    driver = CallDriver(client, from_="+15125550123", FromState="TX")
    driver.incoming()
    root = driver.press("1")  # detox: the prefix facility does not offer it
    assert not asked_for_zip(root)
    assert dialed(root) == str(statewide.phone)
    call = Call.objects.get()
    assert (call.location_source, call.location_precision, call.zip_asked_at) == ("twilio", "state", None)


def test_area_code_only_caller_is_asked_when_a_zip_area_reaches_into_the_state(client):
    HelplineNumberFactory(number="+18885550100")
    FacilityFactory(service_states=["TX"], phone="+15125550901")
    local = austin_local()
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    assert asked_for_zip(driver.press("3"))
    root = driver.press("78701")
    assert dialed(root) in {"+15125550901", str(local.phone)}
    assert Call.objects.get().location_precision == "zip"


@pytest.mark.parametrize(
    "caller", ["+18005550199", "anonymous", "+266696687", "+442071838750"], ids=["toll-free", "withheld", "anon", "uk"]
)
def test_callers_with_no_place_are_asked_when_any_facility_serves_less_than_every_state(client, caller):
    HelplineNumberFactory(number="+18885550100")
    national = FacilityFactory(service_states=sorted(NATIONWIDE), phone="+15125550901")
    FacilityFactory(service_states=["TX"], phone="+15125550902")
    driver = CallDriver(client, from_=caller)
    driver.incoming()
    ask = driver.press("1")
    assert asked_for_zip(ask)
    call = Call.objects.get()
    assert (call.location_source, call.location_precision, call.location_hint) == ("unknown", "none", "")
    root = driver.press("*")
    assert dialed(root) == str(national.phone)  # only the nationwide facility serves an unplaced caller


def test_callers_with_no_place_are_not_asked_when_every_facility_serves_every_state(client):
    HelplineNumberFactory(number="+18885550100")
    national = FacilityFactory(service_states=sorted(NATIONWIDE), phone="+15125550901")
    driver = CallDriver(client, from_="+18005550199")
    driver.incoming()
    root = driver.press("1")
    assert dialed(root) == str(national.phone)


def test_state_caller_is_asked_when_the_state_level_decision_is_empty(client):
    """Nobody can take the call at state level (the only state-wide partner is paused): a ZIP may help."""
    HelplineNumberFactory(number="+18885550100")
    paused = FacilityFactory(service_states=["TX", "OK"], phone="+15125550901")
    paused.partner.status = "paused"
    paused.partner.save()
    oklahoma = FacilityFactory(service_states=["OK"], phone="+14055550902")
    driver = CallDriver(client, from_="+15125550123", FromState="TX")  # a Texan mobile, in Oklahoma today
    driver.incoming()
    ask = driver.press("1")
    assert asked_for_zip(ask)
    call = Call.objects.get()
    assert call.routing_decision_id is None  # the empty state-level decision was set aside (still logged)
    assert RoutingDecision.objects.filter(location_precision="state", chosen=[]).count() == 1
    root = driver.press("73102")  # Oklahoma City
    assert dialed(root) == str(oklahoma.phone)


# --- star, silence, bad keys, never twice ------------------------------------------------------------


def test_star_skips_the_zip_at_once_and_routes_with_the_state(client):
    HelplineNumberFactory(number="+18885550100")
    statewide = FacilityFactory(service_states=["TX"], phone="+15125550901")
    austin_local()
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    ask = driver.press("1")
    gather = ask.find("Gather")
    assert gather is not None
    assert gather.get("finishOnKey") == "*" and gather.get("actionOnEmptyResult") == "true"
    # Twilio posts an empty Digits with FinishedOnKey=* when the caller presses star.
    root = driver.press_params(Digits="", FinishedOnKey="*")
    assert dialed(root) == str(statewide.phone)
    call = Call.objects.get()
    assert call.location_precision == "state" and call.zip_attempts == 0
    assert CallEvent.objects.filter(call=call, status="zip:skipped").exists()


def test_silence_on_the_zip_question_continues_with_what_is_known_without_asking_again(client):
    HelplineNumberFactory(number="+18885550100")
    statewide = FacilityFactory(service_states=["TX"], phone="+15125550901")
    austin_local()
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    driver.press("1")
    root = driver.press_params(Digits="", FinishedOnKey="")  # actionOnEmptyResult: the timeout posts
    assert not asked_for_zip(root)
    assert dialed(root) == str(statewide.phone)
    assert CallEvent.objects.filter(status="zip:no-input").count() == 1


def test_an_unknown_zip_gets_one_retry_then_goes_on_with_the_state(client):
    HelplineNumberFactory(number="+18885550100")
    statewide = FacilityFactory(service_states=["TX"], phone="+15125550901")
    austin_local()
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    driver.press("1")
    retry = driver.press("00000")
    assert asked_for_zip(retry) and "not recognized" in spoken(retry)
    root = driver.press("00001")
    assert dialed(root) == str(statewide.phone)
    assert Call.objects.get().zip_attempts == 2


def test_failover_reuses_the_zip_and_never_asks_twice(client):
    """A listing call whose facility does not answer goes to the pool with the ZIP given earlier."""
    HelplineNumberFactory(number="+18885550100")
    listing = FacilityFactory(service_states=["TX"], phone="+15125550901")
    HelplineNumberFactory(number="+18885550200", kind=HelplineNumber.Kind.LISTING, facility=listing)
    local = austin_local()
    listing.open_24_7 = False  # closed now: the listing call goes to the pool, so the ZIP matters
    listing.save()
    driver = CallDriver(client, from_="+15125550123", to="+18885550200")
    driver.incoming()
    assert asked_for_zip(driver.press("1"))
    root = driver.press("78701")
    assert dialed(root) == str(local.phone)
    root = driver.dial_result("no-answer")
    assert not asked_for_zip(root)
    call = Call.objects.get()
    assert call.zip_code == "78701" and call.zip_attempts == 1
    assert CallEvent.objects.filter(call=call, status="zip:asked").count() == 1


def test_a_replayed_service_step_after_the_question_does_not_ask_again(client):
    HelplineNumberFactory(number="+18885550100")
    statewide = FacilityFactory(service_states=["TX"], phone="+15125550901")
    austin_local()
    driver = CallDriver(client, from_="+15125550123")
    menu = driver.incoming()
    assert asked_for_zip(driver.press("1"))
    driver.root = menu
    root = driver.press("1")  # Twilio re-sends the service menu's answer
    assert not asked_for_zip(root)
    assert dialed(root) == str(statewide.phone)


def test_listing_call_to_an_open_listing_facility_is_not_asked(client):
    HelplineNumberFactory(number="+18885550100")
    listing = FacilityFactory(service_states=["TX"], phone="+15125550901")
    HelplineNumberFactory(number="+18885550200", kind=HelplineNumber.Kind.LISTING, facility=listing)
    austin_local()
    driver = CallDriver(client, from_="+15125550123", to="+18885550200")
    driver.incoming()
    root = driver.press("1")
    assert dialed(root) == str(listing.phone)


def test_a_caller_is_not_asked_for_a_local_partner_serving_a_few_of_the_area_codes_zips(client):
    """Two Austin ZIPs of area code 512's 123: the question would change the first dial for 2% of its callers."""
    HelplineNumberFactory(number="+18885550100")
    statewide = FacilityFactory(service_states=["TX"], phone="+15125550901")
    FacilityFactory(
        partner=PartnerFactory(priority=1), service_states=[], service_zips=["78701", "78702"], phone="+15125550902"
    )
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    root = driver.press("1")
    assert not asked_for_zip(root)
    assert dialed(root) == str(statewide.phone)
    assert Call.objects.get().zip_asked_at is None


def test_the_answered_call_is_routed_at_the_rotation_turn_it_already_took(client):
    """One call, one turn of the rotation: the decision set aside for the question and the ZIP's share a key."""
    HelplineNumberFactory(number="+18885550100")
    FacilityFactory(service_states=["TX"], phone="+15125550901")
    austin_local()
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    ask = driver.press("1")
    assert asked_for_zip(ask) and "turn=" in ask.find("Gather").get("action")
    driver.press("78745")
    call = Call.objects.get()
    set_aside = RoutingDecision.objects.get(
        pk=CallEvent.objects.get(call=call, status="zip:asked").detail["set_aside_decision"]
    )
    assert set_aside.location_precision == "state" and call.routing_decision.location_precision == "zip"
    assert call.routing_decision.rotation_key == set_aside.rotation_key


@pytest.mark.parametrize("served", [True, False], ids=["dialed", "fallback line"])
def test_why_the_zip_was_not_asked_is_kept_with_the_call(client, served):
    HelplineNumberFactory(number="+18885550100")
    if served:
        FacilityFactory(service_states=["TX"], phone="+15125550901")
    else:
        FacilityFactory(service_states=["TX"], phone="+15125550901", services=["detox"])
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    root = driver.press("3")  # outpatient
    assert not asked_for_zip(root) and root.find("Dial") is not None
    event = CallEvent.objects.get(call=Call.objects.get(), status="zip:not-asked")
    assert event.detail["why"] == (
        "the ZIP cannot change who answers in area code 512 for outpatient treatment"
        if served
        else "no facility offers outpatient treatment: a ZIP cannot change that"
    )


def test_a_fault_in_the_zip_rule_costs_the_question_not_the_partner(client, caplog):
    from unittest import mock

    HelplineNumberFactory(number="+18885550100")
    statewide = FacilityFactory(service_states=["TX"], phone="+15125550901")
    austin_local()
    driver = CallDriver(client, from_="+15125550123")
    driver.incoming()
    with mock.patch("helpline.voice.inbound.zip_question", autospec=True, side_effect=KeyError("bug")):
        root = driver.press("1")
    assert not asked_for_zip(root)
    assert dialed(root) == str(statewide.phone)  # the state-level decision, not the fallback line
    assert "ZIP question failed (KeyError)" in caplog.text and "5125550123" not in caplog.text
    event = CallEvent.objects.get(status="zip:not-asked")
    assert event.detail["why"].startswith("the ZIP question failed (KeyError)")
