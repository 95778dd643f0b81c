"""Checks that a webhook really comes from Twilio (``X-Twilio-Signature``).

The signature is computed by Twilio on the public URL it was configured with,
so we rebuild that URL from ``PUBLIC_BASE_URL`` rather than trusting the Host
header or the scheme seen behind a TLS-terminating proxy. There is no switch
to turn this off.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called, as Twilio saw it."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()


def is_valid_twilio_request(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    params = request.POST.dict() if request.method == "POST" else {}
    return bool(validator.validate(public_url(request), params, signature))


def twilio_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorator: 403 (writing nothing) unless the request carries a valid Twilio signature."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        if not is_valid_twilio_request(request):
            logger.warning("Rejected webhook with missing or invalid Twilio signature on %s", request.path)
            return HttpResponseForbidden("Invalid Twilio signature")
        return view(request, *args, **kwargs)

    return wrapped
