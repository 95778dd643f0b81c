"""Twilio voice webhooks: the IVR, the dial legs with their whisper, failover and status callbacks.

Views are thin: they read Twilio's parameters, call ``helpline.calls.services`` (with the
call row locked) and answer TwiML. Every one of them is wrapped so that any
fault ends in the fallback TwiML (the default 24/7 line) and never in a 500:
a person who may be in crisis is on the line. State that must survive between
webhooks lives on the ``Call`` row or in the signed URL (``try``/``attempt``).
"""

from __future__ import annotations

import functools
import logging
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from twilio.twiml.voice_response import VoiceResponse

from helpline.calls import services as calls
from helpline.models import Call, DialAttempt
from helpline.privacy import redact
from helpline.voice.disclosure import spoken_disclosure
from helpline.voice.prompts import PROMPTS, prompt
from helpline.voice.security import is_valid_twilio_request, twilio_webhook
from helpline.voice.twiml import say_voice, twilio_url, twiml
from routing.location import area_code_state, resolve_location
from routing.services import LOCK_CONFLICT_RETRIES, is_lock_conflict
from routing.vocabulary import SPOKEN_SERVICE
from routing.zip_question import ZipQuestion, zip_question

logger = logging.getLogger(__name__)

SIMULATION_PARAM = "ClearlineSimulated"  # only requests signed with our auth token can carry it
# "Not sure" is what a caller who presses nothing gets; 5 is kept for callers who press it anyway.
SERVICE_DIGITS = {"1": "detox", "2": "residential", "3": "outpatient", "4": "mat", "5": "unsure"}
CRISIS_KEY = "9"
SPANISH_KEY = "8"  # on the greeting menu, where 2 is residential treatment
MENU_TRIES = 2  # a wrong key hears the menu once more; silence goes on as "not sure" at once
MENU_TIMEOUT = 4  # after the whole menu was spoken: a caller who knows pressed long before
GREETING_TIMEOUT = 1  # between the greeting's two parts: Twilio's least (a positive integer of seconds)
ZIP_TIMEOUT = 6  # Twilio waits this long for each next key too
WHISPER_TIMEOUT = 6

# --- TwiML helpers ---------------------------------------------------------------------------------------


def spoken_number(e164: str) -> str:
    digits = re.sub(r"\D", "", e164)
    if len(digits) == 11 and digits.startswith("1"):
        return f"1 {digits[1:4]} {digits[4:7]} {digits[7:]}"
    return " ".join(digits)


def say(node: Any, text: str, language: str) -> None:
    node.say(text, **say_voice(language))


def fallback_response(*, language: str | None, preface: str = "", after_crisis: bool = False) -> VoiceResponse:
    """Dial the default 24/7 line; bilingual when we do not know the caller's language (a fault).

    ``after_crisis``: 988 did not connect, so the caller hears that the crisis line could not be
    reached and 988 to dial themselves, not the words about treatment providers.
    """
    response = VoiceResponse()
    languages = [language] if language in PROMPTS else ["en", "es"]
    if preface and language:
        say(response, preface, language)
    unreached = "crisis_unreached" if after_crisis else "fallback_unreached"
    for lang in languages:
        say(
            response,
            prompt(lang, unreached) + " " + prompt(lang, "fallback").format(name=settings.FALLBACK_LINE_NAME),
            lang,
        )
    response.dial(settings.FALLBACK_LINE, timeout=30)
    for lang in languages:
        say(response, prompt(lang, "fallback_failed").format(number=spoken_number(settings.FALLBACK_LINE)), lang)
    return response


def crisis_response(*, language: str) -> VoiceResponse:
    """988; its Dial action sends the caller on to the default line only if 988 did not connect."""
    response = VoiceResponse()
    say(response, prompt(language, "crisis"), language)
    response.dial(settings.CRISIS_LINE, timeout=30, action=twilio_url("crisis_result", lang=language), method="POST")
    return response


