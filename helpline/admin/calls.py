"""Admin: calls, as a timeline staff can read — what the caller chose, where we looked, who we rang, how it ended.

Read-only except the follow-up: staff mark a flagged call done with a note.
The caller's number is shown masked; opening a call is audited (AuditedAdminMixin).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from helpline.admin.phone_search import PhoneSearchMixin
from helpline.audit import AuditedAdminMixin
from helpline.models import Call, CallEvent, DialAttempt
from helpline.privacy import mask_phone
from routing.admin import decision_html
from routing.vocabulary import language_label, readable_location, written_label

_EVENT_TEXT = {
    "ivr": "Caller choice",
    "skip": "Skipped (at a cap)",
    "leg-status": "Partner leg",
    "call-status": "Twilio call status",
    "whisper": "Whisper",
    "replan": "Routed again (every partner in the list was tried)",
    "crisis-line": "988 crisis line",
}
_CRISIS_LINE_WORDS = {
    "completed": "Reached",
    "answered": "Reached",
    "busy": "Not reached: busy",
    "no-answer": "Not reached: no answer",
    "failed": "Not reached: the call failed",
    "canceled": "Not reached: canceled while ringing",
    "unknown": "Not reached: Twilio did not say why",
}


def _crisis_line_result(event: CallEvent) -> str:
    """How the caller's 988 attempt ended, in words, and what happened next."""
    words = _CRISIS_LINE_WORDS.get(event.status, event.status)
    seconds = event.detail.get("seconds")
    if seconds:
        words += f", talked {_minutes(int(seconds))}"
    then = event.detail.get("then")
    if then:
        words += f"; {then}; flagged for staff follow-up"
    return words


# What Twilio and the call flow wrote: shown, never edited by staff.
CALL_FIELDS: tuple[str, ...] = (
    "started_at",
    "caller",
    "helpline_number",
    "listing_facility",
    "service_label",
    "language_name",
    "area",
    "source_kind",
    "source_key",
    "status",
    "outcome_reason",
    "connected_partner",
    "connected_facility",
    "talk",
    "duration",
    "is_test",
    "call_sid",
)


class CallAdminForm(forms.ModelForm):
    class Meta:
        model = Call
        fields = ["needs_followup", "followup_note"]
        widgets = {"followup_note": forms.Textarea(attrs={"rows": 3, "cols": 80})}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        done = self.instance.needs_followup and not data.get("needs_followup")
        if done and not (data.get("followup_note") or "").strip():
            self.add_error("followup_note", "Say what was done before marking the follow-up done.")
        return data


def _when(at: datetime | None) -> str:
    """A timeline time in the staff time zone (active on admin pages), seconds shown: legs are seconds apart."""
    return date_format(timezone.localtime(at), "g:i:s A T") if at else ""


_IVR_WORDS = {
    "crisis": "Chose the crisis line",
    "zip:given": "Keyed a ZIP code",
    "zip:unknown": "Did not key a ZIP code",
}


def _ivr_choice(status: str) -> str:
    """What the caller pressed, in words: "service:mat" → "Service: Medication-assisted treatment (MAT)"."""
    what, _, value = status.partition(":")
    if what == "service" and value:
        return f"Service: {service_text(value)}"
    if what == "language" and value:
        return f"Language: {language_label(value)}"
    return _IVR_WORDS.get(status, status)


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds else "—"


def service_text(code: str) -> str:
    """A caller's service choice as staff read it; an empty code means the caller never chose."""
    if not code:
        return "Not chosen"
    return written_label(code)


