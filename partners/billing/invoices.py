"""Monthly invoices: generation (idempotent), CSV and PDF renderings.

An invoice covers the ledger entries whose ``occurred_at`` falls in one UTC
calendar month: one line per charge (per billable call or callback) and per
adjustment. Rerunning adds entries that arrived late and recomputes the total;
unique constraints keep it one invoice per partner and month and one line per
entry.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from fpdf import FPDF

from helpline.privacy import csv_safe
from partners.models import Invoice, InvoiceLine, LedgerEntry, Partner


def dollars(cents: int) -> str:
    """Exact decimal rendering of integer cents: 4500 → "45.00", -4500 → "-45.00"."""
    return f"{(Decimal(cents) / 100).quantize(Decimal('0.01'))}"


def usd(cents: int | None) -> str:
    """Money as people read it: 175500 → "$1,755.00"; -1500 → "-$15.00"; None → "—"."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    return f"{sign}${Decimal(abs(cents)) / 100:,.2f}"


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def previous_month(today: dt.date) -> dt.date:
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def invoice_number(*, partner_id: int, month: dt.date) -> str:
    return f"CL-{month:%Y%m}-{partner_id:05d}"


def generate_invoice(*, partner: Partner, month: dt.date) -> Invoice:
    """Create or complete the partner's invoice for ``month`` (first day). Safe to run any number of times."""
    month = month.replace(day=1)
    start, end = month_bounds(month)
    with transaction.atomic():
        invoice, _ = Invoice.objects.get_or_create(
            partner=partner, month=month, defaults={"number": invoice_number(partner_id=partner.pk, month=month)}
        )
        missing = LedgerEntry.objects.filter(
            partner=partner, occurred_at__gte=start, occurred_at__lt=end, invoice_line__isnull=True
        ).order_by("occurred_at", "id")
        InvoiceLine.objects.bulk_create(
            (
                InvoiceLine(
                    invoice=invoice,
                    ledger_entry=entry,
                    occurred_at=entry.occurred_at,
                    description=(entry.description or entry.get_kind_display())[:200],
                    amount_cents=entry.amount_cents,
                )
                for entry in missing.iterator()
            ),
            batch_size=2000,
            ignore_conflicts=True,
        )
        totals = InvoiceLine.objects.filter(invoice=invoice).aggregate(
            total=Sum("amount_cents"), charges=Count("id", filter=Q(ledger_entry__kind=LedgerEntry.Kind.CHARGE))
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            total_cents=totals["total"] or 0, charge_count=totals["charges"] or 0, generated_at=timezone.now()
        )
    invoice.refresh_from_db()
    return invoice


def generate_invoices_for_month(*, month: dt.date) -> list[Invoice]:
    """Invoice every partner with ledger activity in ``month``."""
    start, end = month_bounds(month)
    partner_ids = (
        LedgerEntry.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .values_list("partner_id", flat=True)
        .distinct()
    )
    return [generate_invoice(partner=p, month=month) for p in Partner.objects.filter(pk__in=list(partner_ids))]


def _lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.select_related("ledger_entry").order_by("occurred_at", "id"))


def invoice_csv(invoice: Invoice) -> str:
    """The invoice as CSV: one row per line, then the total. Text cells are formula-neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["invoice", csv_safe(invoice.number)])
    writer.writerow(["partner", csv_safe(invoice.partner.legal_name)])
    writer.writerow(["month", f"{invoice.month:%Y-%m}"])
    writer.writerow([])
    writer.writerow(["date_utc", "kind", "ledger_entry", "description", "amount_usd"])
    for line in _lines(invoice):
        writer.writerow(
            [
                line.occurred_at.strftime("%Y-%m-%d %H:%M"),
                line.ledger_entry.kind,
                line.ledger_entry_id,
                csv_safe(line.description),
                dollars(line.amount_cents),
            ]
        )
    writer.writerow([])
    writer.writerow(["billable_calls", invoice.charge_count])
    writer.writerow(["total_usd", dollars(invoice.total_cents)])
    return out.getvalue()


def _latin1(text: str) -> str:
    # fpdf2's core fonts are Latin-1; anything else becomes "?" rather than failing the download.
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(invoice: Invoice) -> bytes:
    """A one-font, printable PDF of the invoice."""
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"Invoice {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, _latin1(f"Bill to: {invoice.partner.legal_name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Period: {invoice.month:%B %Y} (UTC)", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Generated: {invoice.generated_at:%Y-%m-%d %H:%M} UTC", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    widths = (38, 24, 100, 28)
    for width, title in zip(widths, ("Date (UTC)", "Kind", "Description", "Amount (USD)"), strict=True):
        pdf.cell(width, 7, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for line in _lines(invoice):
        pdf.cell(widths[0], 6, line.occurred_at.strftime("%Y-%m-%d %H:%M"))
        pdf.cell(widths[1], 6, line.ledger_entry.kind)
        pdf.cell(widths[2], 6, _latin1(line.description[:70]))
        pdf.cell(widths[3], 6, dollars(line.amount_cents), align="R")
        pdf.ln()
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(sum(widths[:3]), 8, f"Total ({invoice.charge_count} billable calls)", border="T")
    pdf.cell(widths[3], 8, dollars(invoice.total_cents), border="T", align="R")
    pdf.ln(12)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(
        0,
        4,
        "Flat fee per qualifying call (accepted, at least the agreed minimum talk time, not a repeat caller "
        "within the agreed window, not a test). The fee never depends on which provider the caller chose or "
        "on admission.",
    )
    return bytes(pdf.output())
