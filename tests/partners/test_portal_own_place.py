"""The portal as a partner's own place: its own frame, the dashboard's money tiles and charts,
tables that keep every column on a phone, and password reset by email."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from partners.billing import rule as billing
from partners.billing.invoices import generate_invoice
from partners.models import Dispute, PartnerMembership
from tests.factories import (
    CallFactory,
    DialAttemptFactory,
    FacilityFactory,
    PartnerFactory,
    StaffFactory,
    UserFactory,
    billed_call,
)

pytestmark = pytest.mark.django_db

NOV = dt.datetime(2026, 11, 10, 15, 0, tzinfo=dt.UTC)
FIRST_OF_DEC = dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC)  # the 1st in the mainland US zones too


@pytest.fixture
def facility():
    partner = PartnerFactory(display_name="Harbor Recovery", monthly_budget_cents=500000, price_per_call_cents=4500)
    return FacilityFactory(partner=partner, services=["detox", "mat"])


@pytest.fixture
def member(facility, client):
    user = UserFactory(username="harbor", email="intake@harbor.example")
    PartnerMembership.objects.create(user=user, partner=facility.partner)
    client.force_login(user)
    return user


def _bill(facility, started_at, *, caller, talk_seconds=240, service="detox"):
    call, _attempt = billed_call(facility=facility, started_at=started_at, caller=caller, talk_seconds=talk_seconds,
                                 service=service)  # fmt: skip
    billing.bill_call(call_id=call.pk)
    return call


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _tile(html: str, name: str) -> str:
    return _text(html.split(f'data-testid="tile-{name}"', 1)[1].split('<div class="tile"', 1)[0].split("</section>")[0])


def test_dashboard_on_the_first_shows_the_invoice_just_issued(client, member, facility):
    """1 December: nothing spent yet this month, and November's invoice is right there."""
    for n in range(39):
        _bill(facility, NOV + dt.timedelta(hours=n), caller=f"+1512555{n:04d}")
    with time_machine.travel(FIRST_OF_DEC, tick=False):
        invoice = generate_invoice(partner=facility.partner, month=dt.date(2026, 11, 1))  # issued on the 1st
        html = client.get(reverse("portal:dashboard")).content.decode()
    assert invoice.total_cents == 175500

    spend = _tile(html, "spend")
    assert "Spend in December" in spend and "$0.00" in spend and "0% of your $5,000.00 monthly budget" in spend
    last = _tile(html, "invoice")
    assert "$1,755.00" in last and "November 2026" in last and "39 billable calls" in last
    assert "Issued Dec 1" in last
    assert f'href="{reverse("portal:invoice_detail", args=[invoice.pk])}"' in html
    assert "$45.00" in _tile(html, "price")


def test_last_invoice_status_says_when_a_charge_on_it_is_disputed(client, member, facility):
    call = _bill(facility, NOV, caller="+15125550001")
    invoice = generate_invoice(partner=facility.partner, month=dt.date(2026, 11, 1))
    charge = call.billing_decisions.get().ledger_entry
    Dispute.objects.create(partner=facility.partner, charge=charge, reason="Wrong number")

    with time_machine.travel(FIRST_OF_DEC, tick=False):
        html = client.get(reverse("portal:dashboard")).content.decode()

    assert "Issued · 1 charge in dispute" in _tile(html, "invoice")
    assert invoice.number in html


def test_dashboard_without_invoice_or_budget_says_so(client, member, facility):
    facility.partner.monthly_budget_cents = None
    facility.partner.save(update_fields=["monthly_budget_cents"])
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert "No monthly budget set" in _tile(html, "spend")
    assert "No invoice yet" in _tile(html, "invoice")
    assert "–" in _tile(html, "answer")


def test_answer_rate_outcomes_and_services_are_counted_over_30_days(client, member, facility):
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    _bill(facility, now - dt.timedelta(hours=1), caller="+15125550001", service="detox")
    _bill(facility, now - dt.timedelta(hours=2), caller="+15125550002", service="mat")
    _bill(facility, now - dt.timedelta(hours=3), caller="+15125550003", talk_seconds=10, service="mat")
    missed = CallFactory(started_at=now - dt.timedelta(hours=4), service="mat")
    DialAttemptFactory(call=missed, facility=facility, accepted=False, outcome="no-answer", talk_seconds=0)
    billing.bill_call(call_id=missed.pk)
    _bill(facility, now - dt.timedelta(days=40), caller="+15125550009")  # outside the 30 days

    with time_machine.travel(now, tick=False):
        response = client.get(reverse("portal:dashboard"))
    html = response.content.decode()

    assert "75%" in _tile(html, "answer") and "3 of 4 calls answered" in _tile(html, "answer")
    outcomes = {r["label"]: r["count"] for r in response.context["outcomes"]}
    assert outcomes == {"Billable": 2, "Too short": 1, "Not accepted (no one pressed 1)": 1}
    services = [(r["label"], r["count"]) for r in response.context["services"]]
    assert services[0][1] == 3 and services[1][1] == 1
    assert "mat" not in [label for label, _n in services]  # labels, not codes
    days = _text(html.split('data-testid="chart-days"', 1)[1].split("</section>", 1)[0])
    assert "Calls by day" in days and "Nov 20" in days


def test_charts_are_html_and_css_without_scripts(client, member, facility):
    _bill(facility, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), caller="+15125550001")
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert "<script" not in html and "<svg" not in html
    for chart in ("chart-days", "chart-outcomes", "chart-services"):
        assert f'data-testid="{chart}"' in html


