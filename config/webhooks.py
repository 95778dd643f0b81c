"""A WSGI application that spares Twilio's webhooks the browser-only middleware.

``/twilio/`` requests carry no cookies and no user: sessions, the visit record,
CSRF (the views are exempt; the Twilio signature is the check), authentication,
OTP, messages, lockout, CSP/X-Frame headers for HTML and the staff time zone can
never apply to them, yet each costs every webhook its share of CPU on the hot
path of a waiting caller. This application loads the same middleware stack twice:
the full one for everything else, and one without ``BROWSER_ONLY`` for
``/twilio/``. SecurityMiddleware, the body limit and WhiteNoise stay on both, and
the signature check lives in the views (``helpline.voice.security``), untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

WEBHOOK_PREFIX = "/twilio/"
BROWSER_ONLY = frozenset(
    {
        "csp.middleware.CSPMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "helpline.attribution.VisitMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "axes.middleware.AxesMiddleware",
        "config.staff_time.StaffTimeZoneMiddleware",
    }
)


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with ``settings.MIDDLEWARE`` minus ``BROWSER_ONLY``."""

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        # Read once, at start-up, by this call only (single-threaded: the WSGI module is being imported).
        settings.MIDDLEWARE = [m for m in full if m not in BROWSER_ONLY]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class SplitApplication:
    """Sends ``/twilio/`` to the lean handler and every other path to the full one."""

    def __init__(self, site: WSGIHandler) -> None:
        self.site = site
        self.webhooks = WebhookHandler()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(WEBHOOK_PREFIX):
            return self.webhooks(environ, start_response)
        return self.site(environ, start_response)
