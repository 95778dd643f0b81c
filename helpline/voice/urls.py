"""Twilio-facing URLs.

Voice URL ``voice/incoming``, status callback ``voice/status``, Fallback URL ``voice/fallback``.
"""

from django.urls import path

from helpline.voice import callback as callback_voice
from helpline.voice import inbound as voice

app_name = "twilio"

urlpatterns = [
    path("voice/incoming", voice.incoming, name="incoming"),
    path("voice/greeting", voice.greeting, name="greeting"),
    path("voice/service", voice.service, name="service"),
    path("voice/zip", voice.zip_code, name="zip"),
    path("voice/dial-result", voice.dial_result, name="dial_result"),
    path("voice/whisper", voice.whisper, name="whisper"),
    path("voice/whisper-choice", voice.whisper_choice, name="whisper_choice"),
    path("voice/crisis-result", voice.crisis_result, name="crisis_result"),
    path("voice/status", voice.status, name="status"),
    path("voice/fallback", voice.fallback, name="fallback"),
    # Bridged callbacks of admission requests (helpline.voice.callback) and inbound texts (STOP/START).
    path("callback/<int:attempt_id>/whisper", callback_voice.whisper, name="callback_whisper"),
    path("callback/<int:attempt_id>/accept", callback_voice.accept, name="callback_accept"),
    path("callback/<int:attempt_id>/caller-screen", callback_voice.caller_screen, name="callback_caller_screen"),
    path("callback/<int:attempt_id>/caller-accept", callback_voice.caller_accept, name="callback_caller_accept"),
    path("callback/<int:attempt_id>/dial-done", callback_voice.dial_done, name="callback_dial_done"),
    path("callback/<int:attempt_id>/status", callback_voice.status, name="callback_status"),
    path("sms/incoming", callback_voice.sms_incoming, name="sms_incoming"),
]