@pytest.mark.parametrize("name", ["portal:dashboard", "portal:calls", "portal:invoices", "portal:settings"])
def test_portal_wears_its_own_frame_with_the_disclosure(client, member, facility, name):
    html = client.get(reverse(name)).content.decode()
    assert 'data-testid="crisis-bar"' not in html
    assert "Call free, 24/7" not in html and 'data-testid="header-call"' not in html
    assert "Request a callback" not in html
    assert "Partner sign in" not in html
    assert "Sign out" in html and "Harbor Recovery" in html and "Partner portal" in html
    assert 'id="where-do-calls-go"' in html


def test_sign_in_page_is_the_portals_with_a_forgot_password_link(client):
    html = client.get(reverse("portal:login")).content.decode()
    assert 'data-testid="crisis-bar"' not in html and "Request a callback" not in html
    assert f'href="{reverse("portal:password_reset")}"' in html and "Forgot password?" in html
    assert 'autocomplete="current-password"' in html
    assert 'id="where-do-calls-go"' in html


def test_calls_table_labels_every_cell_for_the_phone_layout(client, member, facility):
    _bill(facility, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), caller="+15125550001", service="dual_diagnosis")
    html = client.get(reverse("portal:calls")).content.decode()
    row = html.split('data-testid="call-row"', 1)[1].split("</tr>", 1)[0]
    labels = re.findall(r'data-label="([^"]+)"', row)
    assert labels == ["Date (UTC)", "Type", "Service", "Caller area", "Caller", "Outcome", "Talk", "Billable"]
    assert "Yes · $45.00" in row
    assert "dual_diagnosis" not in row


def test_webhook_and_change_log_tables_label_every_cell_for_the_phone_layout(client, member, facility):
    """The same card pattern as the other portal tables (portal.css turns .data rows into cards on a phone)."""
    from partners.directory.services import partner_pause
    from partners.models import WebhookDelivery, WebhookEvent

    event = WebhookEvent.objects.create(partner=facility.partner, event="call.billed", payload={})
    WebhookDelivery.objects.create(webhook_event=event, partner=facility.partner, attempt=1,
                                   url="https://hooks.example.org/in", status_code=503, ok=False)  # fmt: skip
    partner_pause(partner=facility.partner, by=member, reason="Staff training day")

    hooks = client.get(reverse("portal:webhooks")).content.decode()
    assert 'class="data" data-testid="webhooks-table"' in hooks
    row = hooks.split('data-testid="delivery-row"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-label="([^"]+)"', row) == ["When (UTC)", "Event", "Attempt", "Result", "Time"]
    assert "HTTP 503" in row

    settings_page = client.get(reverse("portal:settings")).content.decode()
    assert 'class="data" data-testid="change-log"' in settings_page
    row = settings_page.split('data-testid="change-row"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-label="([^"]+)"', row) == ["When (UTC)", "Who", "What"]
    assert "Staff training day" in row


# --- password reset --------------------------------------------------------------


def _reset(client, email, ip="203.0.113.50"):
    return client.post(reverse("portal:password_reset"), {"email": email}, REMOTE_ADDR=ip)


def test_password_reset_emails_a_working_link_to_a_partner_user(client, facility, settings):
    settings.PUBLIC_BASE_URL = "https://helpline.example.org"
    user = UserFactory(username="harbor", email="intake@harbor.example")
    PartnerMembership.objects.create(user=user, partner=facility.partner)

    response = _reset(client, "intake@harbor.example")

    assert response.status_code == 302 and response["Location"] == reverse("portal:password_reset_done")
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "partner portal" in mail.outbox[0].subject
    link = re.search(r"https://helpline\.example\.org(/portal/password-reset/\S+/)", body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200 and "Choose a new password" in form_page.content.decode()
    new = "a-brand-new-passphrase-7"
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    done = client.post(set_url, {"new_password1": new, "new_password2": new})
    assert done.status_code == 302 and done["Location"] == reverse("portal:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase-7")


@pytest.mark.parametrize("who", ["unknown", "staff", "no-partner"])
def test_password_reset_page_is_the_same_whoever_asks_and_sends_only_to_partners(client, who):
    if who == "staff":
        StaffFactory(email="ops@clearline.example")
    if who == "no-partner":
        UserFactory(email="ops@clearline.example")
    response = _reset(client, "ops@clearline.example")
    assert response.status_code == 302 and response["Location"] == reverse("portal:password_reset_done")
    assert mail.outbox == []
    page = client.get(response["Location"]).content.decode()
    assert "If that address belongs to a partner account" in page


def test_password_reset_is_rate_limited_per_address(client, facility):
    for _ in range(3):
        assert _reset(client, "someone@harbor.example", ip="203.0.113.60").status_code == 302
    response = _reset(client, "someone@harbor.example", ip="203.0.113.61")
    assert response.status_code == 429 and "Too many reset requests" in response.content.decode()


def test_password_reset_is_rate_limited_per_client(client, facility):
    for n in range(5):
        assert _reset(client, f"person{n}@harbor.example", ip="203.0.113.70").status_code == 302
    assert _reset(client, "person9@harbor.example", ip="203.0.113.70").status_code == 429


def test_a_used_or_forged_reset_link_says_so_plainly(client):
    response = client.get(reverse("portal:password_reset_confirm", args=["MQ", "set-password"]))
    assert "This link no longer works" in response.content.decode()