def greeting_twiml(*, call: Call) -> str:
    listing = call.listing_facility.name if call.listing_facility is not None else ""
    return _greeting_xml(listing, settings.HELPLINE_NAME, settings.PUBLIC_BASE_URL, spoken_disclosure()["en"])


@functools.lru_cache(maxsize=512)
def _greeting_xml(listing: str, helpline_name: str, base_url: str, disclosure: str) -> str:
    """The greeting is the same for every caller of a number: built once per process (the hot path).

    Keyed by the disclosure's words too, so a new version staff save is spoken from the next call.
    """
    return str(greeting_response(listing=listing, helpline_name=helpline_name, disclosure=disclosure))


def greeting_response(*, listing: str, helpline_name: str, disclosure: str) -> VoiceResponse:
    """The greeting in two barge-in menus, one after the other in one document.

    Part 1 (name, "Para español, oprima 8", the spoken disclosure) waits the
    least Twilio allows (``GREETING_TIMEOUT``), then Twilio goes on to part 2
    (the crisis line, then the services, detox first). A key pressed in part 1
    posts ``disclosed=0``: the caller may have cut the disclosure short, so a
    service chosen there hears it in full before a partner rings (``service``).
    9 and 8 work in both parts. Silence after part 2 goes on to "not sure" after
    one timeout, never the menu twice.
    """
    response = VoiceResponse()
    first = response.gather(
        num_digits=1,
        timeout=GREETING_TIMEOUT,
        action=twilio_url("service", **{"try": 1, "disclosed": 0}),
        method="POST",
    )
    if listing:
        welcome = prompt("en", "welcome_listing").format(listing=listing, name=helpline_name)
    else:
        welcome = prompt("en", "welcome").format(name=helpline_name)
    say(first, welcome, "en")
    say(first, prompt("es", "spanish_option"), "es")
    say(first, disclosure, "en")
    action = twilio_url("service", **{"try": 1})
    menu = response.gather(num_digits=1, timeout=MENU_TIMEOUT, action=action, method="POST")
    say(menu, f"{prompt('en', 'crisis_option')} {prompt('en', 'service_menu')}", "en")
    response.redirect(action, method="POST")
    return response


def service_menu_response(*, call: Call, attempt: int, preface: str = "", disclose: bool = False) -> VoiceResponse:
    """The service menu alone (a wrong key), or after the disclosure (the Spanish caller's first menu).

    The disclosure is a <Say> of its own before the <Gather>, so no key cuts it
    short: whatever the caller presses next, they have heard who answers. In
    English the menu offers Spanish again: a wrong key may be a Spanish speaker's.
    """
    response = VoiceResponse()
    language = call.language
    if disclose:
        before = f"{preface} {disclosure_words(language)}" if preface else disclosure_words(language)
        say(response, before, language)
        preface = ""
    action = twilio_url("service", **{"try": attempt})
    gather = response.gather(num_digits=1, timeout=MENU_TIMEOUT, action=action, method="POST")
    if preface:
        say(gather, preface, language)
    if language != "es":
        say(gather, prompt("es", "spanish_option"), "es")
    say(gather, f"{prompt(language, 'crisis_option')} {prompt(language, 'service_menu')}", language)
    response.redirect(action, method="POST")
    return response


def disclosure_words(language: str) -> str:
    """The spoken disclosure staff saved (``DisclosureVersion.spoken``/``spoken_es``) in ``language``."""
    return spoken_disclosure().get(language) or prompt(language, "disclosure")


def zip_response(
    *, call: Call, attempt: int, preface: str = "", turn: int = 0, disclose: bool = False
) -> VoiceResponse:
    """The ZIP question; ``turn`` is the rotation turn the call took, carried on the (signed) action URL.

    ``disclose``: the caller chose a service before the greeting's disclosure
    ended, so it is spoken first, outside the <Gather> (no key cuts it short).
    """
    response = VoiceResponse()
    if disclose:
        say(response, disclosure_words(call.language), call.language)
    action = twilio_url("zip", **{"try": attempt, "turn": turn})
    # Star ends the Gather at once ("if you don't know it, press star"); with actionOnEmptyResult
    # Twilio posts star and silence to the action too, which goes on with what is known.
    gather = response.gather(
        num_digits=5,
        finish_on_key="*",
        timeout=ZIP_TIMEOUT,
        action=action,
        method="POST",
        action_on_empty_result=True,
    )
    if preface:
        say(gather, preface, call.language)
    say(gather, prompt(call.language, "zip_ask" if attempt == 1 else "zip_retry"), call.language)
    response.redirect(action, method="POST")
    return response


