"""A local fake of Twilio's REST API, plus a driver that plays Twilio's part in a bridged call.

``FakeTwilio`` is a small threaded HTTP server on 127.0.0.1 that records the
``Calls.json`` and ``Messages.json`` POSTs the app makes through
``helpline.twilio_rest`` and answers the way Twilio does (201 + JSON with a
SID, or Twilio's error JSON). Failures are programmable::

    fake.fail_next("Calls", status=500)                       # one 5xx
    fake.fail_next("Messages", status=400, code=21211)        # invalid 'To'
    fake.reject_number("+15125550111", code=21211)            # always invalid

``BridgedCallDriver`` then acts as Twilio on the webhooks: it fetches the
whisper TwiML of a recorded call, presses keys, follows ``<Gather action>``,
``<Dial action>`` and ``<Number url>``, and posts the status callback, each
request signed with ``RequestValidator.compute_signature`` like the real thing.
"""

from __future__ import annotations

import json
import threading
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own TwiML in tests
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

ERROR_MESSAGES = {
    21211: "The 'To' number is not a valid phone number.",
    21614: "'To' number is not a valid mobile number",
    20003: "Authenticate",
    20500: "Internal Server Error",
}


@dataclass
class Recorded:
    resource: str  # "Calls" or "Messages"
    params: dict[str, Any]
    sid: str
    account_sid: str
    auth_user: str = ""


@dataclass
class _Failure:
    status: int
    code: int | None


@dataclass
class FakeTwilio:
    host: str = "127.0.0.1"
    requests: list[Recorded] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._queued: dict[str, list[_Failure]] = {"Calls": [], "Messages": []}
        self._rejected: dict[str, int] = {}
        self.attempted: list[Recorded] = []  # every POST, including the ones answered with an error
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence
                return

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                self._reply(404, {"code": 20404, "message": "not found", "status": 404})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._handler = Handler
        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- life cycle -------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def start(self) -> FakeTwilio:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- programming failures ---------------------------------------------
    def fail_next(self, resource: str, *, status: int, code: int | None = None, times: int = 1) -> None:
        with self.lock:
            self._queued[resource].extend(_Failure(status, code) for _ in range(times))

    def reject_number(self, number: str, *, code: int = 21211) -> None:
        with self.lock:
            self._rejected[number] = code

    # --- reading what was sent --------------------------------------------
    def calls(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.resource == "Calls"]

    def messages(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.resource == "Messages"]

    # --- the server side ----------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        parts = path.strip("/").split("/")
        # /2010-04-01/Accounts/{AccountSid}/{Calls|Messages}.json
        if len(parts) != 4 or parts[1] != "Accounts" or parts[3] not in ("Calls.json", "Messages.json"):
            handler._reply(404, {"code": 20404, "message": f"no route {path}", "status": 404})  # type: ignore[attr-defined]
            return
        resource = parts[3].removesuffix(".json")
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        params: dict[str, Any] = {}
        for key, values in parse_qs(raw, keep_blank_values=True).items():
            params[key] = values if len(values) > 1 else values[0]
        prefix = "CA" if resource == "Calls" else "SM"
        record = Recorded(resource=resource, params=params, sid=prefix + uuid.uuid4().hex, account_sid=parts[2])
        with self.lock:
            self.attempted.append(record)
            failure = self._queued[resource].pop(0) if self._queued[resource] else None
            rejected_code = self._rejected.get(str(params.get("To", "")))
        if failure is None and rejected_code is not None:
            failure = _Failure(400, rejected_code)
        if failure is not None:
            code = failure.code or (20500 if failure.status >= 500 else 21211)
            handler._reply(  # type: ignore[attr-defined]
                failure.status,
                {
                    "code": code,
                    "message": ERROR_MESSAGES.get(code, "Error"),
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": failure.status,
                },
            )
            return
        with self.lock:
            self.requests.append(record)
        body = {
            "sid": record.sid,
            "account_sid": parts[2],
            "to": params.get("To"),
            "from": params.get("From"),
            "status": "queued",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{parts[2]}/{resource}/{record.sid}.json",
        }
        if resource == "Messages":
            body["body"] = params.get("Body")
        handler._reply(201, body)  # type: ignore[attr-defined]


