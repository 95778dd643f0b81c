"""Logs and error reports never contain caller numbers, names, form contents or tokens."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
from django.test import Client, RequestFactory, override_settings
from django.views.debug import get_default_exception_reporter_filter

from config.security import CallerDataExceptionReporter, CallerDataExceptionReporterFilter
from helpline.privacy import redact

NUMBER_DIGITS = "5125550199"
# Built so that the source lines an error report quotes around a frame do not contain it.
CALLER = "+1" + "512" + "555" + "0199"
CALLER_URLENC = "%2B1" + "512" + "555" + "0199"
NAME = "Margu" + "erite"
SESSION = "s3ss" + "10nvalue"


@pytest.fixture
def console_output() -> Iterator[io.StringIO]:
    """Everything the configured console handler (with its redacting filter) writes."""
    handler = next(h for h in logging.getLogger("django.request").handlers if isinstance(h, logging.StreamHandler))
    root_handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    buffer = io.StringIO()
    old_streams = {h: h.setStream(buffer) for h in {handler, *root_handlers}}
    yield buffer
    for h, stream in old_streams.items():
        h.setStream(stream)


def test_redact_removes_numbers_tokens_and_signatures_but_keeps_sids():
    text = (
        "caller +1 (512) 555-0199 From=%2B15125550199 Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b "
        "X-Twilio-Signature: c2lnbmF0dXJl sessionid=abc123def456 CallSid=CA0123456789abcdef0123456789abcdef"
    )

    cleaned = redact(text)

    assert NUMBER_DIGITS not in cleaned and "555-0199" not in cleaned
    assert "9944b09199c62bcf" not in cleaned
    assert "c2lnbmF0dXJl" not in cleaned and "abc123def456" not in cleaned
    assert "CA0123456789abcdef0123456789abcdef" in cleaned


@pytest.mark.parametrize(
    "written",
    [
        "+1 (512) 555-0199",
        "(512) 555-0199",
        "512-555-0199",
        "512.555.0199",
        "512 555 0199",
        "5125550199",
        "15125550199",
        "1-512-555-0199",
        "+15125550199",
        "From=%2B15125550199",
        "tel:+15125550199",
        "Key (phone)=(+15125550199)",
        "+44 20 7946 0958",
    ],
)
def test_redact_removes_every_way_of_writing_a_phone_number(written):
    cleaned = redact(f"callback for {written} failed")
    assert cleaned.startswith("callback for ") and cleaned.endswith(" failed")
    assert not any(ch.isdigit() for ch in cleaned.replace("%2B", "")), cleaned


@pytest.mark.parametrize(
    "text",
    [
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 "
        "Mobile Safari/537.36",
        "2026-12-01 02:00:54,159 task succeeded in 0.6876606820001143s",
        "at 2026-12-01T02:00:54.123456+00:00 (epoch 1764554454, 1764554454123 ms)",
        "client 203.0.113.7 port 127.0.0.1:8000",
        "invoice total 1,755.00 for 1755.00 cents 175500",
        "request a5e450c7-d724-4a47-aa41-d0b59da9110c",
        "CallSid=CA0123456789abcdef0123456789abcdef",
    ],
)
def test_redact_leaves_numbers_that_are_not_phone_numbers_alone(text):
    assert redact(text) == text


def test_log_message_args_and_traceback_are_redacted(console_output):
    log = logging.getLogger("helpline.test")
    try:
        raise RuntimeError("Key (phone)=(+15125550199) already exists")
    except RuntimeError:
        log.exception("saving callback for %s failed", "+15125550199")

    written = console_output.getvalue()
    assert "saving callback for [redacted-number] failed" in written
    assert "RuntimeError" in written  # the traceback is still there, minus the number
    assert NUMBER_DIGITS not in written


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.security.urls_boom")
def test_unhandled_error_in_a_view_logs_no_caller_data(console_output):
    client = Client(raise_request_exception=False)

    response = client.post("/boom/", {"phone": "+15125550199", "first_name": "Marguerite", "notes": "relapse"})

    assert response.status_code == 500
    written = console_output.getvalue()
    assert "Internal Server Error: /boom/" in written
    assert "ValueError" in written
    assert NUMBER_DIGITS not in written
    assert "Marguerite" not in written and "relapse" not in written


def test_error_report_hides_post_values_locals_cookies_and_query():
    assert isinstance(get_default_exception_reporter_filter(), CallerDataExceptionReporterFilter)
    request = RequestFactory().post(
        f"/twilio/voice/incoming?From={CALLER_URLENC}",
        {"From": CALLER, "first_name": NAME, "Digits": "2"},
        HTTP_COOKIE=f"sessionid={SESSION}",
    )
    request.COOKIES = {"sessionid": SESSION}

    def view(request):
        first_name = request.POST["first_name"]  # noqa: F841
        raise ValueError("routing failed")

    try:
        view(request)
    except ValueError:
        reporter = CallerDataExceptionReporter(request, *sys.exc_info())
    text = reporter.get_traceback_text()
    html = reporter.get_traceback_html()

    for report in (text, html):
        assert NUMBER_DIGITS not in report
        assert NAME not in report
        assert SESSION not in report
    assert "routing failed" in text
    assert "first_name" in text  # the names stay, so a developer knows what was posted


@override_settings(DEBUG=True)
def test_debug_error_page_hides_post_values_too():
    """Even if someone turns DEBUG on in an emergency, the technical page hides POST values."""
    request = RequestFactory().post("/x", {"phone": CALLER})
    try:
        raise ValueError("x")
    except ValueError:
        html = CallerDataExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    assert NUMBER_DIGITS not in html
