"""Helpers for the voice tests: stored Twilio payloads, signed requests (real library), parsed TwiML."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from defusedxml import ElementTree as SafeET
from django.conf import settings
from django.test import Client
from twilio.request_validator import RequestValidator

from helpline.voice.timing import AT_ONCE, pressed_in

FIXTURES = Path(__file__).parent / "fixtures" / "twilio"


def payload(name: str, **overrides: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((FIXTURES / f"{name}.json").read_text())
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def public_url(url: str) -> str:
    """TwiML URLs are absolute on PUBLIC_BASE_URL; paths are made so, as Twilio would."""
    if url.startswith("/"):
        return settings.PUBLIC_BASE_URL.rstrip("/") + url
    return url


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign(url: str, params: dict[str, str]) -> str:
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(public_url(url), params)


def post(client: Client, url: str, params: dict[str, str], *, signature: str | None = None) -> Any:
    """POST as Twilio does: form-encoded, signed on the public URL (pass signature="" to omit it)."""
    headers = {}
    sig = sign(url, params) if signature is None else signature
    if sig:
        headers["X-Twilio-Signature"] = sig
    return client.post(local_path(public_url(url)), params, headers=headers)


def parse(response: Any) -> ET.Element:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/xml")
    root = SafeET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def said(node: ET.Element) -> list[str]:
    return [el.text or "" for el in node.iter("Say")]


def spoken(node: ET.Element) -> str:
    return " ".join(said(node))


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


class CallDriver:
    """Plays one call's webhooks the way Twilio does, keeping the last TwiML document."""

    def __init__(self, client: Client, *, from_: str = "+15125550123", to: str = "+18885550100", **extra: str):
        self.client = client
        self.sid = new_sid()
        self.base = {"CallSid": self.sid, "From": from_, "Caller": from_, "To": to, "Called": to, **extra}
        self.root: ET.Element | None = None
        self.leg_sids: list[str] = []
        self.answered_leg: str | None = None

    def _params(self, name: str, **overrides: str) -> dict[str, str]:
        params = payload(name, **self.base)
        params.update(overrides)
        # Twilio's geographic guesses are sent only when given to the driver: a caller it cannot
        # place has none, a mobile it places by state only has FromState and no FromZip.
        if "FromZip" not in self.base:
            for key in ("FromZip", "CallerZip", "FromCity", "CallerCity"):
                params.pop(key, None)
        if "FromState" not in self.base:
            for key in ("FromState", "CallerState"):
                params.pop(key, None)
        return params

    def incoming(self) -> ET.Element:
        self.root = parse(post(self.client, "/twilio/voice/incoming", self._params("incoming")))
        return self.root

    def gather(self) -> ET.Element:
        assert self.root is not None
        node = self.root.find("Gather")
        assert node is not None, ET.tostring(self.root)
        return node

    def press(self, digits: str, *, at_once: bool = False) -> ET.Element:
        """Press ``digits`` where a caller would: in the <Gather> that offers them ("press 1"), else the last one.

        ``at_once``: in the first <Gather>, as it starts speaking (a caller who knows the number by heart).
        """
        assert self.root is not None
        gathers = [verb for verb in self.root if verb.tag == "Gather"]
        assert gathers, ET.tostring(self.root)
        action = gathers[pressed_in(gathers, AT_ONCE + digits if at_once else digits)].get("action")
        assert action
        self.root = parse(post(self.client, action, self._params("gather", Digits=digits)))
        return self.root

    def press_params(self, **params: str) -> ET.Element:
        """Post the Gather's action with exactly these parameters (e.g. star: Digits="", FinishedOnKey="*")."""
        action = self.gather().get("action")
        assert action
        self.root = parse(post(self.client, action, self._params("gather", **params)))
        return self.root

    def silence(self) -> ET.Element:
        """No input: Twilio falls through the Gather to the next verb, here a <Redirect>."""
        assert self.root is not None
        redirect = self.root.find("Redirect")
        assert redirect is not None and redirect.text
        self.root = parse(post(self.client, redirect.text, self._params("redirect")))
        return self.root

    def dial(self) -> ET.Element:
        assert self.root is not None
        node = self.root.find("Dial")
        assert node is not None, ET.tostring(self.root)
        return node

    def number(self) -> ET.Element:
        node = self.dial().find("Number")
        assert node is not None
        return node

    def leg_status(self, status: str, *, seq: int, duration: str | None = None) -> Any:
        number = self.number()
        params = payload(
            "leg_status_callback", CallSid=self.leg_sids[-1], ParentCallSid=self.sid, CallStatus=status,
            SequenceNumber=str(seq), To=number.text or "", Called=number.text or "",
        )  # fmt: skip
        if duration is not None:
            params["CallDuration"] = duration
        callback = number.get("statusCallback")
        assert callback
        return post(self.client, callback, params)

    def answer(self) -> ET.Element:
        """The partner picks up: Twilio fetches the <Number url> (the whisper) on the partner's leg."""
        number = self.number()
        self.leg_sids.append(new_sid())
        self.answered_leg = self.leg_sids[-1]
        params = payload("whisper", CallSid=self.leg_sids[-1], ParentCallSid=self.sid, To=number.text or "")
        url = number.get("url")
        assert url
        return parse(post(self.client, url, params))

    def partner_press(self, whisper: ET.Element, digits: str) -> ET.Element:
        gather = whisper.find("Gather")
        assert gather is not None
        action = gather.get("action")
        assert action
        params = payload("whisper_gather", CallSid=self.leg_sids[-1], ParentCallSid=self.sid, Digits=digits)
        return parse(post(self.client, action, params))

    def dial_result(self, status: str, *, duration: str | None = None, call_status: str = "in-progress") -> ET.Element:
        if self.answered_leg is None:
            self.leg_sids.append(new_sid())
        self.answered_leg = None
        action = self.dial().get("action")
        assert action
        params = self._params("dial_action", DialCallStatus=status, DialCallSid=self.leg_sids[-1])
        params["CallStatus"] = call_status
        if duration is not None:
            params["DialCallDuration"] = duration
        params["DialBridged"] = "true" if duration else "false"
        self.root = parse(post(self.client, action, params))
        return self.root

    def hangup(self, *, duration: str = "60", seq: int = 0) -> Any:
        params = payload("status_callback", **self.base)
        params.update(CallStatus="completed", CallDuration=duration, SequenceNumber=str(seq))
        for key in ("FromZip", "FromState"):
            params.pop(key, None)
        return post(self.client, "/twilio/voice/status", params)


