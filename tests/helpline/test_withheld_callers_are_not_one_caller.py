"""Callers who withhold their number are strangers to each other, not one repeat caller.

Twilio sends a hidden caller ID as "anonymous", "restricted", "+266696687" and the like. Each such call
is a different, unknown person: a call from one must never make another's call a "repeat caller" (not
billed), nor group them under one fingerprint in staff search.
"""

from __future__ import annotations

import pytest

from helpline.models import Call
from partners.models import BillingDecision, LedgerEntry
from tests.helpline.voice_support import CallDriver, make_directory

pytestmark = pytest.mark.django_db


def accepted_call(client, from_: str) -> CallDriver:
    """A whole call as Twilio plays it: detox (ZIP 78701 if asked), the partner presses 1, 5 minutes' talk."""
    driver = CallDriver(client, from_=from_)
    driver.incoming()
    root = driver.press("1")
    gather = root.find("Gather")
    if gather is not None and gather.get("numDigits") == "5":  # nowhere to place them: asked for the ZIP
        driver.press("78701")
    whisper = driver.answer()
    driver.partner_press(whisper, "1")
    driver.leg_status("completed", seq=4, duration="300")
    driver.dial_result("completed", duration="300")
    driver.hangup(duration="320")
    return driver


@pytest.mark.parametrize("withheld", ["anonymous", "Restricted", "+266696687", "+7378742833", ""])
def test_two_withheld_callers_to_one_partner_are_each_billed(client, withheld, django_capture_on_commit_callbacks):
    make_directory(1)
    with django_capture_on_commit_callbacks(execute=True):
        accepted_call(client, withheld)
    with django_capture_on_commit_callbacks(execute=True):
        accepted_call(client, withheld)
    reasons = sorted(BillingDecision.objects.values_list("reason", flat=True))
    assert reasons == ["billable", "billable"]
    assert LedgerEntry.objects.count() == 2
    assert set(Call.objects.values_list("caller_hash", flat=True)) == {""}


def test_a_caller_who_shows_their_number_is_still_a_repeat_caller(client, django_capture_on_commit_callbacks):
    make_directory(1)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            accepted_call(client, "+15125550123")
    assert sorted(BillingDecision.objects.values_list("reason", flat=True)) == ["billable", "repeat_caller"]
