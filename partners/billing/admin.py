"""Staff admin for billing: read-only ledger (adjustments added through a service), invoices, disputes, webhooks.

Partner API tokens: ``rest_framework.authtoken`` registers its own "Tokens"
admin; staff create a token for a partner user there.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from partners.billing.invoices import invoice_csv, invoice_pdf, usd
from partners.directory import services
from partners.models import (
    BillingDecision,
    Dispute,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    PartnerChangeLog,
    PriceChange,
    WebhookDelivery,
    WebhookEvent,
)
from partners.selectors import webhook_events_failing_q
from partners.webhooks import delivery as webhooks


def _amount(description: str, field: str) -> Any:
    """A list/read-only column showing integer cents ``field`` as money ("$1,755.00")."""

    @admin.display(description=description, ordering=field)
    def show(self: Any, obj: Any) -> str:
        return usd(getattr(obj, field))

    return show


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = LedgerEntry
        fields = ["partner", "amount_cents", "reason", "corrects"]
        help_texts = {"amount_cents": "US cents; negative for a credit (e.g. -4500)."}


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Entries are never edited or deleted; "Add" makes an adjustment recorded with the staff member."""

    list_display = ["id", "occurred_at", "partner", "kind", "amount", "description", "created_by"]
    amount = _amount("Amount", "amount_cents")
    list_filter = ["kind", "partner"]
    list_select_related = ["partner", "created_by"]
    date_hierarchy = "occurred_at"
    search_fields = ["description", "reason"]
    form = AdjustmentForm
    raw_id_fields = ["corrects"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["amount" if f.name == "amount_cents" else f.name for f in LedgerEntry._meta.fields]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return list(AdjustmentForm.Meta.fields)
        return self.get_readonly_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LedgerEntry, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied("Ledger entries are never edited.")
        try:
            created = services.ledger_adjust(
                partner=obj.partner,
                amount_cents=obj.amount_cents,
                reason=obj.reason,
                by=request.user,
                corrects=obj.corrects,
            )
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from exc
        obj.pk = created.pk
        obj._state.adding = False


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ["occurred_at", "description", "amount", "ledger_entry"]
    readonly_fields = ["occurred_at", "description", "amount", "ledger_entry"]
    amount = _amount("Amount", "amount_cents")
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "partner", "billed_month", "charge_count", "total", "generated_at", "downloads"]
    readonly_fields = ["total"]
    exclude = ["total_cents"]
    total = _amount("Total", "total_cents")

    @admin.display(description="Month", ordering="month")
    def billed_month(self, obj: Invoice) -> str:
        return f"{obj.month:%B %Y}"

    list_filter = ["month"]
    list_select_related = ["partner"]
    search_fields = ["number", "partner__display_name"]
    inlines = [InvoiceLineInline]

    @admin.display(description="Download")
    def downloads(self, obj: Invoice) -> str:
        return format_html(
            '<a href="{}">CSV</a> · <a href="{}">PDF</a>',
            reverse("admin:partners_invoice_csv", args=[obj.pk]),
            reverse("admin:partners_invoice_pdf", args=[obj.pk]),
        )

    def get_urls(self) -> list[Any]:
        return [
            path("<int:pk>/invoice.csv", self.admin_site.admin_view(self.download_csv), name="partners_invoice_csv"),
            path("<int:pk>/invoice.pdf", self.admin_site.admin_view(self.download_pdf), name="partners_invoice_pdf"),
            *super().get_urls(),
        ]

    def download_csv(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        if not self.has_view_permission(request, invoice):
            raise PermissionDenied
        response = HttpResponse(invoice_csv(invoice), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.csv"'
        return response

    def download_pdf(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        if not self.has_view_permission(request, invoice):
            raise PermissionDenied
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response


class DisputeDecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("", "Leave open"), ("approve", "Approve: credit the charge"), ("reject", "Reject")], required=False
    )

    class Meta:
        model = Dispute
        fields = ["resolution_note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.status != Dispute.Status.OPEN and data.get("decision"):
            raise ValidationError("This dispute is already resolved.")
        if data.get("decision") == "reject" and not (data.get("resolution_note") or "").strip():
            raise ValidationError("Write a note for the partner when rejecting.")
        return data


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Staff approve (a credit adjustment is appended) or reject with a note; the partner sees both."""

    form = DisputeDecisionForm
    list_display = ["id", "opened_at", "partner", "charge", "status", "resolved_by", "resolved_at"]
    list_filter = ["status", "partner"]
    list_select_related = ["partner", "charge", "resolved_by"]
    readonly_fields = ["partner", "charge", "reason", "status", "opened_by", "opened_at", "resolved_by",
                       "resolved_at", "credit"]  # fmt: skip
    fields = ["partner", "charge", "reason", "status", "opened_by", "opened_at", "resolved_by", "resolved_at",
              "credit", "resolution_note", "decision"]  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Dispute, form: Any, change: bool) -> None:
        decision = form.cleaned_data.get("decision")
        note = form.cleaned_data.get("resolution_note", "")
        if decision == "approve":
            services.dispute_approve(dispute_id=obj.pk, by=request.user, note=note)
        elif decision == "reject":
            services.dispute_reject(dispute_id=obj.pk, by=request.user, note=note)
        else:
            Dispute.objects.filter(pk=obj.pk).update(resolution_note=note)


@admin.register(BillingDecision)
class BillingDecisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "occurred_at", "partner", "kind", "outcome", "talk_seconds", "billable", "reason",
                    "price"]  # fmt: skip
    price = _amount("Price", "price_cents")
    list_filter = ["billable", "reason", "kind", "partner"]
    list_select_related = ["partner"]
    date_hierarchy = "occurred_at"
    exclude = ["caller_hash"]


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["attempt", "at", "status_code", "ok", "error", "duration_ms"]
    readonly_fields = ["attempt", "at", "status_code", "ok", "error", "duration_ms"]
    extra = 0
    can_delete = False
    max_num = 0


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("failing", "Failing (retrying or given up)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> QuerySet[WebhookEvent]:
        if self.value() == "failing":
            return queryset.filter(webhook_events_failing_q())
        return queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "created_at", "partner", "event", "status", "attempts", "next_attempt_at"]
    list_filter = [DeliveryFilter, "status", "event", "partner"]
    list_select_related = ["partner"]
    inlines = [WebhookDeliveryInline]
    actions = ["retry_now"]

    @admin.action(description="Retry now (pending or given up)")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        count = queryset.exclude(status=WebhookEvent.Status.DELIVERED).update(
            status=WebhookEvent.Status.PENDING, next_attempt_at=timezone.now(), claimed_at=None, attempts=0
        )
        for pk in queryset.filter(status=WebhookEvent.Status.PENDING).values_list("pk", flat=True):
            webhooks._send_task(pk)
        messages.success(request, f"{count} event(s) queued again.")


@admin.register(PartnerChangeLog)
class PartnerChangeLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "partner", "by_label", "action"]
    list_filter = ["action", "partner"]
    list_select_related = ["partner"]


@admin.register(PriceChange)
class PriceChangeAdmin(ReadOnlyAdmin):
    list_display = ["partner", "price", "effective_from"]
    price = _amount("Price per call", "price_cents")
    list_filter = ["partner"]
    list_select_related = ["partner"]
