"""The call simulator: command (in-process and over HTTP against a live server) and the staff page."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from helpline.models import Call, DialAttempt
from helpline.staff.simulator import Script, client_transport, http_transport, simulate
from tests.factories import FacilityFactory, StaffFactory, UserFactory
from tests.helpline.voice_support import make_directory

pytestmark = pytest.mark.django_db


def test_command_plays_a_failover_call_turn_by_turn(capsys):
    _a, b, c = make_directory()
    call_command(
        "simulate_call", "--in-process", "--from", "+15125550123", "--to", "+18885550100",
        "--digits", "1", "--partner-outcomes", "busy,answer+ignore,answer+1", "--talk-seconds", "240",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Clearline says: Clearline." in out and "Clearline says [es-MX]: Para español, oprima 8." in out
    assert "Caller presses 1" in out
    assert "… the line is busy" in out
    assert "a voicemail answers; nobody presses anything" in out
    assert "Partner presses 1" in out and "Caller and partner talk for 240 s" in out
    call = Call.objects.get()
    assert call.is_test and call.status == Call.Status.COMPLETED
    assert call.connected_facility == c and call.talk_seconds == 240
    assert list(DialAttempt.objects.values_list("outcome", flat=True)) == ["busy", "not-accepted", "completed"]
    assert str(b.phone) in out


def test_simulated_spanish_caller_with_zip_and_timeouts():
    make_directory()
    sim = simulate(
        script=Script(from_number="+18005550199", to_number="+18885550100", digits=["8", "7", "1", "7870", "78701"]),
        transport=client_transport(),
    )
    text = sim.transcript
    assert "Clearline says [es-MX]: Disculpe, no le entendí." in text  # 7 is no option: the menu once more
    assert "no reconocimos ese código postal" in text
    call = Call.objects.get()
    assert (call.language, call.service, call.location_source, call.zip_code) == ("es", "detox", "zip", "78701")
    assert "The caller prefers Spanish." in text


def test_simulated_crisis_call():
    make_directory()
    sim = simulate(script=Script(from_number="+15125550123", to_number="+18885550100", digits=["9"]),
                   transport=client_transport())  # fmt: skip
    assert "Dialing 988 … connected" in sim.transcript
    assert Call.objects.get().status == Call.Status.CRISIS


def test_command_rejects_an_unknown_partner_outcome():
    make_directory()
    with pytest.raises(CommandError, match="Unknown partner outcome"):
        call_command("simulate_call", "--in-process", "--partner-outcomes", "answer+maybe")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--digits", "1,abc", "not keypad keys"),
        ("--digits", "8,1;", "not keypad keys"),
        ("--talk-seconds", "-5", "between 0 and 3600"),
        ("--talk-seconds", "86400", "between 0 and 3600"),
    ],
)
def test_command_refuses_what_the_staff_page_refuses_before_playing_a_call(option, value, message):
    """Keys no keypad has, or a negative talk time, are never sent: Twilio never would (a call on the fallback line)."""
    make_directory()
    with pytest.raises(CommandError, match=message):
        call_command("simulate_call", "--in-process", option, value)
    assert not Call.objects.exists()


def test_command_reports_an_unreachable_server():
    make_directory()
    with pytest.raises(CommandError, match="Could not reach"):
        call_command("simulate_call", "--base-url", "http://127.0.0.1:9", "--to", "+18885550100")


@pytest.mark.django_db(transaction=True)
def test_simulator_over_http_against_a_live_server(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url  # the app signs and checks on its public URL
    make_directory()
    sim = simulate(
        script=Script(from_number="+15125550123", to_number="+18885550100", digits=["8", "3"],
                      partner_outcomes=["no-answer", "answer+1"]),
        transport=http_transport(live_server.url),
    )  # fmt: skip
    assert "rings out, nobody answers" in sim.transcript
    assert "Para desintoxicación, oprima 1." in sim.transcript  # UTF-8 TwiML decoded as such over HTTP
    call = Call.objects.get()
    assert call.status == Call.Status.COMPLETED and call.is_test and call.service == "outpatient"


def test_staff_page_runs_the_simulator_and_shows_the_transcript(client):
    make_directory()
    client.force_login(StaffFactory())
    page = client.get("/staff/simulator/")
    assert page.status_code == 200 and b"Play the call" in page.content
    response = client.post(
        "/staff/simulator/",
        {"to_number": "+18885550100", "from_number": "+15125550123", "digits": "1",
         "partner_outcomes": "failed,answer+1", "talk_seconds": "90"},
    )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200
    assert "the number does not work" in body and "Caller and partner talk for 90 s" in body
    assert "Where do calls go?" in body  # the page extends base.html (disclosure on every page)
    assert Call.objects.get().is_test


def test_staff_page_rejects_bad_input_without_running(client):
    make_directory()
    client.force_login(StaffFactory())
    response = client.post(
        "/staff/simulator/",
        {"to_number": "+18885550100", "from_number": "+15125550123", "digits": "1,1",
         "partner_outcomes": "ring-forever", "talk_seconds": "90"},
    )  # fmt: skip
    assert b"Unknown outcome(s): ring-forever" in response.content
    assert Call.objects.count() == 0


def test_simulator_page_is_staff_only(client):
    client.force_login(UserFactory())
    response = client.get("/staff/simulator/")
    assert response.status_code == 302
    client.logout()
    assert client.post("/staff/simulator/", {}).status_code == 302
    assert Call.objects.count() == 0


def test_simulated_caller_hangs_up_while_a_partner_rings():
    (a,) = make_directory(count=1)
    sim = simulate(
        script=Script(from_number="+15125550123", to_number="+18885550100", digits=["1"],
                      partner_outcomes=["caller-hangup"]),
        transport=client_transport(),
    )  # fmt: skip
    assert "Caller hangs up" in sim.transcript
    call = Call.objects.get()
    assert call.status == Call.Status.ABANDONED
    assert DialAttempt.objects.get().outcome == "canceled"


def test_command_tries_a_chicago_mobile_with_no_fromzip_and_shows_the_zip_question(capsys):
    from tests.helpline.test_voice_location import chicago_directory

    prefixes, radius = chicago_directory()
    call_command(
        "simulate_call", "--in-process", "--from", "+13125550142", "--no-from-zip", "--to", "+18885550100",
        "--digits", "2,60601",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "5-digit ZIP code" in out and "Caller presses 60601" in out
    assert "precision ZIP code" in out
    assert "ZIP question: asked: nobody in IL can take residential treatment now without a ZIP" in out
    assert str(prefixes.phone) in out or str(radius.phone) in out


def test_command_refuses_no_from_zip_with_a_from_zip():
    with pytest.raises(CommandError, match="contradict"):
        call_command("simulate_call", "--in-process", "--no-from-zip", "--from-zip", "60601")


def _post_simulator(client, **data):
    form = {"to_number": "+18885550100", "digits": "2,60601", "partner_outcomes": "answer+1", "talk_seconds": "60"}
    return client.post("/staff/simulator/", {**form, **data}).content.decode()


def test_staff_page_shows_location_the_zip_question_and_the_placement_of_a_chicago_mobile(client):
    from html import unescape

    from tests.helpline.test_voice_location import chicago_directory

    prefixes, radius = chicago_directory()
    client.force_login(StaffFactory())
    body = unescape(_post_simulator(client, from_number="+13125550142"))  # no FromZip, no FromState
    assert "How the call was placed" in body
    assert "Location</dt><dd>Chicago, IL (from ZIP given by the caller, precision ZIP code)" in body
    assert "ZIP question</dt><dd>asked: nobody in IL can take residential treatment now without a ZIP; " in body
    assert "the caller typed their ZIP" in body
    call = Call.objects.get()
    first = call.attempts.order_by("sequence").first()
    assert f"Placement</dt><dd>first dialed {first.facility.name} of {first.partner.display_name}" in body
    assert "connected to" in body and first.facility in (prefixes, radius)


@pytest.mark.parametrize("caller", ["+12065550100", "+19075550100", "+13055550100", "+16175550100"])
def test_staff_can_try_a_caller_with_no_fromzip_from_any_area_code(client, caller):
    """Seattle, Anchorage, Miami, Boston: placed by the area code's state, shown as such, and why no question."""
    from routing.location import area_code_state

    area_code, state = area_code_state(caller)
    statewide = FacilityFactory(service_states=[state], phone="+15125550901")
    make_directory(count=0)
    client.force_login(StaffFactory())
    body = _post_simulator(client, from_number=caller, digits="1")
    assert f"Location</dt><dd>area code {area_code}, {state} (from Caller-ID area code, precision State only" in body
    assert f"not asked: the ZIP cannot change who answers in area code {area_code} for medical detox" in body
    assert f"first dialed {statewide.name}" in body
    call = Call.objects.get()
    assert (call.location_source, call.location_precision, call.state) == ("area_code", "state", state)
