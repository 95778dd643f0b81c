"""Staff admin of the partner directory: partners, facilities, hours, logins.

Validation beyond the model's: numbers must be real E.164 numbers, ZIPs must
exist (offline ``zipcodes`` data) and lie in the facility's state, time zones
must be IANA names, and weekly hours must not overlap. Coordinates and the
time zone can be left blank and are then taken from the facility's ZIP.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone

from config.staff_time import start_of_staff_day
from helpline.models import HelplineNumber
from helpline.phones import validate_e164_number
from partners.billing.invoices import usd
from partners.directory import services
from partners.directory.services import AUTO_PAUSE_REASON_PREFIX
from partners.directory.validation import (
    validate_iana_timezone,
    validate_opening_spans,
    validate_real_zip,
    validate_real_zip_prefixes,
    validate_real_zips,
    validate_zip_in_state,
    zip_details,
)
from partners.models import (
    LANGUAGE_CHOICES,
    SERVICE_CHOICES,
    US_STATES,
    ClosedDate,
    Facility,
    OpeningHours,
    Partner,
    PartnerMembership,
)
from partners.webhooks.delivery import new_secret as new_webhook_secret

_SEPARATORS = re.compile(r"[\s,;]+")


def _split_codes(text: str) -> list[str]:
    return [part for part in _SEPARATORS.split(text or "") if part]


# --- Facilities -----------------------------------------------------------------


class FacilityAdminForm(forms.ModelForm):
    services = forms.MultipleChoiceField(
        choices=SERVICE_CHOICES, widget=forms.CheckboxSelectMultiple, label="Services offered"
    )
    languages = forms.MultipleChoiceField(choices=LANGUAGE_CHOICES, widget=forms.CheckboxSelectMultiple)
    service_states = forms.MultipleChoiceField(
        choices=[(s, s) for s in US_STATES],
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Callers anywhere in these states are in the service area.",
    )
    service_zips = forms.CharField(
        required=False,
        label="Service ZIP codes",
        help_text="5-digit ZIP codes, separated by commas or spaces.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    service_zip_prefixes = forms.CharField(
        required=False,
        label="Service ZIP prefixes",
        help_text="3-digit ZIP prefixes (for example 787), separated by commas or spaces.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    time_zone = forms.CharField(
        required=False, help_text="IANA name such as America/Chicago. Blank: the time zone of the ZIP code."
    )
    latitude = forms.FloatField(required=False, help_text="Blank: the centre of the ZIP code.")
    longitude = forms.FloatField(required=False, help_text="Blank: the centre of the ZIP code.")

    class Meta:
        model = Facility
        fields = [
            "partner", "name", "slug", "is_active", "description", "address_line", "city", "state", "zip_code",
            "latitude", "longitude", "phone", "time_zone", "open_24_7", "services", "languages",
            "service_states", "service_zips", "service_zip_prefixes", "service_radius_miles",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["service_zips"] = ", ".join(self.instance.service_zips or [])
            self.initial["service_zip_prefixes"] = ", ".join(self.instance.service_zip_prefixes or [])

    def clean_phone(self) -> Any:
        phone = self.cleaned_data.get("phone")
        if phone:
            validate_e164_number(phone.as_e164)
        return phone

    def clean_zip_code(self) -> str:
        value = (self.cleaned_data.get("zip_code") or "").strip()
        validate_real_zip(value)
        return value

    def clean_services(self) -> list[str]:
        chosen = set(self.cleaned_data.get("services") or [])
        return [code for code, _ in SERVICE_CHOICES if code in chosen]  # canonical order

    def clean_service_zips(self) -> list[str]:
        zips = _split_codes(self.cleaned_data.get("service_zips", ""))
        bad = [z for z in zips if not (len(z) == 5 and z.isdigit())]
        if bad:
            raise ValidationError(f"Not 5-digit ZIP codes: {', '.join(bad)}.")
        validate_real_zips(zips)
        return list(dict.fromkeys(zips))

    def clean_service_zip_prefixes(self) -> list[str]:
        prefixes = _split_codes(self.cleaned_data.get("service_zip_prefixes", ""))
        bad = [p for p in prefixes if not (len(p) == 3 and p.isdigit())]
        if bad:
            raise ValidationError(f"Not 3-digit ZIP prefixes: {', '.join(bad)}.")
        validate_real_zip_prefixes(prefixes)
        return list(dict.fromkeys(prefixes))

    def clean_time_zone(self) -> str:
        value = (self.cleaned_data.get("time_zone") or "").strip()
        if value:
            validate_iana_timezone(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        zip_code, state = data.get("zip_code"), data.get("state")
        details = zip_details(zip_code) if zip_code else None
        if zip_code and state:
            try:
                validate_zip_in_state(zip_code=zip_code, state=state)
            except ValidationError as exc:
                self.add_error("zip_code", exc)
        if details is not None:
            if data.get("latitude") is None and "latitude" not in self.errors:
                data["latitude"] = float(details["lat"])
            if data.get("longitude") is None and "longitude" not in self.errors:
                data["longitude"] = float(details["long"])
            if not data.get("time_zone") and "time_zone" not in self.errors:
                data["time_zone"] = details["timezone"]
        if "time_zone" in data and not data["time_zone"] and "time_zone" not in self.errors:
            self.add_error("time_zone", "Give the facility's IANA time zone (for example America/Chicago).")
        for axis in ("latitude", "longitude"):
            if axis in data and data[axis] is None and axis not in self.errors:
                self.add_error(axis, "Give the coordinates, or a real ZIP code to take them from.")
        return data


class OpeningHoursFormSet(BaseInlineFormSet):
    """Weekly hours must agree with the 24/7 box and must not overlap."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        spans = [
            (form.cleaned_data["weekday"], form.cleaned_data["opens"], form.cleaned_data["closes"])
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        open_24_7 = bool(getattr(self.instance, "open_24_7", False))
        if open_24_7 and spans:
            raise ValidationError("This facility is marked open 24/7: remove the weekly hours or untick Open 24/7.")
        if not open_24_7 and not spans:
            raise ValidationError("Give the weekly opening hours, or tick Open 24/7.")
        validate_opening_spans(spans)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0
    fields = ("weekday", "opens", "closes")


