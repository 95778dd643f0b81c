"""Mixed helpline traffic for the load run (see run.py): whole calls, callback forms, portal pages.

Callers play every webhook Twilio would send for one call, signed with the real library: the
incoming call, the menu (English, a service), the partner's leg (whisper, press 1), the end of
the bridged dial, and the status callbacks. Form users load the callback form and send it. Partner
users sign in and open their dashboard, call list and request list. Each finished call SID and
each accepted form is appended to LOAD_LEDGER, so run.py can check that nothing was lost.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from defusedxml import ElementTree
from locust import HttpUser, between, task
from twilio.request_validator import RequestValidator

FIXTURES = Path(__file__).resolve().parents[2] / "helpline" / "fixtures" / "twilio"
PUBLIC = os.environ["LOAD_PUBLIC_BASE_URL"].rstrip("/")
VALIDATOR = RequestValidator(os.environ["LOAD_TWILIO_AUTH_TOKEN"])
HELPLINE = os.environ["LOAD_HELPLINE_NUMBER"]
PARTNER_USER = os.environ["LOAD_PARTNER_USER"]
PARTNER_PASSWORD = os.environ["LOAD_PARTNER_PASSWORD"]
FORM_STAMP = os.environ["LOAD_FORM_STAMP"]
LEDGER = Path(os.environ["LOAD_LEDGER"])
_ledger_lock = threading.Lock()


def fixture(name: str) -> dict[str, str]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def record(kind: str, value: str) -> None:
    with _ledger_lock, LEDGER.open("a") as handle:
        handle.write(json.dumps({"kind": kind, "value": value}) + "\n")


def random_caller() -> str:
    return f"+1512{random.randint(200, 989)}{random.randint(0, 9999):04d}"


class Caller(HttpUser):
    """One person calling the helpline, start to finish."""

    weight = 6
    wait_time = between(0.2, 1.0)

    def signed(self, url: str, params: dict[str, str], name: str):
        url = url if url.startswith("http") else PUBLIC + url
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        signature = VALIDATOR.compute_signature(url, params)
        with self.client.post(
            path, data=params, headers={"X-Twilio-Signature": signature}, name=name, catch_response=True
        ) as response:
            if response.status_code not in (200, 204):
                response.failure(f"HTTP {response.status_code}")
                return None
            if response.status_code == 204 or not response.content:
                return None
            root = ElementTree.fromstring(response.content)
            if root.tag != "Response" or len(root) == 0:
                response.failure("empty TwiML")
            return root

    @task
    def call(self) -> None:
        sid = "CA" + uuid.uuid4().hex
        caller = random_caller()
        base = {"CallSid": sid, "From": caller, "Caller": caller, "To": HELPLINE, "Called": HELPLINE}
        root = self.signed("/twilio/voice/incoming", {**fixture("incoming"), **base}, "incoming")
        for digits, name in (("1", "menu: service"),):  # the greeting is the menu: 1 = detox
            if root is None or root.find("Gather") is None:
                return
            time.sleep(random.uniform(0.1, 0.4))  # the caller listens and presses a key
            action = root.find("Gather").get("action")
            root = self.signed(action, {**fixture("gather"), **base, "Digits": digits}, name)
        number = root.find("Dial/Number") if root is not None else None
        if number is None:  # routed to the fallback line: still a completed call for the caller
            record("call", sid)
            return
        leg = "CA" + uuid.uuid4().hex
        leg_base = {"CallSid": leg, "ParentCallSid": sid, "To": number.text or "", "Called": number.text or ""}
        whisper = self.signed(number.get("url"), {**fixture("whisper"), **leg_base}, "partner: whisper")
        if whisper is not None and whisper.find("Gather") is not None:
            self.signed(
                whisper.find("Gather").get("action"),
                {**fixture("whisper_gather"), **leg_base, "Digits": "1"},
                "partner: press 1",
            )
        talk = str(random.randint(30, 400))
        dial_params = {**fixture("dial_action"), **base, "DialCallStatus": "completed", "DialCallSid": leg,
                       "DialCallDuration": talk, "DialBridged": "true", "CallStatus": "completed"}  # fmt: skip
        self.signed(root.find("Dial").get("action"), dial_params, "dial: result")
        leg_status = {**fixture("leg_status_callback"), **leg_base, "CallStatus": "completed",
                      "CallDuration": talk, "SequenceNumber": "3"}  # fmt: skip
        if number.get("statusCallback"):
            self.signed(number.get("statusCallback"), leg_status, "status: partner leg")
        status = {**fixture("status_callback"), **base, "CallStatus": "completed",
                  "CallDuration": str(int(talk) + 40), "SequenceNumber": "4"}  # fmt: skip
        self.signed("/twilio/voice/status", status, "status: call")
        record("call", sid)


class FormUser(HttpUser):
    """Someone asking for a callback on the website (each from their own address)."""

    weight = 2
    wait_time = between(1, 3)

    @task
    def request_callback(self) -> None:
        address = f"198.{random.randint(18, 19)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        headers = {"X-Forwarded-For": address}
        page = self.client.get("/request-a-callback/", headers=headers, name="form: page")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text or "")
        if token is None:
            return
        phone = f"512-{random.randint(200, 989)}-{random.randint(0, 9999):04d}"
        data = {
            "csrfmiddlewaretoken": token.group(1), "for_whom": "myself", "first_name": "Sam", "phone": phone,
            "zip_code": "78701", "service": "detox", "substances": "alcohol", "payment": "medicaid",
            "language": "en", "callback_when": "now", "allow_text": "on", "consent": "on", "website": "",
            "started": FORM_STAMP,
        }  # fmt: skip
        headers["Referer"] = self.host + "/request-a-callback/"
        with self.client.post(
            "/request-a-callback/", data=data, headers=headers, allow_redirects=False, name="form: send",
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code == 302:
                record("form", phone)
            else:
                response.failure(f"HTTP {response.status_code}")


class PartnerUser(HttpUser):
    """A treatment provider's intake coordinator checking the portal."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        page = self.client.get("/portal/login/", name="portal: login page")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text or "")
        address = f"203.0.{random.randint(0, 255)}.{random.randint(1, 254)}"
        self.client.post(
            "/portal/login/",
            data={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "username": PARTNER_USER,
                "password": PARTNER_PASSWORD,
            },  # fmt: skip
            headers={"Referer": self.host + "/portal/login/", "X-Forwarded-For": address},
            name="portal: sign in",
        )

    @task(3)
    def dashboard(self) -> None:
        self.client.get("/portal/", name="portal: dashboard")

    @task(2)
    def calls(self) -> None:
        self.client.get("/portal/calls/", name="portal: calls")

    @task(1)
    def requests(self) -> None:
        self.client.get("/portal/requests/", name="portal: requests")
