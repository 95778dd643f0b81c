"""The database down or broken during a call: the caller still gets TwiML that dials the default
24/7 line, quickly, and the error is logged without caller data."""

from __future__ import annotations

import io
import logging
import time
from unittest import mock

import pytest
import requests
from django.conf import settings
from django.db import OperationalError
from twilio.request_validator import RequestValidator

from helpline.models import Call
from tests.faults.conftest import LiveClient
from tests.helpline.voice_support import CallDriver, make_directory, parse, payload, post

pytestmark = pytest.mark.faults

CALLER = "+15125550123"
DIGITS = "5125550123"


def _fallback_dialed(root) -> bool:
    return settings.FALLBACK_LINE in [d.text or (d.find("Number").text if d.find("Number") is not None else "")
                                      for d in root.iter("Dial")]  # fmt: skip


@pytest.fixture
def log_output():
    loggers = [logging.getLogger(name) for name in ("", "django.request")]
    handlers = {h for lg in loggers for h in lg.handlers if isinstance(h, logging.StreamHandler)}
    buffer = io.StringIO()
    old = {h: h.setStream(buffer) for h in handlers}
    yield buffer
    for h, stream in old.items():
        h.setStream(stream)


def _broken_database():
    return mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError(f"server closed the connection unexpectedly (caller {CALLER})"),
    )


@pytest.mark.django_db
def test_database_broken_when_the_call_arrives(client, log_output):
    make_directory()
    params = payload("incoming", From=CALLER, Caller=CALLER)

    with _broken_database():
        response = post(client, "/twilio/voice/incoming", params)

    root = parse(response)
    assert _fallback_dialed(root)
    assert root.find(".//Say") is not None  # the caller hears why before the line rings, never silence
    logged = log_output.getvalue()
    assert "OperationalError" in logged
    assert DIGITS not in logged


@pytest.mark.django_db
def test_database_breaks_in_the_middle_of_the_menu(client, log_output):
    make_directory()
    driver = CallDriver(client, from_=CALLER)
    driver.incoming()  # the call row exists now

    with _broken_database():
        root = driver.press("1")  # detox: routing needs the database, which has just gone

    assert _fallback_dialed(root)
    assert DIGITS not in log_output.getvalue()


def test_database_unreachable_under_gunicorn(app_env, start_gunicorn):
    """A real server whose database is a closed port: every voice URL still answers with the fallback."""
    env = dict(app_env, DATABASE_URL="postgres://postgres@127.0.0.1:9/nowhere", DATABASE_CONNECT_TIMEOUT="2")
    app = start_gunicorn(env)
    client = LiveClient(app.extra["base"])
    params = payload("incoming", From=CALLER, Caller=CALLER, CallSid="CA" + "7" * 32)
    url = settings.PUBLIC_BASE_URL + "/twilio/voice/incoming"
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)

    started = time.monotonic()
    response = client.post("/twilio/voice/incoming", params, headers={"X-Twilio-Signature": signature})
    elapsed = time.monotonic() - started

    root = parse(response)
    assert _fallback_dialed(root)
    assert elapsed < 5
    # Twilio's Fallback URL needs no database at all.
    static = requests.post(app.extra["base"] + "/twilio/voice/fallback", data=params, timeout=10)
    assert static.status_code == 200 and settings.FALLBACK_LINE in static.text
    # An unsigned request is still refused, database or not.
    assert requests.post(app.extra["base"] + "/twilio/voice/incoming", data=params, timeout=10).status_code == 403
    time.sleep(0.5)
    log = app.output()
    assert "fallback" in log.lower()
    assert DIGITS not in log
    assert not Call.objects.exists()
