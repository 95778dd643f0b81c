"""Twilio voice webhooks (placeholder until the voice work lands: always the safe fallback)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.voice_response import VoiceResponse


def _fallback_twiml() -> str:
    response = VoiceResponse()
    response.say("Connecting you to a free national helpline.")
    response.dial(settings.FALLBACK_LINE)
    return str(response)


@csrf_exempt
@require_POST
def incoming(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_fallback_twiml(), content_type="text/xml")


@csrf_exempt
@require_POST
def status(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


@csrf_exempt
def fallback(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_fallback_twiml(), content_type="text/xml")
