"""A partner whose legs keep going unanswered or failing is paused automatically and staff are told."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from helpline.models import DialAttempt
from partners.directory.services import partner_check_auto_pause
from partners.models import Partner, PartnerChangeLog
from tests.factories import FacilityFactory
from tests.helpline.voice_support import CallDriver, make_directory

pytestmark = pytest.mark.django_db


def unanswered_call(client, outcome: str = "no-answer") -> None:
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    driver.dial_result(outcome)
    driver.hangup()


def test_three_unanswered_within_the_window_pause_the_partner_and_alert_staff(client, settings):
    settings.STAFF_ALERT_EMAILS = ["intake-lead@example.org"]
    (a,) = make_directory(count=1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        unanswered_call(client)
        unanswered_call(client, "failed")
    assert Partner.objects.get(pk=a.partner_id).status == Partner.Status.ACTIVE
    with TestCase.captureOnCommitCallbacks(execute=True):
        unanswered_call(client)
    partner = Partner.objects.get(pk=a.partner_id)
    assert partner.status == Partner.Status.PAUSED
    assert "3 unanswered or failed calls within 60 minutes" in partner.paused_reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["intake-lead@example.org"]
    assert "Partner A" in mail.outbox[0].subject


def test_a_paused_partner_is_paused_once_and_staff_alerted_once(settings):
    settings.STAFF_ALERT_EMAILS = ["intake-lead@example.org"]
    facility = FacilityFactory()
    now = timezone.now()
    for i in range(4):
        DialAttempt.objects.create(
            sequence=1 + i, partner=facility.partner, facility=facility, outcome="no-answer", ended_at=now, call=None
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert partner_check_auto_pause(partner_id=facility.partner_id, now=now) is True
        assert partner_check_auto_pause(partner_id=facility.partner_id, now=now) is False
    assert len(mail.outbox) == 1
    # Logged like any other pause, once.
    log = list(PartnerChangeLog.objects.filter(partner_id=facility.partner_id).values_list("action", "by_label"))
    assert log == [("paused", "automatic")]


def test_busy_lines_and_old_misses_do_not_pause(settings):
    facility = FacilityFactory()
    now = timezone.now()
    old = now - dt.timedelta(minutes=settings.AUTO_PAUSE_WINDOW_MINUTES + 1)
    rows = [("busy", now), ("busy", now), ("busy", now), ("no-answer", old), ("no-answer", old), ("failed", now)]
    for i, (outcome, ended) in enumerate(rows):
        DialAttempt.objects.create(sequence=i + 1, partner=facility.partner, facility=facility, outcome=outcome,
                                   ended_at=ended)  # fmt: skip
    assert partner_check_auto_pause(partner_id=facility.partner_id, now=now) is False
    assert Partner.objects.get(pk=facility.partner_id).status == Partner.Status.ACTIVE


def test_paused_partner_is_no_longer_dialed(client, settings):
    settings.AUTO_PAUSE_UNANSWERED_THRESHOLD = 1
    a, b = make_directory(count=2)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        unanswered_call(client)
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    assert driver.number().text == str(b.phone)
    assert Partner.objects.get(pk=a.partner_id).status == Partner.Status.PAUSED
