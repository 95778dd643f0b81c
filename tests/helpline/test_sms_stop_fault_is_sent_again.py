"""A fault while recording a STOP is a 500 with TwiML: Twilio sends the text again, and STOP is idempotent."""

from __future__ import annotations

from unittest import mock

import pytest
from defusedxml import ElementTree as SafeET
from django.db import DatabaseError

from helpline.admission import services as admission
from helpline.models import ContactBlock
from helpline.privacy import caller_hash
from tests.helpline.voice_support import post

pytestmark = pytest.mark.django_db

STOP = {"From": "+15125550123", "Body": "STOP", "MessageSid": "SM" + "2" * 32}


def test_a_stop_that_could_not_be_recorded_is_a_500_with_twiml_and_the_resend_records_it(client, caplog):
    with mock.patch.object(
        admission, "admission_request_withdraw", autospec=True, side_effect=DatabaseError("database down")
    ):
        failed = post(client, "/twilio/sms/incoming", STOP)
    assert failed.status_code == 500
    assert failed["Content-Type"] == "text/xml; charset=utf-8"
    assert SafeET.fromstring(failed.content).tag == "Response"
    assert "Inbound SMS handling failed" in caplog.text
    assert not ContactBlock.objects.exists()

    resent = post(client, "/twilio/sms/incoming", STOP)
    assert resent.status_code == 200
    assert resent["Content-Type"] == "text/xml; charset=utf-8"
    assert ContactBlock.objects.filter(phone_hash=caller_hash(STOP["From"]), source="sms-stop").exists()
