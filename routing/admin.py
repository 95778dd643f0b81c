"""Admin: stored routing decisions, read-only — "why did this caller go to this partner".

``decision_html(decision)`` renders one decision (ordered choices with their
reasons, notes, fallback, excluded facilities with theirs, counts per reason of
everything left out) as escaped HTML that
the Call and AdmissionRequest admins embed as a read-only field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from routing.models import PartnerCounter, RoutingDecision
from routing.vocabulary import language_label, readable_location, written_label


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def decision_html(decision: RoutingDecision | None) -> SafeString:
    """The decision as an escaped HTML fragment (every value from the row is escaped)."""
    if decision is None:
        return format_html("<p>{}</p>", "No routing decision recorded.")
    summary = format_html(
        "<p><strong>{}</strong> · {} · {} · {} · {} · precision: {}{}{}</p>",
        decision.get_kind_display(),
        # Staff pages run in STAFF_TIME_ZONE (config.staff_time); the abbreviation says which.
        date_format(timezone.localtime(decision.created_at), "M j, Y, g:i:s A T") if decision.created_at else "",
        written_label(decision.service or "unsure"),
        language_label(decision.language),
        readable_location(decision.location_label, decision.location_source),
        decision.get_location_precision_display(),
        format_html(" · caller ID place, approximate (never used to route): {}", decision.location_hint)
        if decision.location_hint
        else "",
        format_html(" — {}", decision.location_problem) if decision.location_problem else "",
    )
    chosen_rows = [
        (i, _text(c.get("partner_name")), _text(c.get("facility_name")), _text(c.get("reason")))
        for i, c in enumerate(decision.chosen or [], start=1)
        if isinstance(c, dict)
    ]
    if chosen_rows:
        chosen = format_html(
            "<ol class='routing-chosen'>{}</ol>",
            format_html_join("", "<li value='{}'><strong>{}</strong> — {}: {}</li>", chosen_rows),
        )
    else:
        chosen = format_html("<p>{}</p>", "No partner was eligible.")
    fallback = format_html("<p>Fallback: {}</p>", decision.fallback or "none")
    notes = (
        format_html(
            "<ul class='routing-notes'>{}</ul>", format_html_join("", "<li>{}</li>", ((n,) for n in decision.notes))
        )
        if decision.notes
        else ""
    )
    excluded_rows = [
        (_text(x.get("partner_name")), _text(x.get("facility_name")), _text(x.get("reason")))
        for x in decision.excluded or []
        if isinstance(x, dict)
    ]
    excluded = (
        format_html(
            "<details><summary>{} excluded</summary><ul class='routing-excluded'>{}</ul></details>",
            len(excluded_rows),
            format_html_join("", "<li>{} — {}: {}</li>", excluded_rows),
        )
        if excluded_rows
        else format_html("<p>{}</p>", "Nothing excluded.")
    )
    summary_rows = [
        (_text(row.get("count")), _text(row.get("reason")))
        for row in decision.excluded_summary or []
        if isinstance(row, dict)
    ]
    if summary_rows:
        excluded = format_html(
            "{}<p>{}</p><ul class='routing-excluded-summary'>{}</ul>",
            excluded,
            "Everything left out, counted per reason (examined or not):",
            format_html_join("", "<li>{} × {}</li>", summary_rows),
        )
    footer = format_html(
        "<p class='help'>{} facilities considered in {} ms; rotation key {}; directory version {}.</p>",
        decision.considered_count,
        decision.elapsed_ms,
        decision.rotation_key,
        decision.directory_version,
    )
    return format_html(
        "<div class='routing-decision'>{}{}{}{}{}{}</div>", summary, chosen, notes, fallback, excluded, footer
    )


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    """Decisions are a record of what happened: nobody adds, edits or deletes them here."""

    list_display = ("created_at", "kind", "service_label", "where", "location_precision", "first_choice", "fallback")
    list_filter = ("kind", "location_source", "location_precision", "service")
    date_hierarchy = "created_at"
    search_fields = ("state", "zip_code", "location_label")
    readonly_fields = ("explanation",)
    fields = ("explanation",)

    @admin.display(description="Service", ordering="service")
    def service_label(self, obj: RoutingDecision) -> str:
        return written_label(obj.service or "unsure")

    @admin.display(description="Caller's area", ordering="location_label")
    def where(self, obj: RoutingDecision) -> str:
        return readable_location(obj.location_label, obj.location_source)

    @admin.display(description="First choice")
    def first_choice(self, obj: RoutingDecision) -> str:
        return obj.chosen[0]["partner_name"] if obj.chosen else "fallback"

    @admin.display(description="Why this caller went where")
    def explanation(self, obj: RoutingDecision) -> SafeString:
        return decision_html(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PartnerCounter)
class PartnerCounterAdmin(admin.ModelAdmin):
    """Live counters, for staff to see why a partner is at a cap. Read-only: the call path owns them."""

    list_display = (
        "partner",
        "active_calls",
        "day",
        "calls_today",
        "month",
        "calls_this_month",
        "spend_this_month",
        "updated_at",
    )

    @admin.display(description="Spend this month", ordering="spend_this_month_cents")
    def spend_this_month(self, obj: PartnerCounter) -> str:
        # Routing imports no other app, so not partners' money helper; the same "$1,755.00" form.
        cents = obj.spend_this_month_cents
        return f"{'-' if cents < 0 else ''}${Decimal(abs(cents)) / 100:,.2f}"

    search_fields = ("partner__display_name",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
