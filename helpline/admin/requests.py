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
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from helpline.admin.phone_search import PhoneSearchMixin
from helpline.admission import selectors as admission_selectors
from helpline.admission import services as admission
from helpline.admission.forms import SUBSTANCE_CHOICES
from helpline.audit import AuditedAdminMixin, audit_record
from helpline.models import AdmissionRequest, AdmissionStatusChange, AuditEvent, DialAttempt
from helpline.privacy import mask_phone
from routing.vocabulary import written_label

_SUBSTANCES = dict(SUBSTANCE_CHOICES)
_STATUS_TONE: dict[str, str] = {
    AdmissionRequest.Status.CONNECTED: "is-ok",
    AdmissionRequest.Status.UNROUTED: "is-alert",
    AdmissionRequest.Status.UNREACHABLE: "is-alert",
    AdmissionRequest.Status.NOTIFIED: "is-wait",
    AdmissionRequest.Status.CALLBACK_ATTEMPTED: "is-wait",
    AdmissionRequest.Status.ROUTED: "is-wait",
    AdmissionRequest.Status.NEW: "is-wait",
}


class AttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("any", "Needs attention (all)"),
            ("held", "Held for approval"),
            ("unrouted", "Unrouted"),
            ("overdue", "Overdue"),
            ("unreachable", "Unreachable"),
            ("failed_callbacks", "Failed callbacks"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AdmissionRequest]) -> QuerySet[AdmissionRequest]:
        now = timezone.now()
        value = self.value()
        if value == "any":
            return queryset.filter(admission_selectors.attention_q(now=now))
        if value == "held":
            return queryset.filter(status=AdmissionRequest.Status.HELD)
        if value == "unrouted":
            return queryset.filter(status=AdmissionRequest.Status.UNROUTED)
        if value == "unreachable":
            return queryset.filter(status=AdmissionRequest.Status.UNREACHABLE)
        if value == "overdue":
            return queryset.filter(admission_selectors.overdue_q(now=now)).exclude(
                status__in=admission_selectors.DONE_STATUSES
            )
        if value == "failed_callbacks":
            return queryset.filter(admission_selectors.failed_callbacks_q())
        return queryset


class CallbackDueFilter(admin.SimpleListFilter):
    title = "callback due"
    parameter_name = "callback"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("next_hour", "Within the next hour")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AdmissionRequest]) -> QuerySet[AdmissionRequest]:
        if self.value() == "next_hour":
            return queryset.filter(
                admission_selectors.callbacks_due_q(now=timezone.now(), within=admission_selectors.CALLBACK_DUE_WITHIN)
            ).order_by("next_action_at")
        return queryset


