"""The public admission request form, through HTTP: good input, every bad input, abuse guards."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from unittest import mock

import pytest
from django.core import signing
from django.db import connection
from django.urls import resolve, reverse

from helpline.admission.forms import CONSENT_VERSION, new_form_stamp
from helpline.admission.views import CONFIRM_SALT
from helpline.models import AdmissionRequest, AdmissionStatusChange, ContactBlock
from helpline.privacy import caller_hash
from tests.factories import FacilityFactory
from tests.helpline.admission_support import PHONE, PHONE_E164, form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]
URL = "/request-a-callback/"


@pytest.fixture
def facility():
    return FacilityFactory(partner__display_name="Harbor Recovery", partner__notify_email="")


def submit(client, **overrides):
    return client.post(URL, form_data(**overrides), REMOTE_ADDR="203.0.113.7")


def test_form_page_has_labelled_fields_consent_wording_and_traps(client):
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    for field_id in ("id_first_name", "id_phone", "id_zip_code", "id_service", "id_language", "id_window_date"):
        assert f'for="{field_id}"' in html and f'id="{field_id}"' in html
    assert "<legend>Who is the call for?" in html
    assert "treatment provider who pays to advertise" in html
    assert 'name="website"' in html and 'name="started"' in html
    assert 'id="where-do-calls-go"' in html  # the disclosure, as on every page
    assert 'value="unsure"' in html


def test_valid_request_is_saved_encrypted_routed_and_confirmed(client, facility):
    response = submit(client)

    assert response.status_code == 302
    req = AdmissionRequest.objects.get()
    # The token is signed with a time stamp: compare what it names, not its bytes (a slow run crosses a second).
    thanks = resolve(response["Location"])
    assert thanks.url_name == "admission_confirmation"
    assert signing.loads(thanks.kwargs["token"], salt=CONFIRM_SALT) == str(req.public_id)
    assert req.phone == PHONE_E164 and req.first_name == "Sam"
    assert req.phone_hash == caller_hash(PHONE)
    assert (req.zip_code, req.state, req.caller_timezone) == ("78701", "TX", "America/Chicago")
    assert req.consent_version == CONSENT_VERSION and "pays to advertise" in req.consent_text
    assert req.substances == ["alcohol"] and req.payment == "medicaid" and req.allow_text and not req.allow_voicemail
    assert req.status == "routed" and req.partner == facility.partner and req.routing_decision is not None
    assert list(req.status_changes.values_list("from_status", "to_status")) == [("", "new"), ("new", "routed")]
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, first_name FROM helpline_admissionrequest WHERE id = %s", [req.pk])
        raw_phone, raw_name = cursor.fetchone()
    assert "8675309" not in raw_phone and raw_name != "Sam"

    page = client.get(response["Location"]).content.decode()
    assert "Harbor Recovery" in page
    assert 'href="tel:988"' in page and 'href="tel:911"' in page
    assert 'id="where-do-calls-go"' in page
    assert reverse("admission_withdraw", args=["x"]).rsplit("x", 1)[0] in page


def test_window_request_is_stored_in_utc_from_the_zip_time_zone(client):
    FacilityFactory(partner__display_name="Hudson Care", service_states=["NY"], partner__notify_email="")
    tz = zoneinfo.ZoneInfo("America/New_York")
    day = (dt.datetime.now(tz) + dt.timedelta(days=2)).date()
    response = submit(client, zip_code="10001", callback_when="window", window_date=day.isoformat(),
                      window_slot="evening")  # fmt: skip
    assert response.status_code == 302
    req = AdmissionRequest.objects.get()
    assert req.caller_timezone == "America/New_York"
    assert req.window_start == dt.datetime.combine(day, dt.time(17), tzinfo=tz)
    assert req.window_end == dt.datetime.combine(day, dt.time(20), tzinfo=tz)
    page = client.get(response["Location"]).content.decode()
    assert "Hudson Care" in page
    # In the person's own time zone, written as people write it (no leading zeros, the day in full).
    assert f"on {day:%A, %B} {day.day}, between 5:00 pm and 8:00 pm E" in page


BAD_INPUT = [
    ("for_whom", {"for_whom": ""}, "Tell us who the call is for."),
    ("for_whom", {"for_whom": "neighbour"}, "Choose myself or someone else."),
    ("first_name", {"first_name": ""}, "Enter a first name or initials"),
    ("first_name", {"first_name": "<script>alert(1)</script>"}, "Use letters only"),
    ("first_name", {"first_name": "=HYPERLINK(1)"}, "Use letters only"),
    ("first_name", {"first_name": "A" * 31}, "up to 30 letters"),
    ("phone", {"phone": ""}, "Enter the phone number we should call"),
    ("phone", {"phone": "12345"}, "not a working US phone number"),
    ("phone", {"phone": "call me"}, "does not look like a phone number"),
    ("phone", {"phone": "800-555-1234"}, "Toll-free numbers"),
    ("phone", {"phone": "900-555-1234"}, "Premium-rate numbers"),
    ("phone", {"phone": "+44 20 7946 0018"}, "only call US phone numbers"),
    ("zip_code", {"zip_code": ""}, "Enter the ZIP code"),
    ("zip_code", {"zip_code": "7870"}, "Enter a 5-digit ZIP code"),
    ("zip_code", {"zip_code": "00000"}, "could not find ZIP code 00000"),
    ("zip_code", {"zip_code": "7870\u0661"}, "Enter a 5-digit ZIP code"),
    ("service", {"service": ""}, "Choose the kind of care"),
    ("service", {"service": "spa"}, "Choose from the list."),
    ("substances", {"substances": ["glue"]}, "Choose from the list."),
    ("payment", {"payment": "bitcoin"}, "Choose from the list."),
    ("language", {"language": "fr"}, "Choose English or Spanish."),
    ("callback_when", {"callback_when": "never"}, "Choose now or a time."),
    ("window_date", {"callback_when": "window", "window_slot": "morning"}, "Choose the day we should call."),
    ("window_date", {"callback_when": "window", "window_date": "2020-01-01", "window_slot": "morning"},
     "That day has passed"),
    ("window_date", {"callback_when": "window", "window_date": "not-a-date", "window_slot": "morning"},
     "Enter a date"),
    ("window_slot", {"callback_when": "window", "window_date": "2099-01-01", "window_slot": ""},
     "Choose a time of day"),
    ("consent", {"consent": ""}, "Tick the box to agree"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "overrides", "message"), BAD_INPUT, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUT)]
)
def test_each_bad_input_is_explained_next_to_its_field_and_keeps_what_was_typed(client, field, overrides, message):
    response = submit(client, **overrides)

    assert response.status_code == 400
    assert AdmissionRequest.objects.count() == 0
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    html = response.content.decode()
    block = html.split(f'data-field="{field}"', 1)[1].split("</fieldset>", 1)[0].split('data-field="', 1)[0]
    assert "field-error" in block and message.split("'")[0][:20] in block.replace("&#x27;", "'")
    # Everything else typed is still there.
    if field != "first_name":
        assert 'value="Sam"' in html
    if field != "phone":
        assert f'value="{PHONE}"' in html


def test_window_in_the_future_beyond_two_weeks_is_refused(client):
    day = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    response = submit(client, callback_when="window", window_date=day, window_slot="morning")
    assert response.status_code == 400
    assert "within the next 14 days" in response.context["form"].errors["window_date"][0]


def test_oversize_body_is_refused_with_413_and_nothing_saved(client, facility):
    response = client.post(URL, form_data(first_name="Sam", filler="x" * 20_000))
    assert response.status_code == 413
    assert "too much text" in response.content.decode()
    assert AdmissionRequest.objects.count() == 0


def test_honeypot_gets_a_normal_looking_success_and_nothing_is_saved(client, facility):
    response = submit(client, website="http://spam.example")
    assert response.status_code == 302 and "/request-a-callback/thanks/" in response["Location"]
    assert AdmissionRequest.objects.count() == 0
    page = client.get(response["Location"])
    assert page.status_code == 200 and "We have your request" in page.content.decode()


def test_too_fast_submission_is_shown_again_with_please_check_and_send(client, facility):
    """Autofill sends a real person's form within seconds: they are told, not silently dropped."""
    response = submit(client, started=new_form_stamp(time.time() - 0.5))

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error-summary"' in html
    assert "Nothing has been sent yet. Please check your answers" in html
    assert 'value="Sam"' in html  # their answers are kept
    assert "We have your request" not in html
    assert AdmissionRequest.objects.count() == 0

    resent = submit(client, started=new_form_stamp(time.time() - 5))
    assert resent.status_code == 302
    assert AdmissionRequest.objects.count() == 1


