"""QA probes of the call simulator with odd input: it plays the call to an end and never crashes."""

from __future__ import annotations

import pytest
from django.conf import settings

from helpline.models import Call
from helpline.staff.simulator import Script, client_transport, simulate
from tests.helpline.voice_support import make_directory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("from_", "to", "digits", "outcomes"),
    [
        ("anonymous", "+18885550100", ["#", "*", "9" * 40, "", "", ""], []),
        ("", "+19995550000", ["", "", "", "", "", ""], ["failed", "no-answer", "busy"]),
        ("+266696687", "+18885550100", ["1", "8", "", "00000", "ABCDE"], ["answer+2", "answer+ignore", "busy"]),
        ("+442071838750", "+18885550100", ["2", "5"], ["caller-hangup"]),
        ("+15125550123", "+18885550100", ["1", "1"], ["answer+1"]),
    ],
)
def test_simulated_calls_with_odd_input_end_connected_or_on_the_fallback_line(from_, to, digits, outcomes):
    make_directory()
    sim = simulate(
        script=Script(from_number=from_, to_number=to, digits=digits, partner_outcomes=outcomes),
        transport=client_transport(),
    )
    call = Call.objects.get()
    assert call.is_test
    assert call.status in (Call.Status.FALLBACK, Call.Status.COMPLETED, Call.Status.ABANDONED), sim.transcript
    if call.status == Call.Status.FALLBACK:
        assert settings.FALLBACK_LINE_NAME in sim.transcript
