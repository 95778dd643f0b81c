"""The one seam for Twilio's REST API (outbound calls and texts).

Everything that talks to ``api.twilio.com`` goes through this module, so tests
can point it at a local fake (``settings.TWILIO_API_BASE_URL``) or patch these
functions. The client is built lazily from settings on each use: never at
import time, so changed settings (tests, key rotation) take effect at once and
importing the module never touches the network.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

# The twilio library logs every request line at INFO; keep it to warnings (URLs name our accounts).
_http_logger = logging.getLogger("helpline.twilio_rest.http")
_http_logger.setLevel(logging.WARNING)

# Seconds to wait for Twilio's REST API; a task retries rather than hang.
REST_TIMEOUT_SECONDS = 10

# Twilio error codes that mean "this number can never work": retrying is pointless.
PERMANENT_ERROR_CODES = frozenset(
    {
        21211,  # invalid 'To' phone number
        21214,  # 'To' number cannot be reached
        21217,  # phone number does not appear to be valid
        21407,  # this phone number type does not support SMS
        21408,  # permission to send to this region not enabled
        21610,  # recipient replied STOP (unsubscribed)
        21612,  # 'To' number not reachable via SMS
        21614,  # 'To' number is not a valid mobile number
        13223,  # dial: invalid phone number format
        13224,  # dial: invalid phone number
    }
)


class RebasingHttpClient(TwilioHttpClient):
    """Sends every request that would go to ``*.twilio.com`` to ``base_url`` instead."""

    def __init__(self, *, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_http_logger)
        self.base = urlsplit(base_url.rstrip("/"))

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, ""))
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def get_client() -> Client:
    """A REST client from the current settings (the fake's base URL when one is set)."""
    base = settings.TWILIO_API_BASE_URL
    http_client: TwilioHttpClient
    if base:
        http_client = RebasingHttpClient(base_url=base, timeout=REST_TIMEOUT_SECONDS)
    else:
        http_client = TwilioHttpClient(timeout=REST_TIMEOUT_SECONDS, logger=_http_logger)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


class TwilioFailure(Exception):
    """A REST call that did not go through, classified for the caller.

    ``permanent``: this number will never work (mark it and move on); otherwise retry later.
    """

    def __init__(self, *, permanent: bool, code: int | None, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.permanent = permanent
        self.code = code
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"Twilio {kind} failure (status={self.status}, code={self.code}): {self.detail}"


def _classify(exc: Exception) -> TwilioFailure:
    if isinstance(exc, TwilioRestException):
        status = int(exc.status) if exc.status else None
        code = int(exc.code) if exc.code else None
        permanent = code in PERMANENT_ERROR_CODES or (status is not None and 400 <= status < 500 and status != 429)
        # The message may echo the number: keep only the code in what we log.
        return TwilioFailure(permanent=permanent, code=code, status=status, detail=f"REST error {code}")
    return TwilioFailure(permanent=False, code=None, status=None, detail=type(exc).__name__)


def create_call(*, to: str, url: str, status_callback: str, timeout: int, from_: str = "") -> str:
    """Place an outbound call whose TwiML comes from ``url``; returns the CallSid.

    Raises ``TwilioFailure`` (permanent or transient).
    """
    kwargs: dict[str, Any] = {
        "to": to,
        "from_": from_ or settings.TWILIO_CALLER_ID,
        "url": url,
        "method": "POST",
        "status_callback": status_callback,
        "status_callback_method": "POST",
        "status_callback_event": ["completed"],
        "timeout": timeout,
    }
    try:
        call = get_client().calls.create(**kwargs)
    except (TwilioException, OSError) as exc:
        raise _classify(exc) from None
    return str(call.sid)


def send_sms(*, to: str, body: str, from_: str = "") -> str:
    """Send one text; returns the MessageSid. Raises ``TwilioFailure``."""
    try:
        message = get_client().messages.create(to=to, from_=from_ or settings.TWILIO_SMS_FROM, body=body)
    except (TwilioException, OSError) as exc:
        raise _classify(exc) from None
    return str(message.sid)