class ClosedDateInline(admin.TabularInline):
    model = ClosedDate
    extra = 0
    fields = ("date", "note")


class ListingNumberForm(forms.ModelForm):
    class Meta:
        model = HelplineNumber
        fields = ["number", "label", "is_active"]

    def clean_number(self) -> Any:
        number = self.cleaned_data.get("number")
        if number:
            validate_e164_number(number.as_e164)
        return number

    def save(self, commit: bool = True) -> HelplineNumber:
        self.instance.kind = HelplineNumber.Kind.LISTING
        self.instance.is_primary = False
        return super().save(commit=commit)

    def clean(self) -> dict[str, Any]:
        # Model validation (the listing-needs-a-facility constraint) runs after this and needs the kind.
        self.instance.kind = HelplineNumber.Kind.LISTING
        return super().clean() or {}


class ListingNumberInline(admin.TabularInline):
    model = HelplineNumber
    form = ListingNumberForm
    fk_name = "facility"
    extra = 0
    verbose_name = "listing number"
    verbose_name_plural = "listing numbers (ring this facility directly)"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # calls keep pointing at their number; deactivate it instead


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    form = FacilityAdminForm
    inlines = [OpeningHoursInline, ClosedDateInline, ListingNumberInline]
    list_display = ("name", "partner", "city", "state", "zip_code", "open_24_7", "is_active")
    list_filter = ("state", "is_active", "open_24_7", "partner__status")
    search_fields = ("name", "slug", "city", "zip_code", "partner__display_name", "partner__legal_name")
    list_select_related = ("partner",)
    autocomplete_fields = ("partner",)
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("partner", "name", "slug", "is_active", "description")}),
        ("Address", {"fields": ("address_line", "city", "state", "zip_code", "latitude", "longitude")}),
        ("Calls", {"fields": ("phone", "time_zone", "open_24_7", "services", "languages")}),
        (
            "Service area (any that matches)",
            {"fields": ("service_states", "service_zips", "service_zip_prefixes", "service_radius_miles")},
        ),
    )


