"""Staff admin for guides: the review workflow as actions, every version in the history, a past-review filter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from helpline.site.guides import services
from helpline.site.guides.models import Guide
from helpline.site.guides.safety import safety_problems


class ReviewFilter(admin.SimpleListFilter):
    title = "clinical review"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("past", "Past review date (published)"),
            ("soon", "Due within 30 days"),
            ("demo", "Demo reviewer (not a real review)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Guide]) -> QuerySet[Guide]:
        today = timezone.now().date()
        published = queryset.filter(status=Guide.Status.PUBLISHED)
        if self.value() == "past":
            return published.filter(next_review_due__lte=today)
        if self.value() == "soon":
            return published.filter(next_review_due__gt=today, next_review_due__lte=today + dt.timedelta(days=30))
        if self.value() == "demo":
            return queryset.filter(is_demo_review=True)
        return queryset


class GuideAdminForm(forms.ModelForm):
    class Meta:
        model = Guide
        fields = "__all__"  # noqa: DJ007 - every content field is edited here; status moves only by actions

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {**cleaned, "language": cleaned.get("language") or (self.instance.language if self.instance else "en")}
        if all(key in values for key in ("body", "sources")):
            for problem in safety_problems(values):
                self.add_error(None, problem)
        return cleaned


@admin.register(Guide)
class GuideAdmin(SimpleHistoryAdmin):
    form = GuideAdminForm
    list_display = ("substance", "language", "status", "reviewer", "reviewed_on", "review_due", "last_updated", "page")
    list_filter = (ReviewFilter, "status", "language", "class_group")
    search_fields = ("slug", "title", "substance", "reviewer_name")
    readonly_fields = ("status", "is_demo_review", "created_at", "updated_at", "page")
    history_list_display = ("status", "reviewer_name", "reviewed_on")
    actions = ("send_to_review", "publish", "mark_reviewed_today", "retire", "back_to_draft")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "slug",
                    "language",
                    "status",
                    "page",
                    "title",
                    "substance",
                    "names",
                    "drug_class",
                    "class_group",
                )
            },
        ),
        ("Text", {"fields": ("summary", "meta_description", "key_facts", "body", "faq", "sources")}),
        ("Links", {"fields": ("form_substance", "services", "related")}),
        (
            "Clinical review",
            {
                "description": "Fill in the reviewer, then use the “Publish” action. Publishing needs a reviewer name "
                "and review date; the next review is due a year later unless set.",
                "fields": (
                    "reviewer_name",
                    "reviewer_credentials",
                    "reviewed_on",
                    "next_review_due",
                    "is_demo_review",
                    "last_updated",
                ),
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Reviewer")
    def reviewer(self, obj: Guide) -> str:
        name = ", ".join(x for x in (obj.reviewer_name, obj.reviewer_credentials) if x)
        return f"{name} (demo)" if obj.is_demo_review else name

    @admin.display(description="Next review", ordering="next_review_due")
    def review_due(self, obj: Guide) -> str:
        if obj.next_review_due is None:
            return "—"
        if obj.status == Guide.Status.PUBLISHED and obj.past_review(today=timezone.now().date()):
            return format_html('<strong style="color:#a40000">{} — past review</strong>', obj.next_review_due)
        return str(obj.next_review_due)

    @admin.display(description="Page")
    def page(self, obj: Guide) -> str:
        if not obj.pk:
            return "—"
        label = "View" if obj.status == Guide.Status.PUBLISHED else "Preview"
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', obj.get_absolute_url(), label)

    def save_model(self, request: HttpRequest, obj: Guide, form: Any, change: bool) -> None:
        if change and form.changed_data:
            obj._change_reason = "Edited in the admin: " + ", ".join(form.changed_data)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def _each(self, request: HttpRequest, queryset: QuerySet[Guide], verb: str, do: Any) -> None:
        done = 0
        for guide in queryset:
            try:
                do(guide)
                done += 1
            except services.GuideTransitionError as exc:
                self.message_user(request, f"{guide}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} guide(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Send to clinical review")
    def send_to_review(self, request: HttpRequest, queryset: QuerySet[Guide]) -> None:
        self._each(
            request,
            queryset,
            "sent to review",
            lambda g: services.guide_transition(guide=g, to="in_review", by=request.user),
        )

    @admin.action(description="Publish (uses the reviewer filled in on each guide)")
    def publish(self, request: HttpRequest, queryset: QuerySet[Guide]) -> None:
        def do(guide: Guide) -> None:
            if not guide.reviewer_name or guide.reviewed_on is None:
                raise services.GuideTransitionError("fill in the reviewer's name and the review date first.")
            services.guide_publish(
                guide=guide,
                reviewer_name=guide.reviewer_name,
                reviewer_credentials=guide.reviewer_credentials,
                reviewed_on=guide.reviewed_on,
                next_review_due=guide.next_review_due
                if guide.next_review_due and guide.next_review_due > guide.reviewed_on
                else None,
                by=request.user,
            )

        self._each(request, queryset, "published", do)

    @admin.action(description="Mark re-reviewed today (published guides, same reviewer)")
    def mark_reviewed_today(self, request: HttpRequest, queryset: QuerySet[Guide]) -> None:
        today = timezone.now().date()
        self._each(
            request,
            queryset,
            "marked reviewed",
            lambda g: services.guide_mark_reviewed(
                guide=g,
                reviewer_name=g.reviewer_name,
                reviewer_credentials=g.reviewer_credentials,
                reviewed_on=today,
                by=request.user,
            ),
        )

    @admin.action(description="Retire (visitors get 410 Gone)")
    def retire(self, request: HttpRequest, queryset: QuerySet[Guide]) -> None:
        self._each(
            request, queryset, "retired", lambda g: services.guide_transition(guide=g, to="retired", by=request.user)
        )

    @admin.action(description="Back to draft")
    def back_to_draft(self, request: HttpRequest, queryset: QuerySet[Guide]) -> None:
        self._each(
            request,
            queryset,
            "moved to draft",
            lambda g: services.guide_transition(guide=g, to="draft", by=request.user),
        )
