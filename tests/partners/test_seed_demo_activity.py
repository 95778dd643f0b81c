"""seed_demo shows the product: calls through the real routing, a queue in every state, billing to look at."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from helpline.models import AdmissionRequest, Call
from partners.models import Dispute, Invoice

pytestmark = pytest.mark.django_db(transaction=True)  # billing runs on commit


def test_seed_demo_routes_its_recent_calls_and_fills_the_queue(capsys):
    call_command("seed_demo", "--password", "correct-horse-battery-staple-42")
    out = capsys.readouterr().out
    assert "earlier calls: 100 of" in out and "recent calls routed and dialed" in out  # progress as it goes

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
    assert Invoice.objects.filter(total_cents__gt=100_000).exists()  # an issued invoice in four figures

    # Rerunning adds nothing.
    counts = (Call.objects.count(), AdmissionRequest.objects.count(), Dispute.objects.count())
    call_command("seed_demo", "--password", "correct-horse-battery-staple-42")
    assert (Call.objects.count(), AdmissionRequest.objects.count(), Dispute.objects.count()) == counts
