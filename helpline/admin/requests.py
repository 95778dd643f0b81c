"""Admin: admission requests, a queue for intake staff.

The list opens on what needs a person: unrouted (nobody eligible), overdue
(not connected well after it was due) and unreachable. Staff can re-route or
close with a note. The phone number is masked; showing it in full is its own
step and is audited. Nothing about a request is edited by hand: status moves
only through ``helpline.admission.services`` so the timeline stays true.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from helpline.admission import selectors as admission_selectors
from helpline.admission import services as admission
from helpline.audit import AuditedAdminMixin, audit_record
from helpline.models import AdmissionRequest, AdmissionStatusChange, AuditEvent, DialAttempt
from helpline.privacy import caller_hash, mask_phone


class AttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("any", "Needs attention (all)"),
            ("unrouted", "Unrouted"),
            ("overdue", "Overdue"),
            ("unreachable", "Unreachable"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AdmissionRequest]) -> QuerySet[AdmissionRequest]:
        now = timezone.now()
        value = self.value()
        if value == "any":
            return queryset.filter(id__in=admission_selectors.requests_needing_attention(now=now).values("id"))
        if value == "unrouted":
            return queryset.filter(status=AdmissionRequest.Status.UNROUTED)
        if value == "unreachable":
            return queryset.filter(status=AdmissionRequest.Status.UNREACHABLE)
        if value == "overdue":
            return queryset.filter(
                id__in=admission_selectors.requests_needing_attention(now=now)
                .exclude(status__in=(AdmissionRequest.Status.UNROUTED, AdmissionRequest.Status.UNREACHABLE))
                .values("id")
            )
        return queryset


class ReadOnlyInline(admin.TabularInline):
    """History rows written by the request's life: shown, never added, edited or deleted."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusChangeInline(ReadOnlyInline):
    model = AdmissionStatusChange
    verbose_name_plural = "Timeline"
    fields = ("at", "from_status", "to_status", "note", "by")
    readonly_fields = fields


class CallbackLegInline(ReadOnlyInline):
    model = DialAttempt
    fk_name = "admission_request"
    verbose_name_plural = "Callback legs"
    fields = ("sequence", "partner", "facility", "outcome", "accepted", "talk_seconds", "started_at", "ended_at")
    readonly_fields = fields


class CloseForm(forms.Form):
    note = forms.CharField(
        label="Note (why it is closed)", max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


@admin.register(AdmissionRequest)
class AdmissionRequestAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "status",
        "needs_attention",
        "created_at",
        "service",
        "zip_code",
        "partner",
        "masked_phone",
        "next_action_at",
    )
    list_filter = (AttentionFilter, "status", "source", "service")
    search_fields = ("=zip_code",)
    search_help_text = "Search by ZIP code, or by the full phone number (matched by its keyed hash)."
    ordering = ("-needs_attention", "-created_at")
    list_select_related = ("partner",)
    inlines = (StatusChangeInline, CallbackLegInline)
    actions = ("reroute", "close_with_note")
    audit_fields = ("first_name", "phone")
    readonly_fields = (
        "public_id",
        "status",
        "source",
        "for_whom",
        "first_name",
        "masked_phone",
        "zip_code",
        "state",
        "service",
        "substances",
        "payment",
        "language",
        "callback_when",
        "window_start",
        "window_end",
        "caller_timezone",
        "allow_voicemail",
        "allow_text",
        "consent_version",
        "consent_text",
        "consented_at",
        "partner",
        "facility",
        "decision",
        "callback_attempts",
        "next_action_at",
        "notified_at",
        "connected_at",
        "withdrawn_at",
        "needs_attention",
        "staff_note",
        "created_at",
    )
    fieldsets = (
        ("Request", {"fields": ("public_id", "status", "needs_attention", "source", "created_at", "staff_note")}),
        ("Person", {"fields": ("for_whom", "first_name", "masked_phone", "zip_code", "state", "language")}),
        ("Needs", {"fields": ("service", "substances", "payment")}),
        (
            "When and how",
            {
                "fields": (
                    "callback_when",
                    "window_start",
                    "window_end",
                    "caller_timezone",
                    "allow_voicemail",
                    "allow_text",
                )
            },
        ),
        ("Consent", {"fields": ("consent_version", "consent_text", "consented_at", "withdrawn_at")}),
        (
            "Routing and callback",
            {
                "fields": (
                    "partner",
                    "facility",
                    "decision",
                    "notified_at",
                    "callback_attempts",
                    "next_action_at",
                    "connected_at",
                )
            },
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requests come from people, never typed in by staff

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the retention purge removes caller data; the record stays for counts

    @admin.display(description="Request")
    def short_id(self, obj: AdmissionRequest) -> str:
        return str(obj.public_id)[:8]

    @admin.display(description="Phone")
    def masked_phone(self, obj: AdmissionRequest) -> SafeString:
        if not obj.pk or not obj.phone:
            return format_html("{}", "—")
        url = reverse("admin:helpline_admissionrequest_phone", args=[obj.pk])
        return format_html('{} <a href="{}">show full number (recorded)</a>', mask_phone(obj.phone), url)

    @admin.display(description="Routing decision")
    def decision(self, obj: AdmissionRequest) -> SafeString:
        from routing.admin import decision_html

        return decision_html(obj.routing_decision)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AdmissionRequest], search_term: str
    ) -> tuple[QuerySet[AdmissionRequest], bool]:
        term = search_term.strip()
        digits = "".join(ch for ch in term if ch.isdigit())
        if len(digits) >= 10:
            return queryset.filter(phone_hash=caller_hash(term)), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:object_id>/phone/",
                self.admin_site.admin_view(self.phone_view),
                name="helpline_admissionrequest_phone",
            ),
            *super().get_urls(),
        ]

    def phone_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The full number, for staff who follow up by phone. Each look is an audit row."""
        obj = get_object_or_404(AdmissionRequest, pk=object_id)
        if not self.has_view_permission(request, obj):
            return HttpResponse(status=403)
        audit_record(request=request, where="admin", action=AuditEvent.Action.VIEW, obj=obj, fields=["phone"])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Phone number of request {str(obj.public_id)[:8]}",
            "obj": obj,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "helpline/admission_admin_phone.html", context)

    @admin.action(description="Re-route the selected requests (new decision, new partner notification)")
    def reroute(self, request: HttpRequest, queryset: QuerySet[AdmissionRequest]) -> None:
        done = 0
        for req in queryset:
            try:
                admission.admission_request_reroute(request_id=req.pk, by=request.user)
            except ValueError as exc:
                self.message_user(request, f"{str(req.public_id)[:8]}: {exc}", messages.WARNING)
                continue
            audit_record(request=request, where="admin", action=AuditEvent.Action.CHANGE, obj=req, fields=["status"])
            done += 1
        if done:
            self.message_user(request, f"Re-routed {done} request(s).", messages.SUCCESS)

    @admin.action(description="Close the selected requests with a note")
    def close_with_note(self, request: HttpRequest, queryset: QuerySet[AdmissionRequest]) -> HttpResponse | None:
        form = CloseForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            for req in queryset:
                admission.admission_request_close(request_id=req.pk, note=form.cleaned_data["note"], by=request.user)
                audit_record(
                    request=request,
                    where="admin",
                    action=AuditEvent.Action.CHANGE,
                    obj=req,
                    fields=["status", "staff_note"],
                )
            self.message_user(request, f"Closed {queryset.count()} request(s).", messages.SUCCESS)
            return HttpResponseRedirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "title": "Close requests with a note",
            "form": form,
            "requests": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "helpline/admission_admin_close.html", context)