def dial_response(*, call: Call, attempt: DialAttempt, preface: str = "", disclose: bool = False) -> VoiceResponse:
    """Ring one partner leg; the partner hears the whisper first and must press 1.

    ``disclose``: the caller chose a service before the greeting's disclosure
    ended, so they hear it now, in a <Say> no key can cut, before the ring.
    """
    response = VoiceResponse()
    if preface:
        say(response, preface, call.language)
    if disclose:
        say(response, disclosure_words(call.language), call.language)
    say(response, prompt(call.language, "connecting" if attempt.sequence == 1 else "next"), call.language)
    now = timezone.now()
    left = settings.CALL_ROUTING_DEADLINE_SECONDS - (now - (call.routing_started_at or now)).total_seconds()
    ring = int(max(5, min(settings.DIAL_RING_TIMEOUT_SECONDS, left)))
    dial = response.dial(
        answer_on_bridge=True,
        timeout=ring,
        action=twilio_url("dial_result", attempt=attempt.pk),
        method="POST",
        caller_id=call.to_number or settings.TWILIO_CALLER_ID,  # the partner never sees the caller's number
    )
    dial.number(
        str(attempt.facility.phone),
        url=twilio_url("whisper", attempt=attempt.pk),
        method="POST",
        status_callback=twilio_url("status", attempt=attempt.pk),
        status_callback_event="initiated ringing answered completed",
        status_callback_method="POST",
    )
    return response


def after_call_response(*, call: Call) -> VoiceResponse:
    """What the caller hears when the call is already settled (replays, a leg that just ended)."""
    if call.status == Call.Status.FALLBACK:
        return fallback_response(language=call.language)
    if call.status == Call.Status.CRISIS:
        return crisis_response(language=call.language)
    response = VoiceResponse()
    if call.status == Call.Status.COMPLETED:
        say(response, prompt(call.language, "goodbye"), call.language)
    response.hangup()
    return response


def whisper_text(*, call: Call, attempt: DialAttempt) -> str:
    """What the partner hears: a helpline call, the service, the caller's area. Never a number or a name."""
    service = SPOKEN_SERVICE["en"].get(call.service or "unsure", "treatment")
    area = call.caller_area if call.location_source != "unknown" and call.caller_area else "an unknown area"
    parts = [f"This is a {settings.HELPLINE_NAME} helpline call."]
    if call.listing_facility_id is not None and attempt.facility_id == call.listing_facility_id:
        parts.append(f"It came from your listing for {attempt.facility.name}.")
    elif call.listing_facility_id is not None:
        listing_tried = call.attempts.filter(facility_id=call.listing_facility_id).exists()
        why = "did not answer" if listing_tried else "is closed right now"
        parts.append(f"The caller dialed the listing of another facility, which {why}.")
    parts.append(f"The caller is looking for {service}, calling from {area}.")
    if call.language == "es":
        parts.append("The caller prefers Spanish.")
    parts.append("Press 1 to accept this call.")
    return " ".join(parts)


# --- The views ----------------------------------------------------------------------------------------


class NoCallSid(Exception):
    """A signed request without a CallSid: nothing to record it under (a call row keyed "" would be shared)."""


def _call_sid(request: HttpRequest) -> str:
    sid = request.POST.get("CallSid", "").strip()
    if not sid:
        raise NoCallSid
    return sid