def make_directory(count: int = 3, *, number: str = "+18885550100") -> list[Any]:
    """A general helpline number and ``count`` partners in Texas, tried in order (priority 1, 2, 3…)."""
    from helpline.models import HelplineNumber
    from tests.factories import FacilityFactory, HelplineNumberFactory, PartnerFactory

    HelplineNumberFactory(number=number, kind=HelplineNumber.Kind.GENERAL)
    facilities = []
    for i in range(count):
        partner = PartnerFactory(display_name=f"Partner {chr(65 + i)}", priority=i + 1)
        facilities.append(
            FacilityFactory(partner=partner, name=f"Facility {chr(65 + i)}", phone=f"+1512555{1001 + i:04d}")
        )
    return facilities


def clear_routing_caches() -> None:
    """Empty routing's compiled directory and the voice caches of it (helpline numbers, spoken disclosure).

    A test's rollback puts ``DirectoryVersion`` back to a number the cache has
    already seen while PostgreSQL's id sequences move on, so a cached copy from
    the previous test would otherwise be taken for the current directory.
    """
    from helpline.calls.services import forget_helpline_numbers
    from helpline.voice.disclosure import forget_spoken_disclosure
    from routing.selectors import directory_cache

    directory_cache.clear()
    forget_helpline_numbers()
    forget_spoken_disclosure()


@pytest.fixture(autouse=True)
def fresh_routing_directory() -> Iterator[None]:
    """Each test starts and ends with the routing caches empty (``clear_routing_caches``).

    Every test under tests/helpline has it (tests/helpline/conftest.py); a module elsewhere imports it.
    """
    clear_routing_caches()
    yield
    clear_routing_caches()