def test_too_fast_page_carries_a_fresh_stamp(client, facility):
    response = submit(client, started=new_form_stamp(time.time() - 0.5))
    assert response.context["stamp"] and f'value="{response.context["stamp"]}"' in response.content.decode()


def test_missing_stamp_is_shown_again_and_nothing_is_saved(client, facility):
    response = submit(client, started="")
    assert response.status_code == 400
    assert "Please check your answers" in response.content.decode()
    assert AdmissionRequest.objects.count() == 0


def test_expired_stamp_asks_the_person_to_send_again_keeping_input(client, facility):
    response = submit(client, started=new_form_stamp(time.time() - 3 * 60 * 60))
    assert response.status_code == 400
    assert "open for a long time" in response.content.decode()
    assert 'value="Sam"' in response.content.decode()
    assert AdmissionRequest.objects.count() == 0


def test_rate_limit_per_client_address(client, facility):
    for i in range(10):
        client.post(URL, form_data(phone=f"512-867-53{i:02d}"), REMOTE_ADDR="198.51.100.9")
    response = client.post(URL, form_data(phone="512-867-5399"), REMOTE_ADDR="198.51.100.9")
    assert response.status_code == 429
    assert "Too many requests" in response.content.decode()
    assert AdmissionRequest.objects.count() == 10
    other = client.post(URL, form_data(phone="512-867-5398"), REMOTE_ADDR="198.51.100.10")
    assert other.status_code == 302


