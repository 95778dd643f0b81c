"""Plays a whole call against Clearline exactly as Twilio would, without Twilio.

Requests are form-encoded and signed with the real ``twilio`` RequestValidator
on PUBLIC_BASE_URL-based URLs; each TwiML answer is parsed and followed:
``<Say>`` is printed, ``<Gather>`` gets the next scripted digits (or times out
and falls through), ``<Redirect>`` is requested, ``<Dial><Number url=…>`` rings a
simulated partner whose behaviour is scripted per attempt, and the Dial action,
leg status callbacks and the final status callback carry Twilio's parameters
(``DialCallStatus``, ``DialCallSid``, ``DialCallDuration``, ``SequenceNumber``…).

Two transports: HTTP against a running server (``requests``) or in-process
through Django's test ``Client``. Simulated calls carry the signed parameter
``ClearlineSimulated=true`` so they are stored with ``is_test`` and never billed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from django.conf import settings
from twilio.request_validator import RequestValidator

from helpline.voice.twiml import twilio_url

SIMULATION_PARAM = "ClearlineSimulated"
MAX_REQUESTS = 60  # a runaway flow (a loop in the IVR) ends the simulation instead of hanging it

# Partner outcomes per dial attempt.
PARTNER_OUTCOMES = {
    "busy": "the line is busy",
    "no-answer": "rings out, nobody answers",
    "failed": "the number does not work",
    "answer+1": "answers and presses 1 (accepts)",
    "answer+2": "answers and presses 2 (declines)",
    "answer+ignore": "a voicemail answers; nobody presses anything",
    "caller-hangup": "the caller hangs up while it rings",
}

Transport = Callable[[str, dict[str, str]], tuple[int, bytes]]


class SimulationError(Exception):
    """The app answered something Twilio could not play (a non-200, or not TwiML)."""


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def sign(url: str, params: dict[str, str]) -> str:
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)


def http_transport(base_url: str, *, timeout: float = 10.0) -> Transport:
    """POST to a running server; the signature is on the public URL, the request goes to ``base_url``."""
    import requests

    session = requests.Session()

    def post(url: str, params: dict[str, str]) -> tuple[int, bytes]:
        parts = urlsplit(url)
        target = base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        response = session.post(target, data=params, headers={"X-Twilio-Signature": sign(url, params)}, timeout=timeout)
        return response.status_code, response.content

    return post


def client_transport(client: Any | None = None) -> Transport:
    """POST in-process through Django's test Client, on the public host and scheme."""
    from django.test import Client

    public = urlsplit(settings.PUBLIC_BASE_URL)
    c = client or Client(HTTP_HOST=public.netloc or "testserver")

    def post(url: str, params: dict[str, str]) -> tuple[int, bytes]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = c.post(
            path, params, headers={"X-Twilio-Signature": sign(url, params)}, secure=public.scheme == "https"
        )
        return response.status_code, response.content

    return post


@dataclass
class Script:
    """What the caller and the partners do."""

    from_number: str
    to_number: str
    digits: Sequence[str] = ()  # one entry per <Gather>; "" or "-" = say nothing (time out)
    partner_outcomes: Sequence[str] = ()  # one per dial attempt; when they run out: answer+1
    from_zip: str = ""
    from_state: str = ""
    talk_seconds: int = 180


@dataclass
class Simulation:
    call_sid: str
    lines: list[str] = field(default_factory=list)
    requests: int = 0
    ended: bool = False

    def say(self, line: str) -> None:
        self.lines.append(line)

    @property
    def transcript(self) -> str:
        return "\n".join(self.lines)


