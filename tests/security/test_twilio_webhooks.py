"""Every Twilio-facing URL refuses unsigned or mis-signed requests and writes nothing; replays change nothing.

What "replayed request" means here: Twilio's signature (HMAC-SHA1 of the full
public URL and every POST parameter, keyed with our auth token) has no
timestamp or nonce, so a captured request re-sent by an attacker is
byte-for-byte a Twilio retry, and Twilio retries must get the same answer. So
a replay cannot be refused; it is made harmless instead: it cannot be changed
(any edited parameter or a different URL breaks the signature), and every
webhook is idempotent (calls keyed by CallSid, events by SID and status,
claims by compare-and-set), so replaying it returns the same TwiML and writes
nothing new.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from twilio.request_validator import RequestValidator

from helpline.models import Call, CallEvent, DialAttempt
from tests.helpline.voice_support import CallDriver, make_directory, parse, payload, post

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Twilio's Fallback URL: static TwiML that dials the public default line, open on purpose (helpline.voice.inbound).
OPEN_ON_PURPOSE = {"/twilio/voice/fallback"}


def twilio_paths() -> list[str]:
    """Every URL under /twilio/ in the URL conf, with path parameters filled in."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern):
                found.append("/" + re.sub(r"<(?:\w+:)?\w+>", "1", prefix + route))

    walk(get_resolver().url_patterns, "")
    paths = sorted(p for p in found if p.startswith("/twilio/"))
    assert len(paths) >= 3, paths  # the walk itself works
    return paths


def row_counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models()}


def plausible_params() -> dict[str, str]:
    params = payload("incoming")
    params.update(Digits="1", CallStatus="completed", DialCallStatus="completed", SmsSid="SM" + "0" * 32, Body="STOP")
    return params


@pytest.mark.parametrize("path", twilio_paths())
def test_unsigned_or_missigned_post_is_refused_and_writes_nothing(client, path):
    make_directory()
    params = plausible_params()
    before = row_counts()
    url = settings.PUBLIC_BASE_URL + path
    wrong_token = RequestValidator("not-our-token").compute_signature(url, params)
    other_url = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(
        settings.PUBLIC_BASE_URL + "/twilio/voice/elsewhere", params
    )
    tampered = dict(params, Digits="9")
    good_for_original = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)

    attempts = [
        client.post(path, params),
        client.post(path, params, headers={"X-Twilio-Signature": wrong_token}),
        client.post(path, params, headers={"X-Twilio-Signature": other_url}),
        client.post(path, tampered, headers={"X-Twilio-Signature": good_for_original}),
    ]

    if path in OPEN_ON_PURPOSE:
        for response in attempts:
            root = parse(response)
            assert [d.text for d in root.iter("Dial")] == [settings.FALLBACK_LINE]
    else:
        assert [r.status_code for r in attempts] == [403, 403, 403, 403], path
    assert row_counts() == before, path


def test_a_replayed_call_gets_the_same_answer_and_writes_nothing_new(client):
    make_directory()
    driver = CallDriver(client)
    first = driver.incoming()
    params = payload("incoming", **driver.base)
    driver.press("1")
    driver.answer()
    counts = row_counts()

    replayed = parse(post(client, "/twilio/voice/incoming", params))
    status = payload("status_callback", **driver.base)
    status.update(CallStatus="completed", CallDuration="75", SequenceNumber="3")
    assert post(client, "/twilio/voice/status", status).status_code in (200, 204)
    after_first_status = row_counts()
    assert post(client, "/twilio/voice/status", status).status_code in (200, 204)

    assert [el.tag for el in replayed] == [el.tag for el in first]
    assert Call.objects.count() == 1
    assert counts[Call._meta.label] == after_first_status[Call._meta.label]
    assert row_counts() == after_first_status  # the replayed status callback added nothing
    assert CallEvent.objects.filter(sid=driver.sid, status="completed").count() == 1
    assert DialAttempt.objects.count() == 1


def test_call_recording_is_off_everywhere(client):
    """No TwiML we serve records, and no code path can ask Twilio to record."""
    make_directory()
    driver = CallDriver(client)
    documents = [driver.incoming(), driver.press("1"), driver.answer()]
    for root in documents:
        assert root.find(".//Record") is None
        for element in root.iter():
            assert element.get("record", "do-not-record") == "do-not-record", element.attrib
            assert "recordingStatusCallback" not in element.attrib

    offenders = []
    for source in [*ROOT.joinpath("helpline").rglob("*.py"), *ROOT.joinpath("partners").rglob("*.py")]:
        text = source.read_text()
        if re.search(r"\.record\(|[\"']?record[\"']?\s*[=:]\s*(True|[\"']true|[\"']record-)|<Record", text):
            offenders.append(str(source.relative_to(ROOT)))
    assert offenders == []