def test_rate_limit_per_phone_number_whatever_the_address(client, facility):
    for i in range(3):
        assert client.post(URL, form_data(), REMOTE_ADDR=f"192.0.2.{i}").status_code == 302
    response = client.post(URL, form_data(phone="(512) 867 5309"), REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 429
    assert "already have requests for this number" in response.context["form"].errors["phone"][0]
    assert AdmissionRequest.objects.count() == 3


def test_form_still_saves_when_the_cache_is_down(client, facility):
    with mock.patch("helpline.admission.policy.cache") as broken:
        broken.add.side_effect = ConnectionError("redis down")
        broken.incr.side_effect = ConnectionError("redis down")
        response = submit(client)
    assert response.status_code == 302
    assert AdmissionRequest.objects.count() == 1


def test_form_still_saves_when_the_broker_is_down(client, facility, django_capture_on_commit_callbacks):
    with mock.patch(
        "helpline.admission.tasks.notify_partner_of_admission_request.apply_async", side_effect=OSError("no broker")
    ) as publish:
        with django_capture_on_commit_callbacks(execute=True):
            response = submit(client)
    assert response.status_code == 302
    assert publish.called
    req = AdmissionRequest.objects.get()
    assert req.status == "routed"  # the sweeper sends the notification later


def test_withdrawn_phone_is_refused_with_a_way_back(client, facility):
    ContactBlock.objects.create(phone_hash=caller_hash(PHONE), source="sms-stop")
    response = submit(client)
    assert response.status_code == 400
    assert "asked us not to contact it" in response.context["form"].errors["phone"][0]
    assert "START" in response.context["form"].errors["phone"][0]
    assert AdmissionRequest.objects.count() == 0


def test_routing_failure_still_saves_the_request_for_the_sweeper(client, facility):
    with mock.patch("routing.services.route", side_effect=RuntimeError("engine down")):
        response = submit(client)
    assert response.status_code == 302
    req = AdmissionRequest.objects.get()
    assert req.status == "new" and req.claimed_at is None
    page = client.get(response["Location"]).content.decode()
    assert "A treatment provider that pays to advertise with us will call you" in page


def test_no_eligible_partner_shows_the_fallback_line_and_flags_staff(client):
    response = submit(client)
    req = AdmissionRequest.objects.get()
    assert req.status == "unrouted" and req.needs_attention
    page = client.get(response["Location"]).content.decode()
    assert "could not find a treatment provider" in page
    assert "tel:+18006624357" in page


def test_withdraw_link_asks_first_then_withdraws_without_blocking_the_number(client, facility):
    response = submit(client)
    page = client.get(response["Location"]).content.decode()
    withdraw_url = page.split('data-testid="withdraw-link"')[0].rsplit('href="', 1)[1].split('"')[0]

    asked = client.get(withdraw_url).content.decode()
    req = AdmissionRequest.objects.get()
    assert req.status == "routed"  # a link preview must not withdraw
    assert "You can still send a new request later" in asked
    assert "text <strong>STOP</strong>" in asked and "1-800-555-0100" in asked  # the way to block, said plainly

    done = client.post(withdraw_url)
    assert "Your request is withdrawn" in done.content.decode()
    req.refresh_from_db()
    assert req.status == "withdrawn" and req.withdrawn_at is not None
    assert AdmissionStatusChange.objects.filter(request=req, to_status="withdrawn").exists()
    assert not ContactBlock.objects.filter(phone_hash=req.phone_hash).exists()

    # What the page promised: a new request from the same number is taken.
    again = submit(client)
    assert again.status_code == 302
    assert AdmissionRequest.objects.filter(status="routed").count() == 1


def test_confirmation_shows_the_calling_number_as_people_write_it(client, facility, settings):
    settings.TWILIO_CALLER_ID = "+18005550100"
    response = submit(client)
    page = client.get(response["Location"]).content.decode()
    assert "<strong>1-800-555-0100</strong>" in page
    assert "+18005550100" not in page


def test_blocked_number_message_gives_the_text_number_as_people_write_it(client, facility, settings):
    settings.TWILIO_SMS_FROM = "+18005550100"
    ContactBlock.objects.create(phone_hash=caller_hash(PHONE), source="sms-stop")
    message = submit(client).context["form"].errors["phone"][0]
    assert "text START to 1-800-555-0100 from that phone" in message


def test_a_forged_token_is_a_404(client):
    assert client.get("/request-a-callback/thanks/not-a-token/").status_code == 404
    assert client.post("/request-a-callback/withdraw/not-a-token/").status_code == 404


@pytest.mark.parametrize(("path", "chosen"), [("/request-a-callback/", "en"), ("/es/request-a-callback/", "es")])
def test_the_call_language_starts_as_the_language_of_the_page(client, path, chosen):
    """A person reading the form in Spanish gets a Spanish callback unless they choose otherwise."""
    body = client.get(path).content.decode()
    assert f'<option value="{chosen}" selected>' in body
    other = "es" if chosen == "en" else "en"
    assert f'<option value="{other}" selected>' not in body
