"""What every Twilio webhook answers with, and the URLs it tells Twilio to request next.

One TwiML response (voice and SMS, one content type) and one builder of the
webhook URLs put in that TwiML. The URLs are built by
``helpline.public_urls.absolute_url`` on ``PUBLIC_BASE_URL``, so the URL Twilio
requests and signs is the one ``helpline.voice.security`` checks the signature on.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from helpline.public_urls import absolute_url

TWIML_CONTENT_TYPE = "text/xml; charset=utf-8"
SAY_LANGUAGE = {"en": "en-US", "es": "es-MX"}


def twiml(response: VoiceResponse | MessagingResponse | str, *, status: int = 200) -> HttpResponse:
    """The TwiML answer to a webhook; ``response`` may be TwiML already rendered (a cached greeting)."""
    return HttpResponse(str(response), content_type=TWIML_CONTENT_TYPE, status=status)


def twilio_url(name: str, *, attempt_id: int | None = None, **query: object) -> str:
    """The public URL of the webhook ``twilio:<name>``, as Twilio will request (and sign) it.

    ``attempt_id`` fills the route's ``<int:attempt_id>`` (the callback routes);
    the other keywords are the query string, in the order given (values are ids,
    counters and language codes: nothing to escape, and never a caller's number).
    """
    kwargs = {"attempt_id": attempt_id} if attempt_id is not None else None
    url = absolute_url(reverse(f"twilio:{name}", kwargs=kwargs))
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def say_voice(language: str) -> dict[str, str]:
    """The ``language`` and ``voice`` attributes of every <Say> in ``language`` (settings.TWILIO_VOICE_EN/ES)."""
    if language == "es":
        return {"language": SAY_LANGUAGE["es"], "voice": settings.TWILIO_VOICE_ES}
    return {"language": SAY_LANGUAGE["en"], "voice": settings.TWILIO_VOICE_EN}
