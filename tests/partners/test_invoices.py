"""Monthly invoices: lines, totals, reruns, late entries, CSV and PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from partners.billing import rule as billing
from partners.billing.invoices import generate_invoice, invoice_csv, invoice_pdf, month_bounds, previous_month
from partners.billing.tasks import generate_monthly_invoices
from partners.directory.services import ledger_adjust
from partners.models import Invoice, InvoiceLine
from tests.factories import FacilityFactory, PartnerFactory, StaffFactory, billed_call

pytestmark = pytest.mark.django_db

MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def facility():
    return FacilityFactory(partner=PartnerFactory(price_per_call_cents=4500, legal_name='=HYPERLINK("x") Recovery'))


def _bill(facility, day, caller, seconds=300):
    call, _ = billed_call(
        facility=facility, caller=caller, talk_seconds=seconds, started_at=dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC)
    )
    billing.bill_call(call_id=call.pk)
    return call


def test_invoice_has_a_line_per_billable_call_and_adjustment_and_the_total(facility):
    _bill(facility, 2, "+15125550001")
    _bill(facility, 9, "+15125550002")
    _bill(facility, 10, "+15125550003", seconds=10)  # too short: not on the invoice
    ledger_adjust(partner=facility.partner, amount_cents=-1500, reason="Goodwill credit", by=StaffFactory(),
                  at=dt.datetime(2026, 3, 20, tzinfo=dt.UTC))  # fmt: skip
    _bill(facility, 1, "+15125550004")
    april, _ = billed_call(facility=facility, caller="+15125550005", started_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    billing.bill_call(call_id=april.pk)

    invoice = generate_invoice(partner=facility.partner, month=MARCH)

    assert invoice.number == f"CL-202603-{facility.partner_id:05d}"
    assert invoice.lines.count() == 4
    assert (invoice.charge_count, invoice.total_cents) == (3, 3 * 4500 - 1500)


def test_rerun_makes_no_duplicates_and_picks_up_late_entries(facility):
    _bill(facility, 2, "+15125550001")
    generate_invoice(partner=facility.partner, month=MARCH)
    generate_invoice(partner=facility.partner, month=MARCH)
    assert Invoice.objects.count() == 1 and InvoiceLine.objects.count() == 1

    _bill(facility, 30, "+15125550002")  # a late status callback of a March call
    invoice = generate_invoice(partner=facility.partner, month=MARCH)
    assert Invoice.objects.count() == 1 and invoice.lines.count() == 2 and invoice.total_cents == 9000


def test_monthly_task_invoices_previous_month_for_each_partner_and_is_rerunnable(facility, time_machine):
    other = FacilityFactory()
    _bill(facility, 3, "+15125550001")
    call, _ = billed_call(facility=other, started_at=dt.datetime(2026, 3, 4, tzinfo=dt.UTC))  # never billed yet
    time_machine.move_to(dt.datetime(2026, 4, 1, 0, 15, tzinfo=dt.UTC))

    assert generate_monthly_invoices() == 2
    assert generate_monthly_invoices() == 2
    assert Invoice.objects.count() == 2
    assert set(Invoice.objects.values_list("month", flat=True)) == {MARCH}
    assert Invoice.objects.get(partner=other.partner).total_cents == 4500  # swept into billing first


def test_month_helpers():
    assert month_bounds(dt.date(2026, 12, 1)) == (
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    )
    assert previous_month(dt.date(2026, 1, 1)) == dt.date(2025, 12, 1)


def test_csv_lists_lines_total_and_neutralises_formulas(facility):
    _bill(facility, 2, "+15125550001")
    invoice = generate_invoice(partner=facility.partner, month=MARCH)
    rows = list(csv.reader(io.StringIO(invoice_csv(invoice))))
    assert rows[1] == ["partner", '\'=HYPERLINK("x") Recovery']
    assert rows[5][0] == "2026-03-02 12:00" and rows[5][1] == "charge" and rows[5][4] == "45.00"
    assert rows[-1] == ["total_usd", "45.00"]


def test_pdf_is_a_pdf_with_the_total(facility):
    _bill(facility, 2, "+15125550001")
    invoice = generate_invoice(partner=facility.partner, month=MARCH)
    pdf = invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 800
