"""The staff can read why a caller went where; nothing in a decision can be edited or injected."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from routing.admin import decision_html
from routing.models import RoutingDecision
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _decision(**overrides):
    values = dict(
        kind="call",
        created_at=dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC),
        service="detox",
        location_source="zip",
        location_label="Austin, TX",
        chosen=[
            {"facility_id": 1, "facility_name": "Harbor House", "partner_id": 7, "partner_name": "Harbor Recovery",
             "phone": "+15125550100", "reason": "#1 priority 1, weight 1: serves TX"},
        ],
        excluded=[
            {"facility_id": 2, "facility_name": "<script>alert(1)</script>", "partner_id": 8,
             "partner_name": "Evil & Co", "reason": "partner paused"},
        ],
        notes=["language es: narrowed to 1 facilities that speak it"],
        fallback="SAMHSA National Helpline +18006624357",
    )  # fmt: skip
    values.update(overrides)
    return RoutingDecision.objects.create(**values)


def test_decision_html_lists_choices_reasons_exclusions_and_fallback_escaped():
    html = str(decision_html(_decision()))
    assert "Harbor Recovery" in html and "#1 priority 1, weight 1: serves TX" in html
    assert "partner paused" in html
    assert "SAMHSA National Helpline +18006624357" in html
    assert "language es: narrowed" in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Evil &amp; Co" in html


def test_decision_html_shows_the_counts_per_reason_escaped():
    summary = [
        {"reason": "does not offer detox (not examined)", "count": 142},
        {"reason": "closed <b>now</b>", "count": 3},
    ]
    html = str(decision_html(_decision(excluded_summary=summary)))
    assert "<li>142 × does not offer detox (not examined)</li>" in html
    assert "<li>3 × closed &lt;b&gt;now&lt;/b&gt;</li>" in html
    assert "counted per reason" not in str(decision_html(_decision()))


def test_decision_html_says_when_nobody_was_eligible_and_handles_none():
    html = str(decision_html(_decision(chosen=[], excluded=[])))
    assert "No partner was eligible." in html
    assert "Nothing excluded." in html
    assert "No routing decision recorded." in str(decision_html(None))


def test_admin_change_page_shows_the_explanation_read_only(client):
    decision = _decision()
    client.force_login(StaffFactory())
    url = reverse("admin:routing_routingdecision_change", args=[decision.pk])
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Why this caller went where" in body
    assert "Harbor Recovery" in body
    assert "&lt;script&gt;" in body and "<script>alert(1)" not in body
    assert 'name="_save"' not in body  # read-only: no save button

    listing = client.get(reverse("admin:routing_routingdecision_changelist"))
    assert listing.status_code == 200
    assert "Harbor Recovery" in listing.content.decode()


def test_admin_refuses_edits_and_deletes(client):
    decision = _decision()
    client.force_login(StaffFactory())
    url = reverse("admin:routing_routingdecision_change", args=[decision.pk])
    client.post(url, {"service": "mat"})
    decision.refresh_from_db()
    assert decision.service == "detox"
    response = client.post(reverse("admin:routing_routingdecision_delete", args=[decision.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert RoutingDecision.objects.filter(pk=decision.pk).exists()
    assert client.get(reverse("admin:routing_routingdecision_add")).status_code == 403
