"""Checks that a webhook really comes from Twilio (``X-Twilio-Signature``).

The signature is computed by Twilio on the public URL it was configured with,
so we rebuild that URL on ``PUBLIC_BASE_URL`` (``helpline.public_urls``, as the
URLs in our TwiML are built) rather than trusting the Host header or the scheme
seen behind a TLS-terminating proxy. There is no switch to turn this off.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from helpline.public_urls import absolute_url

logger = logging.getLogger(__name__)


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called, as Twilio saw it."""
    return absolute_url(request.get_full_path())


def is_valid_twilio_request(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    params = request.POST.dict() if request.method == "POST" else {}
    return bool(validator.validate(public_url(request), params, signature))


# What Twilio's parameters look like. The signature covers the parameters concatenated
# (key, value, key, value … in key order), so a captured request can be re-split without
# breaking it: {CallSid: X, Digits: 9} and {CallSid: "XDigits9"} sign the same. A value
# of the wrong shape is such a forgery (Twilio never sends one): it is refused.
_CALL_SID = r"CA[0-9a-f]{32}"
_PHONE = r"\+[1-9][0-9]{1,14}"
# Twilio's forms of a hidden or unplaceable caller ID, besides E.164 look-alikes (+266696687 …).
_ANONYMOUS = r"(?i:anonymous|restricted|unknown|private|blocked|unavailable)|[0-9]{1,15}"
_CALL_STATUS = r"queued|initiated|ringing|in-progress|answered|completed|busy|no-answer|failed|canceled"
TWILIO_SHAPES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        "CallSid": _CALL_SID,
        "ParentCallSid": _CALL_SID,
        "DialCallSid": _CALL_SID,
        "MessageSid": r"(SM|MM)[0-9a-f]{32}",
        "SmsSid": r"(SM|MM)[0-9a-f]{32}",
        "Digits": r"[0-9*#]{0,40}",
        "FinishedOnKey": r"[0-9*#]?",
        "From": rf"{_PHONE}|{_ANONYMOUS}|",
        "Caller": rf"{_PHONE}|{_ANONYMOUS}|",
        "To": rf"{_PHONE}|",
        "Called": rf"{_PHONE}|",
        "CallStatus": _CALL_STATUS,
        "DialCallStatus": _CALL_STATUS,
        "CallDuration": r"[0-9]{1,9}",
        "DialCallDuration": r"[0-9]{1,9}",
        "Duration": r"[0-9]{1,9}",
        "SequenceNumber": r"[0-9]{1,9}",
        # Twilio's geographic guesses; foreign postcodes and region names included.
        "FromZip": r"[0-9A-Za-z -]{0,10}",
        "CallerZip": r"[0-9A-Za-z -]{0,10}",
        "FromState": r"[A-Za-z .'-]{0,40}",
        "CallerState": r"[A-Za-z .'-]{0,40}",
        "Direction": r"inbound|outbound-api|outbound-dial|trunking-originating|trunking-terminating",
    }.items()
}


def twilio_shape_problem(params: Mapping[str, str]) -> str:
    """The name of the first parameter that is not shaped as Twilio sends it, or "" (names only, never values)."""
    for name, pattern in TWILIO_SHAPES.items():
        value = params.get(name)
        if value is not None and pattern.fullmatch(value) is None:
            return name
    return ""


def twilio_webhook(
    view: Callable[..., HttpResponse], *, malformed: Callable[[], HttpResponse] | None = None
) -> Callable[..., HttpResponse]:
    """Decorator: 403 (writing nothing) unless the request carries a valid Twilio signature.

    A signed request whose parameters are not Twilio-shaped (a re-split
    signature, see ``TWILIO_SHAPES``) gets ``malformed()`` — the endpoint's
    static fallback answer — and the view never runs, so nothing is written.
    """

    @csrf_exempt
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        if not is_valid_twilio_request(request):
            logger.warning("Rejected webhook with missing or invalid Twilio signature on %s", request.path)
            return HttpResponseForbidden("Invalid Twilio signature")
        bad = twilio_shape_problem(request.POST)
        if bad:
            logger.warning("Refused a signed webhook on %s: %s is not Twilio-shaped", request.path, bad)
            return malformed() if malformed is not None else HttpResponse(status=400)
        return view(request, *args, **kwargs)

    return wrapped
