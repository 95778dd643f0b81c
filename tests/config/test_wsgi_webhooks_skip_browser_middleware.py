"""The WSGI application: /twilio/ webhooks skip the browser-only middleware, other paths keep it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

from config.webhooks import BROWSER_ONLY, SplitApplication
from tests.helpline.voice_support import fresh_routing_directory, make_directory, payload, sign

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fresh_routing_directory"]


def call(app: SplitApplication, path: str, *, data: dict[str, str] | None = None, signature: str = "") -> Any:
    method = "POST" if data is not None else "GET"
    body = urlencode(data or {})
    # The environ Django's own test client builds, handed to the WSGI application itself.
    headers = {"X-Twilio-Signature": signature} if signature else None
    environ = RequestFactory().generic(method, path, body, "application/x-www-form-urlencoded", headers=headers).environ
    status: list[str] = []
    response_headers: list[tuple[str, str]] = []

    def start_response(s: str, h: list[tuple[str, str]], *_: Any) -> None:
        status.append(s)
        response_headers.extend(h)

    content = b"".join(app(environ, start_response))
    return status[0], dict(response_headers), response_headers, content


@pytest.fixture
def app() -> SplitApplication:
    return SplitApplication(WSGIHandler())


def test_webhooks_skip_the_browser_headers_that_other_paths_keep(app):
    _status, site, _raw, _content = call(app, "/")
    _status, hook, _raw, _content = call(app, "/twilio/voice/fallback")
    assert "X-Frame-Options" in site and "X-Frame-Options" not in hook  # XFrameOptionsMiddleware: browser only
    assert "X-Content-Type-Options" in site and "X-Content-Type-Options" in hook  # SecurityMiddleware: both
    assert "django.middleware.security.SecurityMiddleware" not in BROWSER_ONLY
    assert "config.security.RequestBodyLimitMiddleware" not in BROWSER_ONLY


def test_a_signed_incoming_webhook_is_answered_without_a_session_cookie(app):
    make_directory()
    params = payload("incoming")
    url = "/twilio/voice/incoming"
    status, headers, raw, content = call(app, url, data=params, signature=sign(url, params))
    assert status.startswith("200"), (status, content)
    assert b"<Gather" in content
    assert not any(name.lower() == "set-cookie" for name, _ in raw)
    assert "X-Content-Type-Options" in headers  # SecurityMiddleware still runs


def test_an_unsigned_webhook_is_still_refused(app):
    status, _headers, _raw, _content = call(app, "/twilio/voice/incoming", data=payload("incoming"))
    assert status.startswith("403")


def test_an_oversized_webhook_is_still_refused_by_the_body_limit(app):
    params = {**payload("incoming"), "pad": "x" * 300_000}
    status, _headers, _raw, _content = call(app, "/twilio/voice/incoming", data=params)
    assert status.startswith("413"), status


def test_other_paths_keep_sessions_and_csrf(app):
    status, _headers, raw, _content = call(app, "/?utm_source=tv")
    assert status.startswith("200"), status
    assert any(
        name.lower() == "set-cookie" and "sessionid" in value for name, value in raw
    )  # the visit, in the session
    status, _headers, _raw, _content = call(app, "/admin/login/", data={"username": "x", "password": "y"})
    assert status.startswith("403")  # no CSRF token: refused by CsrfViewMiddleware
