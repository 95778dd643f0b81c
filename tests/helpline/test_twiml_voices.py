"""Every <Say> names a voice valid for its language (settings), so prompts play on any Twilio account."""

from __future__ import annotations

import pytest

from tests.helpline.voice_support import CallDriver, make_directory, parse, post

pytestmark = pytest.mark.django_db


def assert_voices(root, settings) -> int:
    voices = {"en-US": settings.TWILIO_VOICE_EN, "es-MX": settings.TWILIO_VOICE_ES}
    says = list(root.iter("Say"))
    for say in says:
        assert say.get("language") in voices, say.attrib
        assert say.get("voice") == voices[say.get("language")], say.attrib
    return len(says)


def test_every_say_of_an_english_and_a_spanish_call_names_the_configured_voice(client, settings):
    settings.TWILIO_VOICE_EN, settings.TWILIO_VOICE_ES = "Polly.Joanna", "Polly.Mia"
    make_directory()
    for keys in (["1"], ["8", "1"]):  # English detox; Spanish, then detox
        driver = CallDriver(client)
        seen = assert_voices(driver.incoming(), settings)
        for key in keys:
            seen += assert_voices(driver.press(key), settings)
        seen += assert_voices(driver.answer(), settings)  # the partner's whisper
        assert seen >= 4


def test_fallback_and_refused_requests_name_voices_too(client, settings):
    root = parse(post(client, "/twilio/voice/fallback", {}))
    assert assert_voices(root, settings) >= 2


def test_callback_and_sms_responses_declare_utf8(client):
    response = post(client, "/twilio/callback/987654/whisper", {"CallSid": "CA" + "0" * 32})
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    sms = post(client, "/twilio/sms/incoming", {"From": "+15125550123", "Body": "hola", "MessageSid": "SM" + "0" * 32})
    assert sms["Content-Type"] == "text/xml; charset=utf-8"