class FacilityInlineForm(FacilityAdminForm):
    """A facility edited from its partner's page: hours live on the facility's own page."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.has_changed() and not data.get("open_24_7"):
            has_hours = bool(self.instance.pk) and self.instance.hours.exists()
            if not has_hours:
                self.add_error(
                    "open_24_7",
                    "This facility has no weekly hours yet: tick Open 24/7, or add it from the Facilities page "
                    "where hours can be set.",
                )
        return data


class FacilityInline(admin.StackedInline):
    model = Facility
    form = FacilityInlineForm
    extra = 0
    show_change_link = True
    classes = ("collapse",)
    fields = (
        ("name", "slug", "is_active"),
        ("address_line", "city", "state", "zip_code"),
        ("latitude", "longitude"),
        ("phone", "time_zone", "open_24_7"),
        "services",
        "languages",
        ("service_states", "service_radius_miles"),
        "service_zips",
        "service_zip_prefixes",
    )
    prepopulated_fields = {"slug": ("name",)}


# --- Partners -------------------------------------------------------------------


class VerifiedFilter(admin.SimpleListFilter):
    title = "licence verified"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Verified"), ("no", "Not verified (not routed)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Partner]) -> QuerySet[Partner]:
        if self.value() == "yes":
            return queryset.filter(license_verified_on__isnull=False)
        if self.value() == "no":
            return queryset.filter(license_verified_on__isnull=True)
        return queryset


class PauseFilter(admin.SimpleListFilter):
    title = "why paused"
    parameter_name = "paused"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("auto_today", "Paused automatically today"),
            ("auto", "Paused automatically"),
            ("staff", "Paused by staff or the partner"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Partner]) -> QuerySet[Partner]:
        paused = queryset.filter(status=Partner.Status.PAUSED)
        automatic = Q(paused_reason__startswith=AUTO_PAUSE_REASON_PREFIX)
        if self.value() == "auto_today":
            return paused.filter(automatic, updated_at__gte=start_of_staff_day(timezone.now()))
        if self.value() == "auto":
            return paused.filter(automatic)
        if self.value() == "staff":
            return paused.exclude(automatic)
        return queryset


class FacilityStateFilter(admin.SimpleListFilter):
    title = "facility state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        states = Facility.objects.order_by("state").values_list("state", flat=True).distinct()
        return [(s, s) for s in states]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Partner]) -> QuerySet[Partner]:
        if self.value():
            return queryset.filter(facilities__state=self.value()).distinct()
        return queryset


class PartnerAdminForm(forms.ModelForm):
    class Meta:
        model = Partner
        fields = [
            "display_name", "legal_name", "slug", "status", "paused_reason", "price_per_call_cents",
            "min_billable_seconds", "repeat_caller_window_days", "daily_call_cap", "monthly_call_cap",
            "concurrent_call_cap", "monthly_budget_cents", "time_zone", "priority", "weight",
            "state_license_number", "license_verified_on", "legitscript_certified", "joint_commission_accredited",
            "carf_accredited", "notify_email", "notify_sms", "webhook_url",
        ]  # fmt: skip

    def clean_time_zone(self) -> str:
        value = (self.cleaned_data.get("time_zone") or "").strip()
        if value:
            validate_iana_timezone(value)  # a place name, not "EST" or "UTC-8": caps follow its daylight saving
        return value

    def clean_notify_sms(self) -> Any:
        number = self.cleaned_data.get("notify_sms")
        if number:
            validate_e164_number(number.as_e164)
        return number


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerAdminForm
    inlines = [FacilityInline]
    list_display = (
        "display_name",
        "status",
        "license_verified_on",
        "priority",
        "weight",
        "price_display",
        "facility_count",
    )
    list_filter = ("status", PauseFilter, VerifiedFilter, "priority", FacilityStateFilter)
    search_fields = (
        "display_name",
        "legal_name",
        "slug",
        "state_license_number",
        "notify_email",
        "facilities__name",
        "facilities__city",
        "facilities__zip_code",
    )
    prepopulated_fields = {"slug": ("display_name",)}
    actions = ["pause_partners", "activate_partners"]
    fieldsets = (
        (None, {"fields": ("display_name", "legal_name", "slug", "status", "paused_reason")}),
        (
            "Billing terms (US cents)",
            {"fields": ("price_per_call_cents", "min_billable_seconds", "repeat_caller_window_days")},
        ),
        (
            "Caps and budget (blank = none)",
            {
                "fields": (
                    "daily_call_cap",
                    "monthly_call_cap",
                    "concurrent_call_cap",
                    "monthly_budget_cents",
                    "time_zone",
                    "caps_calendar",
                ),
                "description": "Daily caps count the partner's own calendar day, and monthly caps and the budget "
                "its own month, in the time zone below (midnight there, not midnight UTC). "
                "Invoices cover UTC calendar months and say so.",
            },
        ),
        ("Order", {"fields": ("priority", "weight")}),
        (
            "Licence and accreditation",
            {
                "fields": (
                    "state_license_number",
                    "license_verified_on",
                    "legitscript_certified",
                    "joint_commission_accredited",
                    "carf_accredited",
                )
            },
        ),
        ("Notifications", {"fields": ("notify_email", "notify_sms", "webhook_url", "webhook_secret_status")}),
    )

    @admin.display(description="Webhook secret")
    def webhook_secret_status(self, obj: Partner) -> str:
        if obj.webhook_secret:
            return "Set. Made by Clearline; the partner sees a new one once when they rotate it in the portal."
        return "Made when a webhook URL is saved."

    def save_model(self, request: HttpRequest, obj: Partner, form: Any, change: bool) -> None:
        if obj.webhook_url and not obj.webhook_secret:
            obj.webhook_secret = new_webhook_secret()  # never typed: generated server-side, 32 random bytes
        super().save_model(request, obj, form, change)

    readonly_fields = ("caps_calendar", "webhook_secret_status")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        return super().get_queryset(request).annotate(num_facilities=Count("facilities", distinct=True))

    @admin.display(description="Caps count days in")
    def caps_calendar(self, obj: Partner) -> str:
        if obj.time_zone:
            return obj.time_zone
        return f"{obj.caps_time_zone()} (its first facility's zone; set a time zone above to change it)"

    @admin.display(description="Facilities", ordering="num_facilities")
    def facility_count(self, obj: Partner) -> int:
        return getattr(obj, "num_facilities", 0)

    @admin.display(description="Price per call", ordering="price_per_call_cents")
    def price_display(self, obj: Partner) -> str:
        return usd(obj.price_per_call_cents)

    @admin.action(description="Pause selected partners (stop sending calls)")
    def pause_partners(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        paused = [p for p in queryset if services.partner_pause(partner=p, by=request.user, reason="Paused by staff")]
        self.message_user(request, f"Paused {len(paused)} partner(s); {queryset.count() - len(paused)} already paused.")

    @admin.action(description="Activate selected partners (send calls again)")
    def activate_partners(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        resumed = [p for p in queryset if services.partner_resume(partner=p, by=request.user)]
        self.message_user(
            request, f"Activated {len(resumed)} partner(s); {queryset.count() - len(resumed)} already active."
        )
        unverified = [p.display_name for p in resumed if p.license_verified_on is None]
        if unverified:
            self.message_user(
                request,
                f"Not routed until their licence is verified: {', '.join(unverified)}.",
                level=messages.WARNING,
            )


# --- Partner logins ---------------------------------------------------------------


class PartnerMembershipForm(forms.ModelForm):
    class Meta:
        model = PartnerMembership
        fields = ["user", "partner"]

    def clean_user(self) -> Any:
        user = self.cleaned_data.get("user")
        if user is not None and (user.is_staff or user.is_superuser):
            raise ValidationError(
                f"{user.get_username()} is a staff account; partner logins must be separate accounts."
            )
        return user


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(admin.ModelAdmin):
    form = PartnerMembershipForm
    list_display = ("user", "partner", "created_at")
    list_filter = ("partner",)
    search_fields = ("user__username", "user__email", "partner__display_name")
    autocomplete_fields = ("user", "partner")
    list_select_related = ("user", "partner")


from partners.billing import admin as billing_admin  # noqa: E402, F401  - billing admin (ledger, disputes, webhooks)