def voice_webhook(view: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    """Signature check first (403, nothing written); then any fault → fallback TwiML with a 200."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        for attempt in range(LOCK_CONFLICT_RETRIES + 1):
            try:
                return view(request)
            except NoCallSid:
                logger.warning("Voice webhook %s without a CallSid; served the fallback line", request.path)
                return twiml(fallback_response(language=None))
            except Exception as exc:  # noqa: BLE001 - the caller must reach a human whatever broke
                if attempt < LOCK_CONFLICT_RETRIES and is_lock_conflict(exc):
                    # PostgreSQL rolled this webhook's transaction back to break a deadlock with another
                    # call's (slot claims under a burst): run it again rather than lose the caller's partner.
                    logger.warning("Voice webhook %s lost a lock conflict; running it again", request.path)
                    continue
                # Redacted (the logging filter strips numbers too): no caller data in the logs.
                logger.error(
                    "Voice webhook %s failed (%s); served the fallback line.\n%s",
                    request.path,
                    type(exc).__name__,
                    redact(traceback.format_exc()),
                )
                return twiml(fallback_response(language=None))
        raise AssertionError("unreachable: the last attempt returns")

    return twilio_webhook(wrapped, malformed=static_fallback)


def static_fallback() -> HttpResponse:
    """The default 24/7 line in both languages, with no database: for faults and refused requests."""
    return twiml(fallback_response(language=None))


def _digits(request: HttpRequest) -> str:
    return request.POST.get("Digits", "").strip()


def _try(request: HttpRequest) -> int:
    raw = request.GET.get("try", "1")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MENU_TRIES else MENU_TRIES


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _locked_call(request: HttpRequest) -> Call:
    sid = _call_sid(request)
    call = calls.call_locked(call_sid=sid)
    if call is None:
        # A menu step for a call we never recorded (the incoming webhook failed): record it now.
        p = request.POST
        calls.call_record_incoming(
            call_sid=sid,
            to_number=p.get("To", ""),
            caller_number=p.get("From", ""),
            is_test=p.get(SIMULATION_PARAM) == "true",
            now=timezone.now(),
        )
        call = calls.call_locked(call_sid=sid)
        assert call is not None  # noqa: S101 - just created
    return call


@contextmanager
def _call_step(request: HttpRequest) -> Iterator[Call]:
    """One IVR step: the call row locked for the step, and what the step staged on it written at the end.

    Services stage the call's changes and the step's events (``helpline.calls.services``) so that
    a step writes them in one statement; a response returned from inside the block is
    built first, then they are written, then the transaction commits.
    """
    with transaction.atomic():
        call = _locked_call(request)
        yield call
        calls.call_flush(call=call)


@voice_webhook
def incoming(request: HttpRequest) -> HttpResponse:
    """Voice URL of every helpline number: record the call once, greet, offer crisis line and Spanish."""
    p = request.POST
    call = calls.call_record_incoming(
        call_sid=_call_sid(request),
        to_number=p.get("To", ""),
        caller_number=p.get("From", ""),
        is_test=p.get(SIMULATION_PARAM) == "true",
        now=timezone.now(),
    )
    return twiml(greeting_twiml(call=call))


@voice_webhook
def greeting(request: HttpRequest) -> HttpResponse:
    """The greeting of calls answered before the one-menu greeting: 9 → crisis, 2 → Spanish, else English.

    Today's greeting posts to ``service``; this stays for a call in flight during a deploy.
    """
    digits = _digits(request)
    now = timezone.now()
    with _call_step(request) as call:
        if call.status in calls.TERMINAL_STATUSES:
            return twiml(after_call_response(call=call))
        if digits == "9":
            calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status="crisis", now=now)
            calls.call_send_to_crisis(call=call, now=now)
            return twiml(crisis_response(language=call.language))
        language = "es" if digits == "2" else "en"
        calls.call_set_language(call=call, language=language)
        calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status=f"language:{language}", now=now)
        # That greeting spoke the disclosure where a key could cut it: this menu speaks it again, whole.
        return twiml(service_menu_response(call=call, attempt=1, disclose=True))


@voice_webhook
def service(request: HttpRequest) -> HttpResponse:
    """The menu (the greeting's, or the Spanish one): 9 crisis, 8 Spanish, 1–5 a service.

    Silence goes on as "not sure" at once (the caller has heard the whole
    menu; a second hearing would cost them 20 s more); a wrong key hears the
    menu once more, then "not sure" too. Never silence, never a loop.
    """
    digits = _digits(request)
    attempt = _try(request)
    disclosed = request.GET.get("disclosed") != "0"  # 0: pressed in the greeting's first part (signed URL)
    now = timezone.now()
    with _call_step(request) as call:
        if call.status in calls.TERMINAL_STATUSES or call.routing_decision_id is not None:
            return _continue(call=call, now=now, disclose=not disclosed)  # a re-sent key: the same answer
        if digits == CRISIS_KEY:
            calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status="crisis", now=now)
            calls.call_send_to_crisis(call=call, now=now)
            return twiml(crisis_response(language=call.language))
        if digits == SPANISH_KEY and call.language != "es":  # once: pressed again, it is a wrong key
            calls.call_set_language(call=call, language="es")
            calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status="language:es", now=now)
            return twiml(service_menu_response(call=call, attempt=attempt, disclose=True))
        chosen = SERVICE_DIGITS.get(digits)
        preface = ""
        if chosen is None:
            what = "invalid" if digits else "no-input"
            calls.call_stage_event(
                call=call, sid=call.call_sid, kind="ivr", status=f"service-{what}-{attempt}", now=now
            )
            if digits and attempt < MENU_TRIES:
                return twiml(
                    service_menu_response(
                        call=call, attempt=attempt + 1, preface=prompt(call.language, "sorry"), disclose=not disclosed
                    )
                )
            chosen, preface = "unsure", prompt(call.language, "unsure_default")
        calls.call_set_service(call=call, service=chosen)
        calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status=f"service:{chosen}", now=now)
        if call.zip_asked_at is None and call.location_source != "zip":
            p = request.POST
            location = resolve_location(
                twilio_zip=p.get("FromZip", ""), twilio_state=p.get("FromState", ""), caller_number=p.get("From", "")
            )
            calls.call_set_location(call=call, location=location)
        return _ask_zip_or_route(call=call, now=now, preface=preface, disclose=not disclosed)


def _area_code_in_state(call: Call) -> str:
    """The caller ID's area code when it places the caller in the call's state, else ""."""
    placed = area_code_state(call.caller_number or "")
    return placed[0] if placed is not None and placed[1] == call.state else ""


def _ask_zip_or_route(*, call: Call, now: Any, preface: str = "", disclose: bool = False) -> HttpResponse:
    """Route with what is known; ask for the ZIP first when it would change the first dial (``routing.zip_question``).

    The decision for the location already known is made first: the rule compares
    its first dial with the one each ZIP of the place would get, and an empty one
    asks too. A decision set aside for the question stays in the log. A fault in
    the rule costs the caller the question, never the partner already chosen.
    ``disclose``: the disclosure is spoken before whichever comes first, the ZIP
    question or the partner's ring.
    """
    calls.call_route(call=call, now=now)
    if call.location_precision != "zip" and call.zip_asked_at is None:
        try:
            question = zip_question_for(call=call, now=now)
        except Exception as exc:  # noqa: BLE001 - the call goes on with the decision it has
            logger.error(
                "ZIP question failed (%s); routing with what is known.\n%s",
                type(exc).__name__,
                redact(traceback.format_exc()),
            )
            question = ZipQuestion(False, f"the ZIP question failed ({type(exc).__name__}): routed with what is known")
        if question.ask and calls.call_note_zip_asked(call=call, now=now):
            turn = call.routing_decision.rotation_key if call.routing_decision is not None else 0
            detail = {"why": question.reason, "set_aside_decision": call.routing_decision_id}
            calls.call_discard_route(call=call)
            calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status="zip:asked", detail=detail, now=now)
            return twiml(zip_response(call=call, attempt=1, preface=preface, turn=turn, disclose=disclose))
        if not question.ask:  # why not, for staff and the simulator: written with the step's next write
            calls.call_stage_event(
                call=call,
                sid=call.call_sid,
                kind="ivr",
                status="zip:not-asked",
                detail={"why": question.reason},
                now=now,
            )
    return _continue(call=call, now=now, preface=preface, disclose=disclose)


def zip_question_for(*, call: Call, now: Any) -> ZipQuestion:
    """``routing.zip_question`` for a call routed at state level: its decision's choices, turn and language."""
    plan = call.failover_plan or []
    decision = call.routing_decision
    return zip_question(
        location=calls.call_location(call=call),
        service=call.service or "unsure",
        now=now,
        routed=decision is not None,
        choices=[choice["facility_id"] for choice in plan if choice.get("pool", True)],
        rotation_key=decision.rotation_key if decision is not None else None,
        language=call.language if call.language != "en" else "",
        max_choices=max(1, settings.DIAL_MAX_ATTEMPTS + 2),
        listing_facility_id=call.listing_facility_id,
        area_code=_area_code_in_state(call),
    )


def is_crisis_entry(digits: str) -> bool:
    """A ZIP entry that is the crisis key and nothing else: 9, pressed once or a few times, maybe with pound.

    The ZIP <Gather> ends on star ("if you don't know it, press star"), so a
    lone 9 arrives after its timeout. No ZIP is all nines (the highest is
    99950), so this never takes a real ZIP starting with 9; and 9 then star is
    a ZIP begun and given up (star skips), not the crisis key.
    """
    keys = digits.replace("#", "")
    return 1 <= len(keys) <= 5 and set(keys) == {CRISIS_KEY}


@voice_webhook
def zip_code(request: HttpRequest) -> HttpResponse:
    """The ZIP question: five keys route by the ZIP; star or silence go on with what is known; one retry.

    The crisis key works here as everywhere (``is_crisis_entry``): 988, no partner.
    Asked at most once per call (``Call.zip_asked_at``); whatever the answer, it
    is stored on the call, so every failover reuses it.
    """
    p = request.POST
    digits = _digits(request)
    attempt = _try(request)
    now = timezone.now()
    with _call_step(request) as call:
        if call.status in calls.TERMINAL_STATUSES or call.routing_decision_id is not None:
            return _continue(call=call, now=now)
        turn = _turn(request)
        skipped = p.get("FinishedOnKey") == "*" or "*" in digits
        if skipped or not digits:
            what = "skipped" if skipped else "no-input"
            calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status=f"zip:{what}", now=now)
            return _route_and_dial(call=call, now=now, preface=prompt(call.language, "zip_unknown"), turn=turn)
        if is_crisis_entry(digits):
            calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status="crisis", now=now)
            calls.call_send_to_crisis(call=call, now=now)
            return twiml(crisis_response(language=call.language))
        # Exactly five keys: routing pads short ZIPs with leading zeros, right for typed text, wrong for a keypad.
        location = resolve_location(given_zip=digits) if len(digits) == 5 and digits.isdigit() else None
        calls.call_note_zip_attempt(call=call)
        if location is not None and location.source == "zip":
            calls.call_set_location(call=call, location=location)
            calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status="zip:given", now=now)
            return _route_and_dial(call=call, now=now, turn=turn)
        calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status=f"zip-invalid-{attempt}", now=now)
        if attempt < MENU_TRIES:
            return twiml(zip_response(call=call, attempt=attempt + 1, turn=turn))
        calls.call_stage_event(call=call, sid=call.call_sid, kind="ivr", status="zip:unknown", now=now)
        return _route_and_dial(call=call, now=now, preface=prompt(call.language, "zip_unknown"), turn=turn)


