"""Admin: helpline numbers and the "Where do calls go?" wording.

The disclosure is append-only: staff change the wording by adding a version,
which records who added it and when. Versions cannot be edited in place or
deleted, and no statement can be left blank, so the section can be reworded
but never removed.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet, Subquery
from django.http import HttpRequest

from helpline.attribution import TrackingSource
from helpline.models import DisclosureVersion, HelplineNumber, SourceKind
from helpline.phones import validate_e164_number
from helpline.site.disclosure import current_version
from helpline.voice.disclosure import SPOKEN_BUDGET_SECONDS, default_spoken_disclosure
from helpline.voice.timing import spoken_seconds

DISCLOSURE_FIELDS = (
    "intro",
    "listing_calls",
    "fees",
    "no_obligation",
    "free_confidential",
    "not_affiliated",
    "spoken",
    "spoken_es",
)
SPOKEN_FIELDS = {"spoken": "en", "spoken_es": "es"}
MIN_STATEMENT_LENGTH = 10


class HelplineNumberForm(forms.ModelForm):
    class Meta:
        model = HelplineNumber
        fields = ["number", "kind", "facility", "source_kind", "source_key", "label", "is_active", "is_primary"]
        labels = {"source_kind": "Tracks", "source_key": "Guide slug or campaign name"}

    def clean_number(self) -> Any:
        number = self.cleaned_data.get("number")
        if number:
            validate_e164_number(number.as_e164)
        return number

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, facility = data.get("kind"), data.get("facility")
        if kind == HelplineNumber.Kind.LISTING and facility is None:
            self.add_error("facility", "A facility listing number must name the facility it rings.")
        if kind == HelplineNumber.Kind.GENERAL and facility is not None:
            self.add_error("facility", "A general helpline number is not tied to one facility; clear the facility.")
        self._clean_source(data)
        if data.get("is_primary"):
            if kind != HelplineNumber.Kind.GENERAL:
                self.add_error("is_primary", "Only a general helpline number can be the primary number.")
            if not data.get("is_active"):
                self.add_error("is_primary", "The primary number is shown on every page, so it must be active.")
        return data

    def _clean_source(self, data: dict[str, Any]) -> None:
        """A tracking number names one source; the other kinds name none. Keys are cleaned as pages use them."""
        kind, source_kind = data.get("kind"), data.get("source_kind") or ""
        raw_key = data.get("source_key") or ""
        if kind != HelplineNumber.Kind.TRACKING:
            if source_kind or raw_key.strip():
                self.add_error("source_kind", "Only a tracking number tracks a guide or a campaign; clear these.")
            data["source_kind"], data["source_key"] = "", ""
            return
        if data.get("facility") is not None:
            self.add_error("facility", "A tracking number rings the general pool, not one facility; clear it.")
        if source_kind == SourceKind.GUIDE:
            key = raw_key.strip().lower()
            if not GUIDE_SLUG.match(key):
                self.add_error("source_key", "A guide is named by its slug: lower-case letters, digits and hyphens.")
            elif not guide_exists(key):
                self.add_error("source_key", f"There is no guide with the slug {key!r}.")
        elif source_kind == SourceKind.CAMPAIGN:
            key = TrackingSource.campaign(raw_key).key
            if not key:
                self.add_error("source_key", "Name the campaign as its links carry it in utm_campaign.")
        else:
            self.add_error("source_kind", "Say what this number tracks: a guide or a campaign.")
            return
        data["source_key"] = key
        taken = HelplineNumber.objects.filter(
            kind=HelplineNumber.Kind.TRACKING, is_active=True, source_kind=source_kind, source_key=key
        ).exclude(pk=self.instance.pk)
        if key and data.get("is_active") and taken.exists():
            self.add_error("source_key", f"{taken.first()} already tracks this; deactivate it first.")


GUIDE_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


def guide_exists(slug: str) -> bool:
    """True when the guide exists, in any language; also True while the guides app is not installed.

    Looked up through the app registry, so numbers can be set up before the guides land
    and the admin does not import the guides' code.
    """
    try:
        guide = apps.get_model("guides", "Guide")
    except LookupError:
        return True
    return bool(guide.objects.filter(slug=slug).exists())


@admin.register(HelplineNumber)
class HelplineNumberAdmin(admin.ModelAdmin):
    form = HelplineNumberForm
    list_display = ("number", "kind", "facility", "source_kind", "source_key", "label", "is_active", "is_primary")
    list_filter = ("kind", "source_kind", "is_active", "is_primary")
    search_fields = ("number", "label", "source_key", "facility__name", "facility__partner__display_name")
    autocomplete_fields = ("facility",)
    list_select_related = ("facility",)

    def save_model(self, request: HttpRequest, obj: HelplineNumber, form: forms.ModelForm, change: bool) -> None:
        # One primary number: marking this one primary demotes the others in the same transaction.
        with transaction.atomic():
            if obj.is_primary:
                HelplineNumber.objects.filter(is_primary=True).exclude(pk=obj.pk).update(is_primary=False)
            super().save_model(request, obj, form, change)


class DisclosureVersionForm(forms.ModelForm):
    class Meta:
        model = DisclosureVersion
        fields = list(DISCLOSURE_FIELDS)
        widgets = {name: forms.Textarea(attrs={"rows": 3, "cols": 80}) for name in DISCLOSURE_FIELDS}
        labels = {
            "intro": "Who answers general calls (shown above the list of paying partners)",
            "listing_calls": "Calls to a facility's own listing number",
            "fees": "How providers pay",
            "no_obligation": "No obligation",
            "free_confidential": "Free, confidential, 24/7",
            "not_affiliated": "Not affiliated with Alcoholics Anonymous",
            "spoken": "Spoken to every caller before a provider rings (English)",
            "spoken_es": "Spoken to every caller before a provider rings (Spanish)",
        }
        help_texts = {
            "spoken": "Say that calls go to treatment providers who pay to advertise. Keep it short: every "
            "caller waits for it (at most 15 words).",
            "spoken_es": "The same in Spanish, for callers who press 8 (at most 16 words).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in DISCLOSURE_FIELDS:
            field = self.fields.get(name)
            if field is None:  # the view-only page renders every field read-only
                continue
            field.required = True
            field.error_messages["required"] = "This statement is required: reword it, but it cannot be removed."

    def _clean_statement(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if len(value) < MIN_STATEMENT_LENGTH:
            raise ValidationError("This statement is required: reword it, but it cannot be removed.")
        return value

    def clean_intro(self) -> str:
        return self._clean_statement("intro")

    def clean_listing_calls(self) -> str:
        return self._clean_statement("listing_calls")

    def clean_fees(self) -> str:
        return self._clean_statement("fees")

    def clean_no_obligation(self) -> str:
        return self._clean_statement("no_obligation")

    def clean_free_confidential(self) -> str:
        return self._clean_statement("free_confidential")

    def clean_not_affiliated(self) -> str:
        return self._clean_statement("not_affiliated")

    def _clean_spoken(self, name: str) -> str:
        value = " ".join(self._clean_statement(name).split())
        budget = SPOKEN_BUDGET_SECONDS[SPOKEN_FIELDS[name]]  # every caller hears it before a provider rings
        if spoken_seconds(value) > budget:
            words = int(budget * 150 / 60)
            raise ValidationError(
                f"Too long to speak to every caller before a provider rings: at most {words} words "
                f"(this takes {spoken_seconds(value):.1f} s)."
            )
        return value

    def clean_spoken(self) -> str:
        return self._clean_spoken("spoken")

    def clean_spoken_es(self) -> str:
        return self._clean_spoken("spoken_es")


@admin.register(DisclosureVersion)
class DisclosureVersionAdmin(admin.ModelAdmin):
    """Add-only: a new version replaces the wording; old versions stay as the record."""

    form = DisclosureVersionForm
    list_display = ("__str__", "created_at", "created_by", "is_current")
    list_select_related = ("created_by",)
    readonly_fields = ("created_at", "created_by")
    actions = None

    @admin.display(boolean=True, description="Shown now")
    def is_current(self, obj: DisclosureVersion) -> bool:
        return bool(getattr(obj, "shown_now", False))

    def get_queryset(self, request: HttpRequest) -> QuerySet[DisclosureVersion]:
        newest = DisclosureVersion.objects.order_by("-created_at", "-id").values("pk")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(shown_now=ExpressionWrapper(Q(pk=Subquery(newest)), output_field=BooleanField()))
        )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # Start from the wording shown now, so staff edit rather than retype it.
        version = current_version()
        initial = {name: getattr(version, name) for name in DISCLOSURE_FIELDS}
        spoken = default_spoken_disclosure()  # what callers hear while the field is blank
        for name, language in SPOKEN_FIELDS.items():
            initial[name] = initial[name] or spoken[language]
        return initial

    def get_fields(self, request: HttpRequest, obj: DisclosureVersion | None = None) -> tuple[str, ...]:
        return (*DISCLOSURE_FIELDS, *(("created_at", "created_by") if obj else ()))

    def has_change_permission(self, request: HttpRequest, obj: DisclosureVersion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DisclosureVersion | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: DisclosureVersion, form: forms.ModelForm, change: bool) -> None:
        if change:  # pragma: no cover - change permission is refused above
            raise ValidationError("Disclosure versions cannot be edited; add a new version.")
        obj.pk = None
        obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
