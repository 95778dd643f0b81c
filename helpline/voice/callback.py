"""Twilio webhooks of bridged callbacks, and the inbound SMS webhook (STOP / START).

A callback is one outbound call placed by ``admission_request_place_callback``:

1. the partner facility answers -> ``whisper``: who this is for, "press 1";
2. ``accept`` (the partner's key) -> ``<Dial>`` the person, with the caller-ID
   of the helpline and a screen on the person's leg (``<Number url>``);
3. ``caller_screen``: the person hears a neutral line and presses 1
   (``caller_accept``); only then are the two connected. An answering
   machine never presses 1, so it is never bridged to the partner and nothing
   about treatment is left on it: that is how "no voicemail" is honoured
   without machine detection (which hangs up on some real people and adds
   seconds of silence). When voicemail is allowed, a machine gets one short,
   neutral message and no details;
4. ``dial_done`` (the ``<Dial action>``) tells the partner how it went;
5. ``status`` (the partner leg's status callback) finishes the attempt and
   moves the request on (next partner, another try later, or done).

Every endpoint checks Twilio's signature, is keyed by the attempt id, answers
a re-sent webhook the same way, and never returns a 500: a fault becomes a
short spoken apology and a hang-up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from helpline.admission import selectors as admission_selectors
from helpline.admission import services as admission
from helpline.phones import phone_display
from helpline.privacy import caller_hash
from helpline.voice.inbound import static_fallback
from helpline.voice.prompts import prompt
from helpline.voice.security import twilio_webhook
from helpline.voice.twiml import say_voice, twilio_url, twiml
from routing.vocabulary import SPOKEN_SERVICE_FULL

logger = logging.getLogger(__name__)

# Twilio's standard opt-out / opt-in keywords (Advanced Opt-Out defaults).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

SERVICE_WORDS = SPOKEN_SERVICE_FULL["en"]

# The answer to any other text, in the language of the number's newest request (the texts it got were in it).
NO_REPLIES = {
    "en": "This number cannot read replies. To talk to someone, call {name} at {number}. In danger now, call 911. "
    "Reply STOP to stop texts.",
    "es": "Este número no puede leer respuestas. Para hablar con alguien, llame a {name} al {number}. "
    "En peligro ahora, llame al 911. Responda STOP para no recibir más mensajes.",
}


# What the person called back hears is in the language of their request. (The partner's lines stay in
# English: the whisper tells the partner which language the person speaks.)
def _person_says(language: str, key: str) -> str:
    return prompt(language, key)


def _person_language(attempt_id: int) -> str:
    """The language of the request behind ``attempt_id`` ("en" when it cannot be read)."""
    attempt = admission.callback_attempt(attempt_id)
    req = attempt.admission_request if attempt is not None else None
    return "es" if req is not None and req.language == "es" else "en"


def _goodbye(text: str, language: str = "en") -> HttpResponse:
    response = VoiceResponse()
    if text:
        response.say(text, **say_voice(language))
    response.hangup()
    return twiml(response)


def callback_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signature and parameter shapes checked (``twilio_webhook``); a re-split request gets the static fallback."""
    return twilio_webhook(view, malformed=static_fallback)


def _sms_refused() -> HttpResponse:
    return twiml(MessagingResponse())