@contextmanager
def running_fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    try:
        yield fake
    finally:
        fake.stop()


# ---------------------------------------------------------------------------
# Playing Twilio's part in the webhooks of a bridged callback.
# ---------------------------------------------------------------------------

Poster = Callable[[str, dict[str, str]], tuple[int, str]]


def signed_post_factory(*, public_base_url: str, auth_token: str, send: Callable[..., tuple[int, str]]) -> Poster:
    """A poster that signs like Twilio: the signature is over the PUBLIC url and params.

    ``send(path, params, signature)`` delivers it (Django test client or HTTP to a live server).
    """
    validator = RequestValidator(auth_token)

    def post(url: str, params: dict[str, str]) -> tuple[int, str]:
        path = url.removeprefix(public_base_url.rstrip("/"))
        full = public_base_url.rstrip("/") + path
        signature = validator.compute_signature(full, params)
        return send(path, params, signature)

    return post


def parse_twiml(xml: str) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 - our own TwiML


@dataclass
class BridgeOutcome:
    partner_twiml: list[str] = field(default_factory=list)
    caller_twiml: list[str] = field(default_factory=list)
    status_code: int = 0


class BridgedCallDriver:
    """Acts as Twilio for one outbound callback call recorded by the fake.

    partner_answers / partner_digits: what the partner leg does;
    caller_answers / caller_digits: what the caller leg does when dialed.
    """

    def __init__(self, *, post: Poster) -> None:
        self.post = post

    def run(
        self,
        call: Recorded,
        *,
        partner_answers: bool = True,
        partner_digits: str = "1",
        caller_answers: bool = True,
        caller_digits: str = "1",
        talk_seconds: int = 240,
    ) -> BridgeOutcome:
        p = call.params
        base = {"CallSid": call.sid, "AccountSid": call.account_sid, "From": p["From"], "To": p["To"],
                "Direction": "outbound-api"}  # fmt: skip
        out = BridgeOutcome()
        if not partner_answers:
            code, _ = self.post(p["StatusCallback"], {**base, "CallStatus": "no-answer", "CallDuration": "0"})
            out.status_code = code
            return out
        _, twiml = self.post(p["Url"], {**base, "CallStatus": "in-progress"})
        out.partner_twiml.append(twiml)
        duration = 20
        node = parse_twiml(twiml)
        for _hop in range(6):
            gather = node.find("Gather")
            dial = node.find("Dial")
            if gather is not None and partner_digits:
                _, twiml = self.post(gather.attrib["action"], {**base, "CallStatus": "in-progress",
                                                               "Digits": partner_digits})  # fmt: skip
                out.partner_twiml.append(twiml)
                node = parse_twiml(twiml)
                continue
            if dial is not None:
                number = dial.find("Number")
                assert number is not None, twiml
                child_sid = "CA" + uuid.uuid4().hex
                child = {"CallSid": child_sid, "ParentCallSid": call.sid, "AccountSid": call.account_sid,
                         "From": dial.attrib.get("callerId", ""), "To": (number.text or "").strip()}  # fmt: skip
                dial_status, dial_duration = "no-answer", "0"
                if caller_answers:
                    dial_status = "completed"
                    if "url" in number.attrib:
                        _, ctwiml = self.post(number.attrib["url"], {**child, "CallStatus": "in-progress"})
                        out.caller_twiml.append(ctwiml)
                        cnode = parse_twiml(ctwiml)
                        cgather = cnode.find("Gather")
                        if cgather is not None and caller_digits:
                            _, ctwiml = self.post(cgather.attrib["action"], {**child, "CallStatus": "in-progress",
                                                                             "Digits": caller_digits})  # fmt: skip
                            out.caller_twiml.append(ctwiml)
                    dial_duration = str(talk_seconds)
                    duration += talk_seconds
                _, twiml = self.post(dial.attrib["action"], {**base, "CallStatus": "in-progress",
                                     "DialCallSid": child_sid, "DialCallStatus": dial_status,
                                     "DialCallDuration": dial_duration})  # fmt: skip
                out.partner_twiml.append(twiml)
                node = parse_twiml(twiml)
                continue
            break
        code, _ = self.post(p["StatusCallback"], {**base, "CallStatus": "completed", "CallDuration": str(duration)})
        out.status_code = code
        return out