def _turn(request: HttpRequest) -> int:
    """The rotation turn the call took before the ZIP question (signed URL); 0: take the next one."""
    raw = request.GET.get("turn", "")
    return int(raw) if raw.isdigit() and len(raw) <= 12 else 0


def _route_and_dial(*, call: Call, now: Any, preface: str = "", turn: int = 0) -> HttpResponse:
    """Route with the ZIP's answer at the turn of the rotation the call already took (one call, one turn)."""
    calls.call_route(call=call, now=now, rotation_key=turn)
    return _continue(call=call, now=now, preface=preface)


def _continue(*, call: Call, now: Any, preface: str = "", disclose: bool = False) -> HttpResponse:
    """The next step for a routed call: the live leg, the next partner, or the fallback line.

    ``disclose``: speak the disclosure before a partner's ring (the fallback line is no paid partner).
    """
    if call.status in calls.TERMINAL_STATUSES:
        return twiml(after_call_response(call=call))
    if call.routing_decision_id is None:  # not routed: whatever the caller heard, they hear who answers
        return twiml(service_menu_response(call=call, attempt=1, disclose=True))
    attempt = calls.call_next_attempt(call=call, now=now)
    if attempt is None:  # the call in hand says why (fallback line, or already over)
        if call.status == Call.Status.FALLBACK:
            return twiml(fallback_response(language=call.language, preface=preface))
        return twiml(after_call_response(call=call))
    return twiml(dial_response(call=call, attempt=attempt, preface=preface, disclose=disclose))