def _never_500(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return _never_500_for(view, person=False)


def _never_500_person(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For the person's leg: the apology in the request's language."""
    return _never_500_for(view, person=True)


def _never_500_for(view: Callable[..., HttpResponse], *, person: bool) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, attempt_id: int) -> HttpResponse:
        try:
            return view(request, attempt_id)
        except Exception:  # noqa: BLE001 - Twilio must always get TwiML, a person may be on the line
            logger.exception("Callback webhook %s failed", request.path)
            language = "en"
            if person:
                try:
                    language = _person_language(attempt_id)
                except Exception:  # noqa: BLE001, S110 - the database may be what failed
                    pass
            return _goodbye(_person_says(language, "callback_fault"), language)

    return wrapped


@callback_webhook
@_never_500
def whisper(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The partner answered: say what the call is about (area, service, language), ask for 1."""
    attempt = admission.callback_attempt(attempt_id)
    if attempt is None or not admission.callback_may_continue(attempt):
        return _goodbye(prompt("en", "callback_inactive").format(name=settings.HELPLINE_NAME))
    req = attempt.admission_request
    assert req is not None  # noqa: S101 - callback_attempt only returns request legs
    language = "Spanish" if req.language == "es" else "English"
    who = "for themselves" if req.for_whom == "myself" else "for someone they care about"
    text = prompt("en", "callback_whisper").format(
        name=settings.HELPLINE_NAME,
        area=admission._area(req),
        who=who,
        service=SERVICE_WORDS.get(req.service, "treatment"),
        language=language,
    )
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1,
        action=twilio_url("callback_accept", attempt_id=attempt_id),
        method="POST",
        timeout=8,
        action_on_empty_result=True,
    )
    gather.say(text, **say_voice("en"))
    # Nothing after the Gather: with actionOnEmptyResult Twilio posts to ``accept`` even when no key
    # was pressed, so TwiML here would never play. ``accept`` says the no-key outcome.
    return twiml(response)


@callback_webhook
@_never_500
def accept(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The partner's key: 1 dials the person (screened), anything else passes to the next partner."""
    attempt = admission.callback_attempt(attempt_id)
    if attempt is None or not admission.callback_may_continue(attempt):
        return _goodbye(prompt("en", "callback_inactive").format(name=settings.HELPLINE_NAME))
    digits = request.POST.get("Digits", "")
    if digits != "1":
        admission.callback_partner_declined(attempt_id=attempt_id)
        if not digits:
            return _goodbye(prompt("en", "callback_no_key"))
        return _goodbye(prompt("en", "callback_passed"))
    admission.callback_partner_accepted(attempt_id=attempt_id)
    req = attempt.admission_request
    assert req is not None  # noqa: S101
    response = VoiceResponse()
    response.say(prompt("en", "callback_calling"), **say_voice("en"))
    dial = response.dial(
        caller_id=settings.TWILIO_CALLER_ID,
        timeout=admission.CALLER_RING_SECONDS,
        action=twilio_url("callback_dial_done", attempt_id=attempt_id),
        method="POST",
    )
    dial.number(req.phone, url=twilio_url("callback_caller_screen", attempt_id=attempt_id), method="POST")
    return twiml(response)


@callback_webhook
@_never_500_person
def caller_screen(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The person's phone answered. Neutral words (a shared phone, a voicemail); press 1 to connect."""
    attempt = admission.callback_attempt(attempt_id)
    if attempt is None or not admission.callback_may_continue(attempt):
        return _goodbye("")
    req = attempt.admission_request
    assert req is not None  # noqa: S101
    language = "es" if req.language == "es" else "en"
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1,
        # The request's language rides on the (signed) action URL: no extra query in caller_accept.
        action=twilio_url(
            "callback_caller_accept", attempt_id=attempt_id, **({"lang": "es"} if language == "es" else {})
        ),
        method="POST",
        timeout=6,
        action_on_empty_result=False,
    )
    name = settings.HELPLINE_NAME
    voice = say_voice(language)
    gather.say(_person_says(language, "callback_hello").format(name=name), **voice)
    gather.pause(length=1)
    gather.say(_person_says(language, "callback_again"), **voice)
    if req.allow_voicemail:
        response.say(_person_says(language, "callback_missed").format(name=name), **voice)
    response.hangup()
    return twiml(response)


@callback_webhook
@_never_500_person
def caller_accept(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The person pressed a key: 1 bridges them to the partner (an empty response ends the screen)."""
    language = "es" if request.GET.get("lang") == "es" else "en"
    if request.POST.get("Digits", "") != "1":
        return _goodbye(_person_says(language, "callback_goodbye"), language)
    if not admission.callback_connected(attempt_id=attempt_id):
        return _goodbye(_person_says(language, "callback_gone"), language)
    response = VoiceResponse()
    response.say(_person_says(language, "callback_connecting"), **say_voice(language))
    return twiml(response)


@callback_webhook
@_never_500
def dial_done(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The person's leg ended; tell the partner, who is still on the line, what happened."""
    try:
        seconds = int(request.POST.get("DialCallDuration") or 0)
    except ValueError:
        seconds = 0
    admission.callback_dial_finished(attempt_id=attempt_id, talk_seconds=seconds)
    attempt = admission.callback_attempt(attempt_id)
    req = attempt.admission_request if attempt is not None else None
    if attempt is not None and req is not None:
        if req.status == admission.Status.CONNECTED and req.facility_id == attempt.facility_id:
            return _goodbye("")
    return _goodbye(prompt("en", "callback_unreached"))


@callback_webhook
@_never_500
def status(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Status callback of the partner leg. Always 204: a stale or repeated event changes nothing."""
    call_status = request.POST.get("CallStatus", "")
    if call_status in ("completed", "busy", "no-answer", "failed", "canceled"):
        admission.callback_leg_ended(attempt_id=attempt_id, call_status=call_status)
    return HttpResponse(status=204)


@functools.partial(twilio_webhook, malformed=_sms_refused)
def sms_incoming(request: HttpRequest) -> HttpResponse:
    """Inbound texts: STOP withdraws and blocks the number; START lifts the block; HELP explains.

    Twilio itself answers the standard keywords and blocks further texts from
    our number; we record the withdrawal so no task calls the person either.
    """
    body = " ".join((request.POST.get("Body") or "").split()).upper()
    word = body.split(" ", 1)[0].strip(".!") if body else ""
    phone_hash = caller_hash(request.POST.get("From", ""))
    response = MessagingResponse()
    try:
        if word in STOP_WORDS or request.POST.get("OptOutType") == "STOP":
            admission.admission_request_withdraw(phone_hash=phone_hash, source="sms-stop")
        elif word in START_WORDS or request.POST.get("OptOutType") == "START":
            admission.contact_block_remove(phone_hash=phone_hash)
        elif word in HELP_WORDS:
            pass  # Twilio sends its standard HELP reply
        else:
            language = admission_selectors.language_of_number(phone_hash=phone_hash)
            number = phone_display(settings.TWILIO_CALLER_ID)
            response.message(NO_REPLIES[language].format(name=settings.HELPLINE_NAME, number=number))
    except Exception:  # noqa: BLE001 - log and answer; Twilio re-sends on error and STOP is idempotent
        logger.exception("Inbound SMS handling failed")
        return twiml(response, status=500)
    return twiml(response)