class ReadOnlyInline(admin.TabularInline):
    """History rows written by the request's life: shown, never added, edited or deleted."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


STATUS_LABELS = dict(AdmissionRequest.Status.choices)


class StatusChangeInline(ReadOnlyInline):
    model = AdmissionStatusChange
    verbose_name_plural = "Timeline"
    fields = ("at", "change", "note", "by")
    readonly_fields = fields

    @admin.display(description="Status")
    def change(self, obj: AdmissionStatusChange) -> str:
        to = STATUS_LABELS.get(obj.to_status, obj.to_status)
        if not obj.from_status or obj.from_status == obj.to_status:
            return to
        return f"{STATUS_LABELS.get(obj.from_status, obj.from_status)} → {to}"


class CallbackLegInline(ReadOnlyInline):
    model = DialAttempt
    fk_name = "admission_request"
    verbose_name_plural = "Callback legs"
    fields = ("sequence", "partner", "facility", "outcome", "accepted", "talk", "started_at", "ended_at")
    readonly_fields = fields

    @admin.display(description="Talk time")
    def talk(self, obj: DialAttempt) -> str:
        return f"{obj.talk_seconds // 60}:{obj.talk_seconds % 60:02d}" if obj.talk_seconds else "—"


class CloseForm(forms.Form):
    note = forms.CharField(
        label="Note (why it is closed)", max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


# Where the visit came from (helpline.attribution); cleaned and bounded when recorded, shown escaped.
ATTRIBUTION_FIELDS = (
    "source_kind",
    "source_key",
    "page",
    "landing_page",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)


@admin.register(AdmissionRequest)
class AdmissionRequestAdmin(PhoneSearchMixin, AuditedAdminMixin, admin.ModelAdmin):
    # Eight short columns that fit a 1280 px screen beside the filters; the rest is on the request's page.
    list_display = (
        "short_id",
        "state_pill",
        "received",
        "service_label",
        "where",
        "partner",
        "phone_masked",
        "next_action",
    )
    list_filter = (AttentionFilter, CallbackDueFilter, "status", "source", "source_kind", "service")
    search_fields = ("=zip_code",)
    search_help_text = "Search by ZIP code. For a phone number use 'Find by phone number' below."
    change_list_template = "admin/phone_search_change_list.html"  # the POST form of PhoneSearchMixin
    ordering = ("-needs_attention", "-created_at")
    list_select_related = ("partner",)
    inlines = (StatusChangeInline, CallbackLegInline)
    actions = ("approve_held", "reroute", "close_with_note")
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
        "service_label",
        "substance_labels",
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
        "attempts_summary",
        "next_action_at",
        "notified_at",
        "connected_at",
        "withdrawn_at",
        "needs_attention",
        "staff_note",
        "created_at",
        *ATTRIBUTION_FIELDS,
    )
    fieldsets = (
        ("Request", {"fields": ("public_id", "status", "needs_attention", "source", "created_at", "staff_note")}),
        ("Person", {"fields": ("for_whom", "first_name", "masked_phone", "zip_code", "state", "language")}),
        ("Needs", {"fields": ("service_label", "substance_labels", "payment")}),
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
        ("Which page brought it", {"fields": ATTRIBUTION_FIELDS}),
        (
            "Routing and callback",
            {
                "fields": (
                    "partner",
                    "facility",
                    "decision",
                    "notified_at",
                    "attempts_summary",
                    "next_action_at",
                    "connected_at",
                )
            },
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requests come from people, never typed in by staff

    def get_queryset(self, request: HttpRequest) -> QuerySet[AdmissionRequest]:
        return admission_selectors.with_leg_counts(super().get_queryset(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the retention purge removes caller data; the record stays for counts

    @admin.display(description="Request")
    def short_id(self, obj: AdmissionRequest) -> str:
        return str(obj.public_id)[:8]

    @admin.display(description="Status", ordering="status")
    def state_pill(self, obj: AdmissionRequest) -> SafeString:
        tone = _STATUS_TONE.get(obj.status, "")
        pill = format_html('<span class="status-pill {}">{}</span>', tone, obj.get_status_display())
        failed = getattr(obj, "failed_legs", 0)
        if obj.status in admission_selectors.DONE_STATUSES:
            return pill
        if obj.needs_attention or failed >= admission_selectors.FAILED_LEGS_FOR_ATTENTION:
            why = (
                f"{failed} callbacks failed"
                if failed >= admission_selectors.FAILED_LEGS_FOR_ATTENTION
                else "needs attention"
            )
            return format_html('{} <span class="status-pill is-alert">{}</span>', pill, why)
        return pill

    @admin.display(description="Received", ordering="created_at")
    def received(self, obj: AdmissionRequest) -> str:
        return date_format(timezone.localtime(obj.created_at), "M j, g:i A T")

    @admin.display(description="Service", ordering="service")
    def service_label(self, obj: AdmissionRequest) -> str:
        return written_label(obj.service)

    @admin.display(description="Where", ordering="zip_code")
    def where(self, obj: AdmissionRequest) -> str:
        return f"{obj.zip_code}, {obj.state}" if obj.state else obj.zip_code

    @admin.display(description="Substances")
    def substance_labels(self, obj: AdmissionRequest) -> str:
        codes = obj.substances if isinstance(obj.substances, list) else []
        return ", ".join(_SUBSTANCES.get(str(code), str(code)) for code in codes) or "None given"

    @admin.display(description="Phone")
    def phone_masked(self, obj: AdmissionRequest) -> str:
        return mask_phone(obj.phone) if obj.phone else "—"

    @admin.display(description="Next action", ordering="next_action_at")
    def next_action(self, obj: AdmissionRequest) -> str:
        if obj.status in admission_selectors.DONE_STATUSES or obj.next_action_at is None:
            return "—"
        return date_format(timezone.localtime(obj.next_action_at), "M j, g:i A T")

    @admin.display(description="Callback attempts")
    def attempts_summary(self, obj: AdmissionRequest) -> str:
        """Every callback leg placed (``leg_count``), not only the rounds the person missed."""
        legs = getattr(obj, "leg_count", None)
        if legs is None:
            legs = obj.attempts.count()
            failed = obj.attempts.filter(outcome__in=admission_selectors.FAILED_LEG_OUTCOMES).count()
        else:
            failed = getattr(obj, "failed_legs", 0)
        if not legs:
            return "0"
        parts = [f"{failed} did not connect"] if failed else []
        if obj.callback_attempts:
            parts.append(f"{obj.callback_attempts} unanswered by the person")
        return f"{legs} ({'; '.join(parts)})" if parts else str(legs)

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

    @admin.action(description="Approve the selected held requests (route them and call back)")
    def approve_held(self, request: HttpRequest, queryset: QuerySet[AdmissionRequest]) -> None:
        """The new-number breaker held these (helpline.admission.policy); staff decide they are real."""
        approved = 0
        for req in queryset.filter(status=AdmissionRequest.Status.HELD):
            if admission.admission_request_approve(request_id=req.pk, by=request.user):
                audit_record(
                    request=request, where="admin", action=AuditEvent.Action.CHANGE, obj=req, fields=["status"]
                )
                approved += 1
        self.message_user(request, f"Approved {approved} held request(s).", messages.SUCCESS)

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