class CallSimulator:
    """Follows Clearline's TwiML the way Twilio's voice engine does, turn by turn."""

    def __init__(self, *, transport: Transport, script: Script, echo: Callable[[str], None] | None = None):
        self.post = transport
        self.script = script
        self.echo = echo
        self.digits = list(script.digits)
        self.outcomes = list(script.partner_outcomes)
        self.sim = Simulation(call_sid=new_sid())
        self.seconds = 0
        self.sequence = 0

    # --- parameters as Twilio sends them ---------------------------------------------------------

    def call_params(self, **extra: str) -> dict[str, str]:
        s = self.script
        params = {
            "AccountSid": settings.TWILIO_ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sim.call_sid,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "From": s.from_number,
            "Caller": s.from_number,
            "To": s.to_number,
            "Called": s.to_number,
            "FromCountry": "US",
            "ToCountry": "US",
            SIMULATION_PARAM: "true",
        }
        if s.from_zip:
            params["FromZip"] = params["CallerZip"] = s.from_zip
        if s.from_state:
            params["FromState"] = params["CallerState"] = s.from_state
        params.update(extra)
        return params

    def leg_params(self, leg_sid: str, to: str, **extra: str) -> dict[str, str]:
        params = {
            "AccountSid": settings.TWILIO_ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": leg_sid,
            "ParentCallSid": self.sim.call_sid,
            "CallStatus": "in-progress",
            "Direction": "outbound-dial",
            "From": self.script.to_number,
            "Caller": self.script.to_number,
            "To": to,
            "Called": to,
            SIMULATION_PARAM: "true",
        }
        params.update(extra)
        return params

    # --- plumbing --------------------------------------------------------------------------------------

    def line(self, text: str) -> None:
        self.sim.say(text)
        if self.echo is not None:
            self.echo(text)

    def absolute(self, url: str, current: str) -> str:
        return urljoin(current, url)

    def request(self, url: str, params: dict[str, str]) -> bytes:
        self.sim.requests += 1
        if self.sim.requests > MAX_REQUESTS:
            raise SimulationError(f"more than {MAX_REQUESTS} webhook requests: the flow does not end")
        status, body = self.post(url, params)
        if status // 100 != 2:
            raise SimulationError(f"{urlsplit(url).path} answered HTTP {status}")
        return body

    def twiml(self, url: str, params: dict[str, str]) -> Element:
        body = self.request(url, params)
        try:
            root = SafeET.fromstring(body)
        except SafeET.ParseError as exc:
            raise SimulationError(f"{urlsplit(url).path} did not answer TwiML") from exc
        if root.tag != "Response":
            raise SimulationError(f"{urlsplit(url).path} answered <{root.tag}>, not <Response>")
        return root

    def status_callback(self, url: str, params: dict[str, str]) -> None:
        self.sequence += 1
        self.request(url, {**params, "SequenceNumber": str(self.sequence), "CallbackSource": "call-progress-events"})

    # --- the call ---------------------------------------------------------------------------------------

    def run(self) -> Simulation:
        s = self.script
        self.line(f"Caller {s.from_number} dials {s.to_number}")
        url = twilio_url("incoming")  # the Voice URL of every helpline number
        root: Element | None = self.twiml(url, self.call_params(CallStatus="ringing"))
        try:
            while root is not None and not self.sim.ended:
                root, url = self.play(root, url)
        finally:
            if not self.sim.ended:
                self.hang_up()
        return self.sim

    def hang_up(self, *, caller: bool = False) -> None:
        self.sim.ended = True
        self.line("Caller hangs up" if caller else "Call ends")
        self.status_callback(
            twilio_url("status"),
            self.call_params(CallStatus="completed", CallDuration=str(self.seconds), Duration="1"),
        )

    def play(self, root: Element, url: str) -> tuple[Element | None, str]:
        """Play one TwiML document; returns the next document (and its URL) or None when the call ends."""
        for verb in root:
            if verb.tag == "Say":
                self.speak(verb)
            elif verb.tag == "Pause":
                self.seconds += int(verb.get("length", "1"))
            elif verb.tag == "Gather":
                for child in verb:
                    if child.tag == "Say":
                        self.speak(child)
                digits = self.digits.pop(0) if self.digits else ""
                if digits and digits != "-":
                    self.line(f"Caller presses {digits}")
                    action = self.absolute(verb.get("action") or url, url)
                    return self.twiml(action, self.call_params(Digits=digits, msg="Gather End")), action
                self.line("(caller says nothing)")
                self.seconds += int(verb.get("timeout", "5"))
            elif verb.tag == "Redirect":
                target = self.absolute((verb.text or "").strip() or url, url)
                return self.twiml(target, self.call_params()), target
            elif verb.tag == "Dial":
                result = self.dial(verb, url)
                if result is not None:
                    return result
                if self.sim.ended:
                    return None, url
            elif verb.tag == "Hangup":
                self.hang_up()
                return None, url
            elif verb.tag == "Reject":
                self.line("Clearline rejects the call")
                self.hang_up()
                return None, url
        return None, url  # end of the document: Twilio hangs up

    def speak(self, verb: Element) -> None:
        text = " ".join((verb.text or "").split())
        language = verb.get("language", "en-US")
        tag = "" if language.startswith("en") else f" [{language}]"
        self.line(f"Clearline says{tag}: {text}")
        self.seconds += max(1, len(text) // 15)

    def dial(self, verb: Element, url: str) -> tuple[Element | None, str] | None:
        number = verb.find("Number")
        action = verb.get("action")
        if number is None:
            target = (verb.text or "").strip()
            self.line(f"Dialing {target} … connected; the caller talks for {self.script.talk_seconds} s")
            self.seconds += self.script.talk_seconds
            if action:
                params = self.call_params(DialCallStatus="completed", DialCallSid=new_sid())
                params["DialCallDuration"] = str(self.script.talk_seconds)
                full = self.absolute(action, url)
                return self.twiml(full, params), full
            return None  # carry on with the next verb
        return self.dial_partner(verb, number, url)

    def dial_partner(self, verb: Element, number: Element, url: str) -> tuple[Element | None, str] | None:
        phone = (number.text or "").strip()
        outcome = self.outcomes.pop(0) if self.outcomes else "answer+1"
        if outcome not in PARTNER_OUTCOMES:
            raise SimulationError(f"unknown partner outcome {outcome!r}; use one of {', '.join(PARTNER_OUTCOMES)}")
        leg = new_sid()
        callback = number.get("statusCallback")
        events = set((number.get("statusCallbackEvent") or "").split())
        ring = int(verb.get("timeout", "30"))

        def leg_status(status: str, **extra: str) -> None:
            # Twilio's "completed" event covers every final status (busy, no-answer, failed, canceled).
            event = {"in-progress": "answered", "busy": "completed", "no-answer": "completed"}.get(status, status)
            event = {"failed": "completed", "canceled": "completed"}.get(event, event)
            if callback and event in (events or {"completed"}):
                params = self.leg_params(leg, phone, CallStatus=status, **extra)
                self.status_callback(self.absolute(callback, url), params)

        self.line(f"Dialing partner {phone} (ring timeout {ring} s) … {PARTNER_OUTCOMES[outcome]}")
        leg_status("initiated")
        leg_status("ringing")
        dial_status, duration, bridged = outcome, 0, False
        if outcome == "no-answer":
            self.seconds += ring
        elif outcome == "caller-hangup":
            self.seconds += ring // 2
            leg_status("canceled")
            params = self.call_params(DialCallStatus="canceled", DialCallSid=leg, CallStatus="completed")
            if verb.get("action"):
                self.twiml(self.absolute(verb.get("action") or "", url), params)
            self.hang_up(caller=True)
            return None, url
        elif outcome.startswith("answer"):
            leg_status("in-progress")
            bridged = self.whisper(number, leg, phone, outcome, url)
            dial_status = "completed"
            duration = self.script.talk_seconds if bridged else 8
            if bridged:
                self.line(f"Caller and partner talk for {duration} s")
            else:
                self.line("Partner leg hangs up without accepting")
        self.seconds += duration
        if dial_status in ("busy", "no-answer", "failed"):
            leg_status(dial_status)
        else:
            leg_status("completed", CallDuration=str(duration))
        action = verb.get("action")
        if not action:
            return None
        params = self.call_params(DialCallStatus=dial_status, DialCallSid=leg, DialBridged=str(bridged).lower())
        if duration:
            params["DialCallDuration"] = str(duration)
        full = self.absolute(action, url)
        return self.twiml(full, params), full

    def whisper(self, number: Element, leg: str, phone: str, outcome: str, url: str) -> bool:
        """The partner's side: hear the whisper, press (or not) a key; True when the call is bridged."""
        whisper_url = number.get("url")
        if not whisper_url:
            return True
        current = self.absolute(whisper_url, url)
        root = self.twiml(current, self.leg_params(leg, phone))
        key = {"answer+1": "1", "answer+2": "2"}.get(outcome, "")
        for _ in range(5):
            for verb in root:
                for say in [verb] if verb.tag == "Say" else list(verb) if verb.tag == "Gather" else []:
                    if say.tag == "Say":
                        self.line(f"Partner hears: {' '.join((say.text or '').split())}")
                if verb.tag == "Gather" and key:
                    self.line(f"Partner presses {key}")
                    current = self.absolute(verb.get("action") or current, current)
                    root = self.twiml(current, self.leg_params(leg, phone, Digits=key, msg="Gather End"))
                    key = ""
                    break
                if verb.tag == "Gather":
                    self.line("(nobody presses a key on the partner's side)")
                elif verb.tag == "Hangup":
                    return False
            else:
                return True  # the partner's document ended without a hang-up: Twilio bridges the call
        return False


def simulate(*, script: Script, transport: Transport, echo: Callable[[str], None] | None = None) -> Simulation:
    """Run one scripted call; the transcript is in ``Simulation.lines``."""
    return CallSimulator(transport=transport, script=script, echo=echo).run()


def parse_list(raw: str) -> list[str]:
    """``"1,1,78701"`` → ``["1", "1", "78701"]``; empty entries (``1,,2``) mean "say nothing"."""
    if not raw.strip():
        return []
    return [part.strip() for part in raw.split(",")]


ZIP_ANSWERS = {
    "zip:given": "the caller typed their ZIP",
    "zip:skipped": "the caller pressed star (does not know it)",
    "zip:no-input": "the caller said nothing",
    "zip:unknown": "the ZIP was not recognised twice",
}


def call_summary(call: Any) -> list[tuple[str, str]]:
    """What staff want to know about a (simulated) call: where the caller was placed and how precisely,
    whether the ZIP was asked and why (or why not), and where the call went.

    Read from the call's record (its events and routing decision), never recomputed: the words are
    the ones the voice flow logged when it decided.
    """
    from helpline.models import Call, CallEvent

    events = {e.status: e for e in CallEvent.objects.filter(call=call, kind="ivr", status__startswith="zip:")}
    hint = f"; caller ID place, approximate: {call.location_hint}" if call.location_hint else ""
    rows = [
        (
            "Location",
            f"{call.caller_area or 'unknown'} (from {call.get_location_source_display()}, precision "
            f"{call.get_location_precision_display()}{hint})",
        )
    ]
    if "zip:asked" in events:
        answer = next((words for status, words in ZIP_ANSWERS.items() if status in events), "no answer recorded")
        rows.append(("ZIP question", f"asked: {events['zip:asked'].detail.get('why', '')}; {answer}"))
    elif "zip:not-asked" in events:
        rows.append(("ZIP question", f"not asked: {events['zip:not-asked'].detail.get('why', '')}"))
    elif call.location_source == "twilio" and call.location_precision == "zip":
        rows.append(("ZIP question", "not asked: Twilio sent the caller's ZIP (FromZip)"))
    else:
        rows.append(("ZIP question", "not asked: the call never reached routing"))
    rows.append(("Placement", _placement(call, Call)))
    return rows


def _placement(call: Any, model: Any) -> str:
    attempts = list(call.attempts.select_related("facility", "partner").order_by("sequence"))
    decision = call.routing_decision
    parts = []
    if attempts:
        first = attempts[0]
        why = ""
        if decision is not None and decision.chosen:
            why = (
                f" ({decision.chosen[0].get('reason', '')})"
                if decision.chosen[0].get("facility_id") == first.facility_id
                else ""
            )
        parts.append(f"first dialed {first.facility.name} of {first.partner.display_name}{why}")
        if len(attempts) > 1:
            parts.append(f"{len(attempts)} partners tried")
    elif decision is not None and not decision.chosen:
        parts.append("nobody eligible: " + "; ".join(decision.notes or ["no partner serves this caller now"]))
    if call.connected_facility_id is not None:
        parts.append(f"connected to {call.connected_facility.name}")
    elif call.status == model.Status.FALLBACK:
        parts.append(f"sent to the fallback line ({call.outcome_reason or 'no partner accepted'})")
    elif call.status == model.Status.CRISIS:
        parts.append("sent to the crisis line (988)")
    else:
        parts.append(f"ended: {call.get_status_display()}")
    return "; ".join(parts)
