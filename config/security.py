"""Security plumbing shared by every app: client address, body limits, error reports, staff admin.

Nothing here imports models at module level: the admin app config below is
loaded while Django is still populating its app registry.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, ItemsView
from typing import Any

from django.conf import settings
from django.contrib.admin.apps import AdminConfig
from django.core.checks import CheckMessage, Tags, Warning, register
from django.http import HttpRequest, HttpResponse
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# --- Client address behind the proxy -------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The caller's address as seen by the first trusted proxy.

    With ``PROXY_COUNT`` = N trusted proxies in front of gunicorn, each one
    appends the address it received the request from to ``X-Forwarded-For``.
    The right-most N entries are therefore written by our own proxies and the
    N-th from the right is the real client; anything further left was sent by
    the client itself and can be forged, so it is ignored. With no proxy (N=0)
    or a malformed header, ``REMOTE_ADDR`` is the answer.

    Used by django-axes (``AXES_CLIENT_IP_CALLABLE``), the audit log and rate limits.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return candidate


# --- Request body limits ---------------------------------------------------------


class RequestBodyLimitMiddleware:
    """Refuse oversize bodies (413) before anything reads them.

    Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards form parsing and
    ``request.body``; the REST framework's JSON parser reads the stream
    directly, so without this guard a partner API client could post any size.
    Every legitimate body here (forms, Twilio webhooks, API JSON) is a few KB.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(getattr(settings, "MAX_REQUEST_BODY_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return HttpResponse("Invalid Content-Length.\n", status=400, content_type="text/plain")
        if length > limit:
            return HttpResponse(
                f"Request body too large (limit {limit} bytes).\n", status=413, content_type="text/plain"
            )
        return self.get_response(request)


class NulQueryStringMiddleware:
    """Drop NUL bytes ("%00") from the query string before any view reads it.

    PostgreSQL cannot hold NUL in a text value: a list filter or a search with
    one was a DataError, a 500 (every list filter of the staff admin, the
    guide search). A NUL never means anything in an address, so the page is
    served as if it were not there (a link with one still shows the helpline),
    and whatever else is wrong with the value is answered as usual.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query:
            request.META["QUERY_STRING"] = query.replace("%00", "")  # read from here by request.GET, lazily
        return self.get_response(request)


# --- Error reports without caller data -------------------------------------------

_CLEANSED = SafeExceptionReporterFilter.cleansed_substitute
# Request metadata that repeats the query string (or a page's, for the referrer).
_META_WITH_QUERY = ("QUERY_STRING", "RAW_URI", "REQUEST_URI", "HTTP_REFERER")


class CallerDataExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports (500 pages in DEBUG, error e-mails) with no caller data at all.

    Every POST on this site carries caller data (the callback form, Twilio's
    ``From``/``Digits``/``FromZip``, API bodies), so all POST values are
    hidden, not just the ones a view remembered to mark with
    ``@sensitive_post_parameters``; so are traceback locals (a ``phone``
    variable), cookies (session ids) and settings that look like secrets.
    Always on, DEBUG or not.
    """

    hidden_settings = re.compile(r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|SALT|HASH|URL|DSN", flags=re.I)

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        if request is None:
            return {}
        return {key: _CLEANSED for key in request.POST}

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        for key in _META_WITH_QUERY:
            if key in meta:
                meta[key] = _CLEANSED
        return meta

    def get_safe_cookies(self, request: HttpRequest) -> dict[str, Any]:
        return {key: _CLEANSED for key in getattr(request, "COOKIES", {})}

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> ItemsView[str, Any]:
        return {name: _CLEANSED for name in tb_frame.f_locals}.items()


class CallerDataExceptionReporter(ExceptionReporter):
    """Also hides query-string values, which the default report prints unfiltered."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if self.request is not None:
            data["request_GET_items"] = [(key, _CLEANSED) for key in self.request.GET]
            data["request_insecure_uri"] = self.request.path  # no host lookup: it may be the error
        return data


# --- Staff admin ---------------------------------------------------------------


class ClearlineAdminConfig(AdminConfig):
    """The staff admin, with an optional second factor (``STAFF_REQUIRE_OTP``)."""

    default_site = "config.admin_site.ClearlineAdminSite"


# --- Deployment checks -----------------------------------------------------------

_LOCAL_DEFAULTS = {"local-dev-salt-key", "local-dev-caller-hash-key", "local-dev-twilio-token"}


@register(Tags.security, deploy=True)
def check_privacy_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy`` fails loudly on placeholder or short privacy keys."""
    problems: list[CheckMessage] = []
    salt_keys = settings.SALT_KEY if isinstance(settings.SALT_KEY, list) else [settings.SALT_KEY]
    named = [("FIELD_ENCRYPTION_SALT_KEYS", k) for k in salt_keys] + [
        ("CALLER_HASH_KEY", settings.CALLER_HASH_KEY),
        ("TWILIO_AUTH_TOKEN", settings.TWILIO_AUTH_TOKEN),
    ]
    for name, value in named:
        if not value or value in _LOCAL_DEFAULTS or (name != "TWILIO_AUTH_TOKEN" and len(value) < 16):
            problems.append(
                Warning(
                    f"{name} is a placeholder or shorter than 16 characters.",
                    hint="Generate a long random value (e.g. `openssl rand -base64 32`) and keep it secret.",
                    id="clearline.W001",
                )
            )
    if not settings.STAFF_REQUIRE_OTP:
        problems.append(
            Warning(
                "STAFF_REQUIRE_OTP is off: staff reach caller data with a password alone.",
                hint="Enrol staff with `manage.py enroll_totp <username>` and set STAFF_REQUIRE_OTP=true.",
                id="clearline.W002",
            )
        )
    return problems