@admin.register(Call)
class CallAdmin(PhoneSearchMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = CallAdminForm
    # Find by phone: a POST turned into the number's keyed fingerprint, as on the request list.
    phone_fingerprint_field = "caller_hash"
    change_list_template = "admin/phone_search_change_list.html"
    list_display = [
        "when",
        "caller",
        "service_label",
        "language",
        "area",
        "status",
        "partner",
        "talk",
        "followup",
        "test_call",
    ]
    list_filter = [
        "status",
        "needs_followup",
        "location_source",
        "location_precision",
        ("started_at", admin.DateFieldListFilter),
        "language",
        "source_kind",
        "is_test",
    ]
    list_select_related = ["connected_partner"]
    date_hierarchy = "started_at"
    search_fields = ["call_sid"]
    search_help_text = "Search by call SID. For a phone number use 'Find by phone number' below."
    ordering = ["-started_at"]
    fieldsets = [
        ("Follow-up", {"fields": ["needs_followup", "followup_note"]}),
        (
            "Call",
            {"fields": CALL_FIELDS},
        ),
        ("Timeline", {"fields": ["timeline"]}),
        ("Routing decision", {"fields": ["decision", "pool_decision_html", "replan_decision_html"]}),
    ]
    readonly_fields = [
        *CALL_FIELDS,
        "timeline",
        "decision",
        "pool_decision_html",
        "replan_decision_html",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Call | None = None) -> Any:
        # What happened comes first; the follow-up form leads only when the call is waiting for one.
        if obj is not None and obj.needs_followup:
            return self.fieldsets
        return [*self.fieldsets[1:], self.fieldsets[0]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # calls come from Twilio only

    def has_delete_permission(self, request: HttpRequest, obj: Call | None = None) -> bool:
        return False  # the retention purge anonymises; the record and the counts stay

    def get_queryset(self, request: HttpRequest) -> QuerySet[Call]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "helpline_number", "listing_facility", "connected_partner", "connected_facility", "routing_decision"
            )
        )

    @admin.display(description="Caller")
    def caller(self, obj: Call) -> str:
        return mask_phone(obj.caller_number or "")

    @admin.display(description="When", ordering="started_at")
    def when(self, obj: Call) -> str:
        return date_format(timezone.localtime(obj.started_at), "M j, g:i A T")

    @admin.display(description="Caller's area", ordering="caller_area")
    def area(self, obj: Call) -> str:
        hint = f"; approx. {obj.location_hint} from the caller ID, a hint only" if obj.location_hint else ""
        return (
            f"{readable_location(obj.caller_area, obj.location_source)} "
            f"(precision: {obj.get_location_precision_display()}{hint})"
        )

    @admin.display(description="Partner", ordering="connected_partner__display_name")
    def partner(self, obj: Call) -> str:
        return obj.connected_partner.display_name if obj.connected_partner else "—"

    @admin.display(description="Service", ordering="service")
    def service_label(self, obj: Call) -> str:
        return service_text(obj.service)

    @admin.display(description="Language", ordering="language")
    def language_name(self, obj: Call) -> str:
        return language_label(obj.language)

    @admin.display(description="Follow-up", boolean=True, ordering="needs_followup")
    def followup(self, obj: Call) -> bool:
        return obj.needs_followup

    @admin.display(description="Test", boolean=True, ordering="is_test")
    def test_call(self, obj: Call) -> bool:
        return obj.is_test

    @admin.display(description="Talk time", ordering="talk_seconds")
    def talk(self, obj: Call) -> str:
        return _minutes(obj.talk_seconds)

    @admin.display(description="Call length", ordering="duration_seconds")
    def duration(self, obj: Call) -> str:
        return _minutes(obj.duration_seconds)

    @admin.display(description="Why it went where it went")
    def decision(self, obj: Call) -> SafeString:
        return decision_html(obj.routing_decision)

    @admin.display(description="General pool (listing facility did not answer)")
    def pool_decision_html(self, obj: Call) -> SafeString:
        if obj.pool_decision_id is None:
            return format_html("<p>{}</p>", "Not needed.")
        return decision_html(obj.pool_decision)

    @admin.display(description="Second routing (every partner in the list was tried)")
    def replan_decision_html(self, obj: Call) -> SafeString:
        if obj.replan_decision_id is None:
            return format_html("<p>{}</p>", "Not needed.")
        return decision_html(obj.replan_decision)

    @admin.display(description="Timeline")
    def timeline(self, obj: Call) -> SafeString:
        rows: list[tuple[datetime, str, str]] = []
        number = obj.helpline_number
        where = (
            f"listing number of {obj.listing_facility}"
            if obj.listing_facility_id
            else (str(number) if number else f"unknown number {obj.to_number} (treated as the general line)")
        )
        rows.append((obj.started_at, "Call received", f"on {where}; caller {mask_phone(obj.caller_number or '')}"))
        for event in CallEvent.objects.filter(call=obj).order_by("received_at", "id"):
            label = _EVENT_TEXT.get(event.kind, event.kind)
            if event.kind == "ivr":
                rows.append((event.received_at, label, _ivr_choice(event.status)))
                continue
            if event.kind == "crisis-line":
                rows.append((event.received_at, label, _crisis_line_result(event)))
                continue
            extra = ", ".join(f"{k} {v}" for k, v in sorted(event.detail.items())) if event.detail else ""
            rows.append((event.received_at, label, f"{event.status}{' — ' + extra if extra else ''}"))
        if obj.routing_started_at:
            rows.append(
                (
                    obj.routing_started_at,
                    "Routed",
                    f"{service_text(obj.service)}, {language_label(obj.language)}, "
                    f"{readable_location(obj.caller_area, obj.location_source)}, "
                    f"precision {obj.get_location_precision_display()}; "
                    f"{len(obj.failover_plan)} partner(s) in the failover list",
                )
            )
        attempts = DialAttempt.objects.filter(call=obj).select_related("partner", "facility").order_by("sequence")
        for attempt in attempts:
            ended = attempt.ended_at
            ring = ""
            if ended:
                ring = f", {(ended - attempt.started_at).total_seconds():.0f} s after dialing"
            rows.append(
                (
                    attempt.started_at,
                    f"Dial attempt {attempt.sequence}",
                    f"{attempt.partner} — {attempt.facility.name}: {attempt.get_outcome_display()}"
                    f"{', accepted' if attempt.accepted else ''}"
                    f"{f', talked {_minutes(attempt.talk_seconds)}' if attempt.talk_seconds else ''}{ring}",
                )
            )
        if obj.ended_at:
            rows.append(
                (
                    obj.ended_at,
                    "Outcome",
                    f"{obj.get_status_display()}{' — ' + obj.outcome_reason if obj.outcome_reason else ''}"
                    f"{'; needs staff follow-up' if obj.needs_followup else ''}",
                )
            )
        rows.sort(key=lambda r: r[0])
        return format_html(
            "<table class='call-timeline'><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><th>{}</th><td>{}</td></tr>", ((_when(t), a, b) for t, a, b in rows)),
        )