@voice_webhook
def dial_result(request: HttpRequest) -> HttpResponse:
    """Dial action: the leg ended. Accepted → goodbye; otherwise the next partner; caller gone → stop."""
    p = request.POST
    now = timezone.now()
    with transaction.atomic():
        # The call locked with its legs in one query (a call we never recorded is recorded now).
        call = calls.call_locked_with_attempts(call_sid=_call_sid(request)) or _locked_call(request)
        attempt = calls.attempt_for(call=call, attempt_id=request.GET.get("attempt"))
        caller_gone = p.get("CallStatus", "") in calls.TWILIO_FINAL
        if attempt is not None:
            calls.attempt_finish(
                attempt=attempt,
                dial_status=p.get("DialCallStatus", ""),
                duration_seconds=_int(p.get("DialCallDuration")) or 0,
                dial_call_sid=p.get("DialCallSid", ""),
                now=now,
                failover=not caller_gone,  # the next partner is claimed in this transaction
            )
        if caller_gone:
            calls.call_caller_gone(call=call, now=now)
            response = VoiceResponse()
            response.hangup()
            return twiml(response)
        answer = _continue(call=call, now=now)
        calls.call_flush(call=call)
        return answer


def _attempt_for_leg(request: HttpRequest) -> DialAttempt | None:
    attempt_id = request.GET.get("attempt", "")
    if not attempt_id.isdigit():
        return None
    qs = (
        DialAttempt.objects.select_related("call", "partner", "facility")
        .defer(*calls.CALLER_ONLY_FIELDS)  # the whisper never says who called
        .filter(pk=int(attempt_id))
    )
    parent = request.POST.get("ParentCallSid", "")
    if parent:
        qs = qs.filter(call__call_sid=parent)
    return qs.first()


