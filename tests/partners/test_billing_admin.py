"""Staff admin for billing: ledger read-only, adjustments through the service, dispute decisions, invoice downloads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from partners.billing import rule as billing
from partners.billing.invoices import generate_invoice
from partners.directory.services import dispute_open
from partners.models import Dispute, LedgerEntry, PartnerMembership
from tests.factories import FacilityFactory, StaffFactory, UserFactory, billed_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge():
    facility = FacilityFactory()
    call, _ = billed_call(facility=facility)
    billing.bill_call(call_id=call.pk)
    return LedgerEntry.objects.get()


@pytest.fixture
def staff_client(client):
    staff = StaffFactory()
    client.force_login(staff)
    client.staff = staff
    return client


def test_ledger_entry_change_page_is_read_only(staff_client, charge):
    url = reverse("admin:partners_ledgerentry_change", args=[charge.pk])
    response = staff_client.get(url)
    assert response.status_code == 200 and 'name="amount_cents"' not in response.content.decode()
    staff_client.post(url, {"amount_cents": 1, "reason": "x", "partner": charge.partner_id})
    assert LedgerEntry.objects.get(pk=charge.pk).amount_cents == 4500
    assert staff_client.post(reverse("admin:partners_ledgerentry_delete", args=[charge.pk])).status_code == 403


def test_adding_an_entry_in_admin_makes_a_staff_adjustment(staff_client, charge):
    response = staff_client.post(
        reverse("admin:partners_ledgerentry_add"),
        {"partner": charge.partner_id, "amount_cents": "-1000", "reason": "Goodwill", "corrects": charge.pk},
    )
    assert response.status_code == 302
    credit = LedgerEntry.objects.get(kind="adjustment")
    assert (credit.amount_cents, credit.created_by, credit.corrects) == (-1000, staff_client.staff, charge)


def test_dispute_approved_in_admin_credits_the_charge(staff_client, charge):
    user = UserFactory()
    PartnerMembership.objects.create(user=user, partner=charge.partner)
    dispute = dispute_open(partner=charge.partner, charge_id=charge.pk, reason="Wrong number", by=user)
    url = reverse("admin:partners_dispute_change", args=[dispute.pk])
    assert staff_client.post(url, {"resolution_note": "", "decision": "reject"}).status_code == 200  # note needed
    assert staff_client.post(url, {"resolution_note": "Agreed", "decision": "approve"}).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "approved" and dispute.credit.amount_cents == -4500
    assert dispute.resolved_by == staff_client.staff
    staff_client.post(url, {"resolution_note": "again", "decision": "approve"})
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    assert Dispute.objects.get().resolution_note == "Agreed"


def test_staff_download_invoice_pdf_and_csv(staff_client, charge):
    invoice = generate_invoice(partner=charge.partner, month=dt.date(2026, 3, 1))
    assert staff_client.get(reverse("admin:partners_invoice_pdf", args=[invoice.pk])).content.startswith(b"%PDF")
    assert b"total_usd,45.00" in staff_client.get(reverse("admin:partners_invoice_csv", args=[invoice.pk])).content
    assert staff_client.get(reverse("admin:partners_invoice_changelist")).status_code == 200


def test_partner_tokens_can_be_created_in_admin(staff_client):
    user = UserFactory()
    response = staff_client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": user.pk})
    assert response.status_code == 302
    from rest_framework.authtoken.models import Token

    assert Token.objects.filter(user=user).exists()
