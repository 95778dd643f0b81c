"""After submit: partner notification, bridged callback with failover and retries, STOP, the sweeper.

Outbound REST calls go to the local fake of Twilio's API (``tests/fake_twilio.py``);
Twilio's webhooks are played by ``BridgedCallDriver`` with real signatures.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from helpline.admission import services as admission
from helpline.admission import tasks
from helpline.models import AdmissionRequest, ContactBlock, DialAttempt
from helpline.privacy import caller_hash
from helpline.twilio_rest import TwilioFailure
from partners.models import BillingDecision, LedgerEntry
from tests.factories import FacilityFactory
from tests.fake_twilio import parse_twiml
from tests.helpline.admission_support import PHONE_E164, client_poster, driver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]


@pytest.fixture
def partners():
    first = FacilityFactory(
        partner__display_name="Harbor Recovery", partner__priority=1, partner__notify_sms="+15125550100",
        phone="+15125550111",
    )  # fmt: skip
    second = FacilityFactory(partner__display_name="Second Step", partner__priority=2, phone="+15125550122")
    return first, second


def submit(**overrides) -> AdmissionRequest:
    data = {
        "for_whom": "myself", "first_name": "Sam", "phone": PHONE_E164, "zip_code": "78701", "state": "TX",
        "time_zone": "America/Chicago", "service": "detox", "language": "en", "callback_when": "now",
        "allow_voicemail": False, "allow_text": True,
    }  # fmt: skip
    data.update(overrides)
    return admission.admission_request_submit(data=admission.AdmissionInput(**data))


def notified(**overrides) -> AdmissionRequest:
    req = submit(**overrides)
    admission.admission_request_notify(request_id=req.pk)
    req.refresh_from_db()
    assert req.status == "notified"
    return req


def placed(**overrides) -> tuple[AdmissionRequest, DialAttempt]:
    req = notified(**overrides)
    attempt = admission.admission_request_place_callback(request_id=req.pk)
    assert attempt is not None
    req.refresh_from_db()
    return req, attempt


# --- Partner notification -------------------------------------------------------


def test_partner_gets_an_email_and_a_text_with_the_portal_link_and_no_name_or_number(fake_twilio, partners):
    req = notified()

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [partners[0].partner.notify_email]
    link = f"{settings.PUBLIC_BASE_URL}/portal/requests/{req.public_id}/"
    assert link in email.body
    assert "Medical detox" in email.body and "Austin, TX" in email.body
    assert "Sam" not in email.body and "8675309" not in email.body
    [sms] = fake_twilio.messages()
    assert sms.params["To"] == "+15125550100" and sms.params["From"] == settings.TWILIO_SMS_FROM
    assert link in sms.params["Body"]
    assert "Sam" not in sms.params["Body"] and "8675309" not in sms.params["Body"]
    assert sms.account_sid == settings.TWILIO_ACCOUNT_SID
    assert req.notified_at is not None and req.next_action_at <= timezone.now()
    assert list(req.status_changes.values_list("to_status", flat=True)) == ["new", "routed", "notified"]


def test_notification_that_fails_then_succeeds_sends_each_message_once(fake_twilio, partners):
    req = submit()
    fake_twilio.fail_next("Messages", status=500)

    with pytest.raises(TwilioFailure):
        admission.admission_request_notify(request_id=req.pk)
    req.refresh_from_db()
    assert req.status == "routed" and req.claimed_at is None
    assert req.notify_email_sent_at is not None and req.notify_sms_sent_at is None
    assert len(mail.outbox) == 1 and fake_twilio.messages() == []

    admission.admission_request_notify(request_id=req.pk)
    req.refresh_from_db()
    assert req.status == "notified"
    assert len(mail.outbox) == 1  # the email was not sent again
    assert len(fake_twilio.messages()) == 1
    assert len(fake_twilio.attempted) == 2


def test_notify_task_run_twice_sends_one_text_and_one_email(fake_twilio, partners):
    req = submit()
    tasks.notify_partner_of_admission_request.apply(args=[req.pk])
    tasks.notify_partner_of_admission_request.apply(args=[req.pk])
    assert len(mail.outbox) == 1
    assert len(fake_twilio.messages()) == 1


def test_invalid_partner_mobile_is_flagged_and_the_request_goes_on(fake_twilio, partners):
    fake_twilio.reject_number("+15125550100", code=21211)
    req = notified()
    assert req.needs_attention
    assert fake_twilio.messages() == [] and len(fake_twilio.attempted) == 1
    assert len(mail.outbox) == 1


def test_notify_task_out_of_retries_goes_on_to_the_callback(fake_twilio, partners):
    req = submit()
    fake_twilio.fail_next("Messages", status=503, times=20)
    tasks.notify_partner_of_admission_request.apply(args=[req.pk], retries=tasks.MAX_RETRIES)
    req.refresh_from_db()
    assert req.status == "notified" and req.needs_attention


# --- Placing the callback ---------------------------------------------------------


def test_callback_calls_the_first_partner_with_whisper_and_status_urls(fake_twilio, partners):
    req, attempt = placed()

    [call] = fake_twilio.calls()
    assert call.params["To"] == "+15125550111"
    assert call.params["From"] == settings.TWILIO_CALLER_ID
    base = f"{settings.PUBLIC_BASE_URL}/twilio/callback/{attempt.pk}"
    assert call.params["Url"] == f"{base}/whisper"
    assert call.params["StatusCallback"] == f"{base}/status"
    assert call.params["Timeout"] == str(settings.DIAL_RING_TIMEOUT_SECONDS)
    assert attempt.dial_call_sid == call.sid and attempt.sequence == 1
    assert attempt.partner == partners[0].partner and attempt.admission_request == req
    assert req.status == "callback_attempted"


def test_callback_task_run_twice_places_one_call(fake_twilio, partners):
    req = notified()
    tasks.place_admission_callback.apply(args=[req.pk])
    tasks.place_admission_callback.apply(args=[req.pk])
    assert len(fake_twilio.calls()) == 1
    assert DialAttempt.objects.filter(admission_request=req).count() == 1


def test_invalid_partner_number_is_marked_failed_and_the_next_partner_is_called(fake_twilio, partners):
    fake_twilio.reject_number("+15125550111", code=21211)
    req, attempt = placed()

    first, second = DialAttempt.objects.filter(admission_request=req)
    assert first.outcome == "failed" and first.ended_at is not None and first.dial_call_sid is None
    assert second == attempt and second.facility == partners[1]
    [call] = fake_twilio.calls()
    assert call.params["To"] == "+15125550122"
    assert req.callback_choice_index == 1


def test_partner_number_rejected_again_and_again_pauses_the_partner(fake_twilio, partners, settings):
    settings.AUTO_PAUSE_UNANSWERED_THRESHOLD = 3
    fake_twilio.reject_number("+15125550111", code=21211)
    for i in range(3):
        placed(phone=f"+1512867530{i}")
    partner = partners[0].partner
    partner.refresh_from_db()
    assert partner.status == "paused" and "auto-paused" in partner.paused_reason
    # Later requests are routed straight to the next partner.
    req = submit(phone="+15128675399")
    assert req.partner == partners[1].partner


def test_transient_twilio_error_raises_for_a_retry_of_the_same_partner(fake_twilio, partners):
    req = notified()
    fake_twilio.fail_next("Calls", status=500)
    with pytest.raises(TwilioFailure):
        admission.admission_request_place_callback(request_id=req.pk)
    req.refresh_from_db()
    assert req.next_action_at <= timezone.now() and req.callback_choice_index == 0

    attempt = admission.admission_request_place_callback(request_id=req.pk)
    assert attempt is not None and attempt.sequence == 2 and attempt.facility == partners[0]
    assert [c.params["To"] for c in fake_twilio.calls()] == ["+15125550111"]


def test_eager_run_does_not_retry_inline_and_leaves_the_request_due_for_the_sweeper(fake_twilio, partners):
    req = notified()
    fake_twilio.fail_next("Calls", status=500)
    tasks.place_admission_callback.apply(args=[req.pk])
    assert len(fake_twilio.attempted) == 2  # the partner SMS, and one call try: no inline retries
    req.refresh_from_db()
    assert req.next_action_at <= timezone.now()
    assert tasks.sweep_admission_requests.apply().get()["callback"] == 1
    assert len(fake_twilio.calls()) == 1


def test_worker_run_retries_with_exponential_backoff():
    from types import SimpleNamespace

    retry = mock.Mock(return_value=RuntimeError("retry"))
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False, retries=2), retry=retry)
    with pytest.raises(RuntimeError):
        tasks._retry(task, OSError("twilio 503"))
    assert retry.call_args.kwargs["countdown"] == 60
    assert tasks._backoff(10) == 600


def test_a_worker_killed_between_claim_and_call_is_picked_up_after_the_lease(fake_twilio, partners):
    req = notified()
    with mock.patch("helpline.twilio_rest.create_call", side_effect=SystemExit("worker killed")):
        with pytest.raises(SystemExit):
            admission.admission_request_place_callback(request_id=req.pk)
    req.refresh_from_db()
    assert req.next_action_at > timezone.now()  # leased: a redelivery right now does nothing
    assert admission.admission_request_place_callback(request_id=req.pk) is None
    later = timezone.now() + admission.CLAIM_LEASE + dt.timedelta(seconds=1)
    attempt = admission.admission_request_place_callback(request_id=req.pk, now=later)
    assert attempt is not None and attempt.sequence == 2
    assert DialAttempt.objects.get(admission_request=req, sequence=1).outcome == "failed"
    assert len(fake_twilio.calls()) == 1


def test_window_request_is_not_called_before_its_window(fake_twilio, partners):
    start = timezone.now() + dt.timedelta(days=1)
    req = notified(callback_when="window", window_start=start, window_end=start + dt.timedelta(hours=3))
    assert req.next_action_at == start
    assert admission.admission_request_place_callback(request_id=req.pk) is None
    assert fake_twilio.calls() == []
    assert admission.admission_request_place_callback(request_id=req.pk, now=start) is not None


def test_window_that_passed_makes_the_request_unreachable_for_staff(fake_twilio, partners):
    req = notified()
    later = req.window_end + dt.timedelta(minutes=1)
    assert admission.admission_request_place_callback(request_id=req.pk, now=later) is None
    req.refresh_from_db()
    assert req.status == "unreachable" and req.needs_attention
    assert fake_twilio.calls() == []


# --- The bridged call -----------------------------------------------------------------


def test_bridged_callback_connects_the_person_and_bills_the_leg_once(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    req, attempt = placed()
    [call] = fake_twilio.calls()

    with mock.patch("partners.billing.rule.bill_admission_callback") as bill:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = driver(client).run(call)
    assert outcome.status_code == 204

    whisper = parse_twiml(outcome.partner_twiml[0])
    spoken = " ".join(s.text or "" for s in whisper.iter("Say"))
    assert "Austin, TX" in spoken and "medical detox" in spoken and "Press 1" in spoken
    assert "Sam" not in spoken and "8675309" not in spoken
    dial = parse_twiml(outcome.partner_twiml[1]).find("Dial")
    assert dial is not None and dial.attrib["callerId"] == settings.TWILIO_CALLER_ID
    number = dial.find("Number")
    assert number is not None and number.text == PHONE_E164
    assert number.attrib["url"].endswith(f"/twilio/callback/{attempt.pk}/caller-screen")
    screen = " ".join(s.text or "" for s in parse_twiml(outcome.caller_twiml[0]).iter("Say"))
    assert "Press 1" in screen and "treatment" not in screen.lower()

    req.refresh_from_db()
    attempt.refresh_from_db()
    assert req.status == "connected" and req.connected_at is not None
    assert attempt.accepted and attempt.outcome == "completed" and attempt.talk_seconds == 240
    assert [c.to_status for c in req.status_changes.all()][-2:] == ["callback_attempted", "connected"]
    bill.assert_called_once_with(attempt_id=attempt.pk)

    # Twilio re-sends the status callback: nothing changes, nothing is billed twice.
    post = client_poster(client)
    with mock.patch("partners.billing.rule.bill_admission_callback") as bill_again:
        with django_capture_on_commit_callbacks(execute=True):
            code, _ = post(call.params["StatusCallback"], {"CallSid": call.sid, "CallStatus": "completed"})
    assert code == 204 and not bill_again.called
    assert len(fake_twilio.calls()) == 1


def test_partner_not_answering_fails_over_to_the_next_partner(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    req, attempt = placed()
    with django_capture_on_commit_callbacks(execute=True):
        driver(client).run(fake_twilio.calls()[0], partner_answers=False)

    attempt.refresh_from_db()
    assert attempt.outcome == "no-answer"
    calls = fake_twilio.calls()
    assert [c.params["To"] for c in calls] == ["+15125550111", "+15125550122"]
    req.refresh_from_db()
    assert req.status == "callback_attempted" and req.callback_choice_index == 1


def test_partner_pressing_another_key_passes_to_the_next_partner(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    req, attempt = placed()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = driver(client).run(fake_twilio.calls()[0], partner_digits="2")
    assert "another provider" in outcome.partner_twiml[-1]
    attempt.refresh_from_db()
    assert attempt.outcome == "not-accepted" and not attempt.accepted


def test_person_not_answering_is_retried_then_marked_unreachable(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    req, _ = placed()
    run = driver(client)
    for attempt_number in (1, 2, 3):
        with django_capture_on_commit_callbacks(execute=True):
            run.run(fake_twilio.calls()[-1], caller_answers=False)
        req.refresh_from_db()
        assert req.callback_attempts == attempt_number
        if attempt_number < 3:
            assert req.status == "callback_attempted"
            assert req.next_action_at > timezone.now() + dt.timedelta(minutes=5)
            assert admission.admission_request_place_callback(request_id=req.pk) is None  # not yet due
            assert admission.admission_request_place_callback(request_id=req.pk, now=req.next_action_at)
    assert req.status == "unreachable" and req.needs_attention
    assert len(fake_twilio.calls()) == 3
    # One "we tried to reach you" text per missed round, never with the name; STOP is explained.
    texts = [m for m in fake_twilio.messages() if m.params["To"] == PHONE_E164]
    assert len(texts) == 3
    assert all("STOP" in t.params["Body"] and "Sam" not in t.params["Body"] for t in texts)


def test_a_fault_while_handling_the_status_callback_rolls_back_so_a_resend_completes_it(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    req, attempt = placed()
    real = admission._next_try_at
    with mock.patch("helpline.admission.services._next_try_at", side_effect=RuntimeError("db blip")) as step:
        driver(client).run(fake_twilio.calls()[0], caller_answers=False)
        attempt.refresh_from_db()
        assert attempt.ended_at is None  # nothing half-written
        step.side_effect = real
        post = client_poster(client)
        call = fake_twilio.calls()[0]
        with django_capture_on_commit_callbacks(execute=True):
            code, _ = post(call.params["StatusCallback"], {"CallSid": call.sid, "CallStatus": "completed"})
    assert code == 204
    attempt.refresh_from_db()
    req.refresh_from_db()
    assert attempt.ended_at is not None and req.callback_attempts == 1 and req.next_action_at > timezone.now()


def test_no_text_to_the_person_unless_allowed(client, fake_twilio, partners, django_capture_on_commit_callbacks):
    placed(allow_text=False)
    with django_capture_on_commit_callbacks(execute=True):
        driver(client).run(fake_twilio.calls()[-1], caller_answers=False)
    assert [m for m in fake_twilio.messages() if m.params["To"] == PHONE_E164] == []


@pytest.mark.parametrize("allow_voicemail", [False, True])
def test_answering_machine_is_never_bridged_and_only_gets_a_neutral_message_if_allowed(
    client, fake_twilio, partners, allow_voicemail
):
    req, attempt = placed(allow_voicemail=allow_voicemail)
    # A machine answers: it never presses a key.
    outcome = driver(client).run(fake_twilio.calls()[0], caller_digits="")
    screen = parse_twiml(outcome.caller_twiml[0])
    after_gather = [el.tag for el in screen][1:]
    if allow_voicemail:
        assert after_gather == ["Say", "Hangup"]
        message = screen.findall("Say")[-1].text or ""
        assert "treatment" not in message.lower() and "Sam" not in message
    else:
        assert after_gather == ["Hangup"]
    req.refresh_from_db()
    assert req.status == "callback_attempted" and req.callback_attempts == 1


def test_person_who_asked_in_spanish_is_greeted_in_spanish(client, fake_twilio, partners):
    FacilityFactory(partner__priority=1, languages=["en", "es"], phone="+15125550133")
    req, _ = placed(language="es")
    outcome = driver(client).run(fake_twilio.calls()[0])
    says = list(parse_twiml(outcome.caller_twiml[0]).iter("Say"))
    assert says[0].attrib["language"] == "es-MX" and "Marque 1" in (says[0].text or "")
    req.refresh_from_db()
    assert req.status == "connected"


# --- Withdrawal -------------------------------------------------------------------------


def sms(client, body: str, sender: str = PHONE_E164) -> tuple[int, str]:
    post = client_poster(client)
    return post(
        f"{settings.PUBLIC_BASE_URL}/twilio/sms/incoming",
        {"From": sender, "To": settings.TWILIO_SMS_FROM, "Body": body, "MessageSid": "SM" + "1" * 32},
    )


def test_stop_by_text_withdraws_blocks_and_no_task_contacts_the_person(client, fake_twilio, partners):
    req = notified()
    code, body = sms(client, " stop ")
    assert code == 200 and "<Message>" not in body  # Twilio sends the standard STOP reply itself

    req.refresh_from_db()
    assert req.status == "withdrawn" and req.withdrawn_at is not None
    assert ContactBlock.objects.filter(phone_hash=caller_hash(PHONE_E164), source="sms-stop").exists()
    assert admission.admission_request_place_callback(request_id=req.pk) is None
    assert not admission.admission_request_text_caller_missed(request_id=req.pk, round_number=1)
    assert fake_twilio.calls() == []


def test_stop_while_a_callback_rings_stops_the_bridge(client, fake_twilio, partners):
    req, attempt = placed()
    sms(client, "STOP")
    outcome = driver(client).run(fake_twilio.calls()[0])
    assert "no longer active" in outcome.partner_twiml[0]
    assert "<Dial" not in "".join(outcome.partner_twiml)
    req.refresh_from_db()
    assert req.status == "withdrawn"


def test_start_lifts_the_block_for_new_requests(client, fake_twilio, partners):
    notified()
    sms(client, "STOP")
    sms(client, "Start")
    assert not ContactBlock.objects.exists()
    assert submit().status == "routed"


def test_other_texts_get_a_pointer_to_the_phone_line(client):
    code, body = sms(client, "hello is anyone there")
    assert code == 200 and "<Message>" in body and "911" in body


def test_webhooks_refuse_unsigned_requests(client, fake_twilio, partners):
    _, attempt = placed()
    for path in (
        f"/twilio/callback/{attempt.pk}/whisper",
        f"/twilio/callback/{attempt.pk}/status",
        "/twilio/sms/incoming",
    ):
        assert client.post(path, {"From": PHONE_E164, "Body": "STOP"}).status_code == 403
    assert not ContactBlock.objects.exists()


def test_a_fault_in_a_callback_webhook_is_a_spoken_goodbye_not_a_500(client, fake_twilio, partners):
    _, attempt = placed()
    post = client_poster(client)
    with mock.patch("helpline.admission.services.callback_attempt", side_effect=RuntimeError("db hiccup")):
        code, body = post(
            f"{settings.PUBLIC_BASE_URL}/twilio/callback/{attempt.pk}/whisper", {"CallSid": "CA" + "1" * 32}
        )
    assert code == 200 and "<Hangup" in body and "<Say " in body


# --- The sweeper ------------------------------------------------------------------------


def test_sweeper_picks_up_what_was_never_enqueued(fake_twilio, partners, django_capture_on_commit_callbacks):
    with mock.patch("routing.services.route", side_effect=RuntimeError("down")):
        stuck_new = submit()
    stuck_routed = submit(phone="+15128675310")
    due = notified(phone="+15128675311")
    old = timezone.now() - dt.timedelta(minutes=5)
    AdmissionRequest.objects.filter(id__in=[stuck_new.pk, stuck_routed.pk]).update(created_at=old, updated_at=old)

    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.sweep_admission_requests.apply().get()

    assert counts == {"route": 1, "notify": 1, "callback": 1}
    statuses = dict(AdmissionRequest.objects.values_list("id", "status"))
    # Eager mode ran what the sweeper enqueued: the stuck one is routed (then notified, then called).
    assert statuses[stuck_new.pk] == "callback_attempted"
    assert statuses[stuck_routed.pk] == "callback_attempted"
    assert statuses[due.pk] == "callback_attempted"
    assert len(fake_twilio.calls()) == 3


def test_sweeper_with_the_broker_down_loses_nothing(fake_twilio, partners):
    req = notified()
    with mock.patch.object(tasks.place_admission_callback, "delay", side_effect=OSError("redis down")):
        counts = tasks.sweep_admission_requests.apply().get()
    assert counts["callback"] == 0
    req.refresh_from_db()
    assert req.status == "notified" and req.next_action_at <= timezone.now()
    assert tasks.sweep_admission_requests.apply().get()["callback"] == 1


def test_callback_whisper_ends_with_its_gather_and_no_key_is_spoken_by_the_action(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    """actionOnEmptyResult posts to the action even on silence: nothing after the Gather would ever play."""
    _, attempt = placed()
    [call] = fake_twilio.calls()
    post = client_poster(client)
    code, body = post(call.params["Url"], {"CallSid": call.sid, "CallStatus": "in-progress"})
    root = parse_twiml(body)
    assert code == 200 and [el.tag for el in root] == ["Gather"]
    gather = root.find("Gather")
    assert gather is not None and gather.attrib["actionOnEmptyResult"] == "true"

    with django_capture_on_commit_callbacks(execute=True):
        code, body = post(gather.attrib["action"], {"CallSid": call.sid, "Digits": ""})
    said = " ".join(s.text or "" for s in parse_twiml(body).iter("Say"))
    assert code == 200 and "No key was pressed" in said and "another provider" in said
    assert [el.tag for el in parse_twiml(body)][-1] == "Hangup"
    attempt.refresh_from_db()
    assert attempt.outcome == "not-accepted" and not attempt.accepted


def test_a_spanish_request_hears_every_word_of_its_callback_in_spanish(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    req, attempt = placed(language="es")
    [call] = fake_twilio.calls()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = driver(client).run(call)
    screen, connecting = (parse_twiml(t) for t in outcome.caller_twiml[:2])
    says = [*screen.iter("Say"), *connecting.iter("Say")]
    assert says and all(s.attrib["language"] == "es-MX" and s.attrib["voice"] == settings.TWILIO_VOICE_ES for s in says)
    assert "Marque 1" in (screen.find("Gather/Say").text or "")
    assert "Connecting" not in " ".join(s.text or "" for s in says)

    # Any other key on the screen: the goodbye is Spanish too.
    post = client_poster(client)
    accept_url = screen.find("Gather").attrib["action"]  # type: ignore[union-attr]
    assert accept_url.startswith(f"{settings.PUBLIC_BASE_URL}/twilio/callback/{attempt.pk}/caller-accept")
    code, body = post(accept_url, {"CallSid": "CA" + "1" * 32, "Digits": "2"})
    [say] = parse_twiml(body).iter("Say")
    assert code == 200 and (say.text or "") == "Adiós."
    assert say.attrib["language"] == "es-MX" and say.attrib["voice"] == settings.TWILIO_VOICE_ES


def _not_reached_text(client, fake_twilio, capture_on_commit, *, language: str) -> str:
    """The one text the person gets when a request in ``language`` is placed and they do not answer."""
    placed(language=language)
    with capture_on_commit(execute=True):
        driver(client).run(fake_twilio.calls()[-1], caller_answers=False)
    [text] = [m.params["Body"] for m in fake_twilio.messages() if m.params["To"] == PHONE_E164]
    return text


def test_a_spanish_request_that_is_not_reached_is_texted_in_spanish(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    """The person asked in Spanish: the "we tried to reach you" text is Spanish too, STOP still explained."""
    text = _not_reached_text(client, fake_twilio, django_capture_on_commit_callbacks, language="es")
    assert "intentamos devolverle la llamada" in text
    assert "tried to return your call" not in text
    assert "STOP" in text and "Sam" not in text


def test_an_english_request_that_is_not_reached_is_texted_in_english(
    client, fake_twilio, partners, django_capture_on_commit_callbacks
):
    text = _not_reached_text(client, fake_twilio, django_capture_on_commit_callbacks, language="en")
    assert "we tried to return your call" in text and "We will try again soon." in text


def test_a_reply_from_a_person_who_asked_in_spanish_is_answered_in_spanish(client, fake_twilio, partners):
    """They were texted in Spanish; their reply ("hola") gets the pointer to the phone line in Spanish too."""
    notified(language="es")
    code, body = sms(client, "hola, hay alguien?")
    assert code == 200 and "<Message>" in body
    assert "llame" in body and "911" in body and "STOP" in body
    assert "cannot read replies" not in body
    # A number we know nothing about keeps the English pointer.
    code, body = sms(client, "hello", sender="+15125550199")
    assert "cannot read replies" in body


@pytest.mark.parametrize("caller_digits", ["", "2"], ids=["voicemail", "person-pressed-another-key"])
def test_a_callback_the_person_never_joined_is_never_billed_however_long_the_leg(
    client, fake_twilio, partners, django_capture_on_commit_callbacks, caller_digits
):
    """The partner pressed 1, the person's phone answered, nobody pressed 1 there: no bridge, no charge.

    The person's leg still lasts (the screen's words, a voicemail's message): that is not talk.
    """
    first, _second = partners
    first.partner.min_billable_seconds = 20
    first.partner.save(update_fields=["min_billable_seconds"])
    req, attempt = placed(allow_voicemail=True)
    with django_capture_on_commit_callbacks(execute=True):
        driver(client).run(fake_twilio.calls()[0], caller_digits=caller_digits, talk_seconds=25)
    req.refresh_from_db()
    assert req.status == "callback_attempted"
    decision = BillingDecision.objects.get(dial_attempt_id=attempt.pk)
    assert decision.billable is False
    assert not LedgerEntry.objects.exists()