def _partner_hangup(text: str) -> HttpResponse:
    response = VoiceResponse()
    say(response, text, "en")
    response.hangup()
    return twiml(response)


@voice_webhook
def whisper(request: HttpRequest) -> HttpResponse:
    """Played to the partner when they pick up, before the caller is bridged: press 1 to accept."""
    attempt = _attempt_for_leg(request)
    if attempt is None or attempt.call is None or attempt.outcome not in calls.LIVE_OUTCOMES:
        return _partner_hangup(prompt("en", "partner_unavailable"))
    calls.attempt_mark_answered(attempt=attempt, dial_call_sid=request.POST.get("CallSid", ""), now=timezone.now())
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, timeout=WHISPER_TIMEOUT, action=twilio_url("whisper_choice", attempt=attempt.pk), method="POST"
    )
    say(gather, whisper_text(call=attempt.call, attempt=attempt), "en")
    say(response, prompt("en", "partner_no_key"), "en")
    response.hangup()
    return twiml(response)


@voice_webhook
def whisper_choice(request: HttpRequest) -> HttpResponse:
    """1 → bridge (an empty response ends the whisper); anything else → hang up the partner leg."""
    now = timezone.now()
    with transaction.atomic():
        # The leg with its call, the call row locked: one query.
        attempt = calls.leg_locked(
            attempt_id=request.GET.get("attempt", ""), parent_call_sid=request.POST.get("ParentCallSid", "")
        )
        if attempt is None or attempt.call is None:
            return _partner_hangup(prompt("en", "partner_unavailable"))
        call = attempt.call
        if _digits(request) != "1":
            calls.call_log_event(call=call, sid=call.call_sid, kind="whisper", status=f"declined-{attempt.pk}", now=now)
            return _partner_hangup(prompt("en", "partner_declined"))
        if calls.attempt_accept(attempt=attempt, now=now):
            response = VoiceResponse()
            say(response, prompt("en", "partner_connecting"), "en")
            return twiml(response)
    return _partner_hangup(prompt("en", "partner_caller_gone"))


