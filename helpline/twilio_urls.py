from django.urls import path

from helpline import voice

app_name = "twilio"

urlpatterns = [
    path("voice/incoming", voice.incoming, name="incoming"),
    path("voice/status", voice.status, name="status"),
    path("voice/fallback", voice.fallback, name="fallback"),
]
