"""Twilio-facing URLs.

Voice URL ``voice/incoming``, status callback ``voice/status``, Fallback URL ``voice/fallback``.
"""

from django.urls import path

from helpline import voice

app_name = "twilio"

urlpatterns = [
    path("voice/incoming", voice.incoming, name="incoming"),
    path("voice/greeting", voice.greeting, name="greeting"),
    path("voice/service", voice.service, name="service"),
    path("voice/zip", voice.zip_code, name="zip"),
    path("voice/dial-result", voice.dial_result, name="dial_result"),
    path("voice/whisper", voice.whisper, name="whisper"),
    path("voice/whisper-choice", voice.whisper_choice, name="whisper_choice"),
    path("voice/status", voice.status, name="status"),
    path("voice/fallback", voice.fallback, name="fallback"),
]