@voice_webhook
def crisis_result(request: HttpRequest) -> HttpResponse:
    """After the 988 leg: done if it connected, otherwise the default 24/7 line.

    How the 988 attempt ended goes on the call's timeline, and one that did not
    connect flags the call for staff follow-up (``call_record_crisis_result``).
    The answer needs no database: a fault in that record is logged and the
    caller hears the same words.
    """
    language = request.GET.get("lang", "en")
    language = language if language in PROMPTS else "en"
    p = request.POST
    try:
        if p.get("CallSid", "").strip():  # nothing to record it under otherwise; the answer is the same
            calls.call_record_crisis_result(
                call_sid=p["CallSid"].strip(),
                dial_status=p.get("DialCallStatus", ""),
                duration_seconds=_int(p.get("DialCallDuration")),
                caller_gone=p.get("CallStatus", "") in calls.TWILIO_FINAL,
                now=timezone.now(),
            )
    except Exception as exc:  # noqa: BLE001 - the caller must still be answered
        logger.error(
            "Recording the 988 result failed (%s); the caller is answered all the same.\n%s",
            type(exc).__name__,
            redact(traceback.format_exc()),
        )
    if p.get("DialCallStatus") == "completed" or p.get("CallStatus") in calls.TWILIO_FINAL:
        response = VoiceResponse()
        response.hangup()
        return twiml(response)
    return twiml(fallback_response(language=language, after_crisis=True))


@voice_webhook
def status(request: HttpRequest) -> HttpResponse:
    """Status callbacks of the caller's leg and of partner legs: stored once, applied forward only."""
    p = request.POST
    if not p.get("CallSid", "").strip():
        return HttpResponse(status=204)  # nothing to key it by: stored nowhere, changes nothing
    # Its own transaction where it needs one (the call locked): a leg's ringing is one INSERT.
    calls.call_apply_status(
        call_sid=p.get("CallSid", ""),
        call_status=p.get("CallStatus", ""),
        parent_call_sid=p.get("ParentCallSid", ""),
        attempt_id=request.GET.get("attempt"),
        sequence_number=_int(p.get("SequenceNumber")),
        duration_seconds=_int(p.get("CallDuration")),
        now=timezone.now(),
    )
    return HttpResponse(status=204)


@csrf_exempt
def fallback(request: HttpRequest) -> HttpResponse:
    """Twilio's Fallback URL, used when our Voice URL fails: static TwiML, no database, no 403.

    The signature is checked (it needs no database) but only logged: this
    answer reveals nothing and dials only a public helpline, and refusing it
    (say, after a misconfigured PUBLIC_BASE_URL) would leave a caller in silence.
    """
    try:
        if not is_valid_twilio_request(request):
            logger.warning("Fallback TwiML served to a request without a valid Twilio signature")
    except Exception:  # noqa: BLE001, S110 - never let the check itself fail the last line of defence
        pass
    return twiml(fallback_response(language=None))
