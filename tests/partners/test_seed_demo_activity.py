"""seed_demo shows the product: calls through the real routing, a queue in every state, billing to look at."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.intake import intake_summary
from helpline.models import AdmissionRequest, Call, DialAttempt
from partners.directory.services import AUTO_PAUSE_REASON_PREFIX
from partners.models import Dispute, Invoice, Partner, PartnerChangeLog

pytestmark = pytest.mark.django_db(transaction=True)  # billing runs on commit


def test_seed_demo_routes_its_recent_calls_and_fills_the_queue(capsys):
    with CaptureQueriesContext(connection) as queries:
        call_command("seed_demo", "--password", "correct-horse-battery-staple-42")
    out = capsys.readouterr().out
    assert "earlier calls billed: 80 of" in out and "recent calls routed and dialed" in out  # progress as it goes
    # Round trips are most of its time: 6,226 when every earlier call was inserted and billed alone.
    assert len(queries) < 4_000

    routed = Call.objects.filter(call_sid__startswith="CAdemor")
    assert routed.count() >= 20
    assert not routed.filter(routing_decision__isnull=True).exists()  # every one has its decision and reasons
    assert all(c.routing_decision.chosen or c.status == "fallback" for c in routed)
    failovers = [c for c in routed if c.attempts.count() > 1]
    assert len(failovers) >= 3
    assert routed.filter(needs_followup=True, status=Call.Status.FALLBACK).count() >= 2
    assert Call.objects.filter(status__in=["dialing", "connected"]).count() >= 2  # calls in progress

    states = set(AdmissionRequest.objects.values_list("status", flat=True))
    assert states == set(AdmissionRequest.Status.values)
    assert (
        AdmissionRequest.objects.exclude(status__in=["new", "held"]).filter(routing_decision__isnull=True).count() == 0
    )  # held ones wait for staff before routing
    assert Dispute.objects.filter(status=Dispute.Status.OPEN).count() == 1
    # Missed calls paused a partner through the real auto-pause path, logged and shown on the intake home.
    assert "missed 3 calls in a row: paused automatically" in out
    auto = PartnerChangeLog.objects.get(by_label="automatic", action="paused")
    assert auto.partner.status == Partner.Status.PAUSED
    assert auto.partner.paused_reason.startswith(AUTO_PAUSE_REASON_PREFIX)
    assert (
        DialAttempt.objects.filter(
            partner=auto.partner, outcome="no-answer", call__call_sid__startswith="CAdemop"
        ).count()
        == 3
    )
    paused_tile = next(t for t in intake_summary(now=timezone.now())["tiles"] if t.key == "paused")
    assert paused_tile.count == 1 and paused_tile.items[0].text == auto.partner.display_name
    assert Invoice.objects.filter(total_cents__gt=100_000).exists()  # an issued invoice in four figures

    # Rerunning adds nothing.
    counts = (Call.objects.count(), AdmissionRequest.objects.count(), Dispute.objects.count())
    call_command("seed_demo", "--password", "correct-horse-battery-staple-42")
    assert (Call.objects.count(), AdmissionRequest.objects.count(), Dispute.objects.count()) == counts
