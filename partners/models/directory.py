"""The partner directory: who pays, where they are, what they offer, when.

Money is integer cents (``*_cents``). Times of day are local to the
facility's IANA time zone; everything else is UTC.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from partners.webhook_addresses import validate_webhook_url

# The vocabulary is routing's (one table); re-exported here for the model fields and old imports.
from routing.vocabulary import LANGUAGE_CHOICES, SERVICE_CHOICES, SERVICE_CODES, US_STATES  # noqa: E402,F401

zip_validator = RegexValidator(r"^\d{5}$", "Enter a 5-digit ZIP code.")

# A facility's zone when none is given, and a partner's when it has neither its own nor a facility.
DEFAULT_TIME_ZONE = "America/New_York"


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone (for example America/Chicago).") from exc


def validate_service_list(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("List at least one service.")
    bad = [v for v in value if v not in SERVICE_CODES]
    if bad:
        raise ValidationError(f"Unknown service code(s) {bad}; use {', '.join(SERVICE_CODES)}.")
    if len(set(value)) != len(value):
        raise ValidationError("A service is listed twice.")


def validate_language_list(value: object) -> None:
    codes = [c for c, _ in LANGUAGE_CHOICES]
    if not isinstance(value, list) or not value:
        raise ValidationError("List at least one language.")
    bad = [v for v in value if v not in codes]
    if bad:
        raise ValidationError(f"Unknown language code(s) {bad}; use {', '.join(codes)}.")


def validate_state_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of two-letter state codes.")
    bad = [v for v in value if v not in US_STATES]
    if bad:
        raise ValidationError(f"Unknown state code(s) {bad}.")


def validate_zip_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of 5-digit ZIP codes.")
    bad = [v for v in value if not (isinstance(v, str) and len(v) == 5 and v.isdigit())]
    if bad:
        raise ValidationError(f"Not 5-digit ZIP codes: {bad}.")


def validate_zip_prefix_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of 3-digit ZIP prefixes.")
    bad = [v for v in value if not (isinstance(v, str) and len(v) == 3 and v.isdigit())]
    if bad:
        raise ValidationError(f"Not 3-digit ZIP prefixes: {bad}.")


class Partner(models.Model):
    """A treatment provider that pays a flat fee per qualifying call."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    legal_name = models.CharField(max_length=200)
    display_name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    paused_reason = models.CharField(max_length=200, blank=True)

    # Billing terms. The price never changes routing order.
    price_per_call_cents = models.PositiveIntegerField(
        help_text="Flat fee per billable call, in US cents.", validators=[MinValueValidator(1)]
    )
    min_billable_seconds = models.PositiveIntegerField(default=60)
    repeat_caller_window_days = models.PositiveIntegerField(default=30)

    # Caps (blank = no cap).
    daily_call_cap = models.PositiveIntegerField(null=True, blank=True)
    monthly_call_cap = models.PositiveIntegerField(null=True, blank=True)
    concurrent_call_cap = models.PositiveIntegerField(null=True, blank=True)
    monthly_budget_cents = models.PositiveIntegerField(null=True, blank=True, help_text="US cents; blank = none.")
    # The partner's calendar: its "20 calls a day" and its monthly cap and budget count its own
    # days and months, not UTC ones (midnight UTC is 4 pm in California). Blank follows the zone
    # of its first facility (lowest id), so most partners never need to set it.
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="IANA zone whose days and months count the caps and budget, e.g. America/Los_Angeles. "
        "Blank = the zone of the partner's first facility.",
    )

    # Order: lower priority number is tried first; weight spreads calls within a priority.
    priority = models.PositiveSmallIntegerField(default=5, validators=[MinValueValidator(1), MaxValueValidator(99)])
    weight = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(100)])

    # Licence and accreditation.
    state_license_number = models.CharField(max_length=60, blank=True)
    legitscript_certified = models.BooleanField(default=False)
    joint_commission_accredited = models.BooleanField(default=False)
    carf_accredited = models.BooleanField(default=False)
    license_verified_on = models.DateField(null=True, blank=True, help_text="Blank = not verified; not routed.")

    # Contact for notifications.
    notify_email = models.EmailField(blank=True)
    notify_sms = PhoneNumberField(blank=True, help_text="Mobile number for admission-request texts.")
    webhook_url = models.URLField(
        blank=True, validators=[validate_webhook_url], help_text="https, public host; checked again before each send."
    )
    # Made by Clearline (partners.webhooks.delivery.new_secret), shown once to the partner, rotated in the portal.
    webhook_secret = models.CharField(max_length=80, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [
            # An empty secret would make every signature forgeable.
            models.CheckConstraint(
                condition=models.Q(webhook_url="") | ~models.Q(webhook_secret=""), name="partner_webhook_has_secret"
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_routable(self) -> bool:
        return self.status == self.Status.ACTIVE and self.license_verified_on is not None

    def caps_time_zone(self) -> str:
        """The zone whose calendar counts the caps: its own, else its first facility's, else the default.

        One query when ``time_zone`` is blank; ``caps_time_zone_expression()`` is the same rule in SQL.
        """
        if self.time_zone:
            return self.time_zone
        first = self.facilities.order_by("id").values_list("time_zone", flat=True).first() if self.pk else None
        return first or DEFAULT_TIME_ZONE


class Facility(models.Model):
    """A place of care of a partner; calls are dialed to its phone."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="facilities")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True)
    is_active = models.BooleanField(default=True)
    address_line = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, choices=[(s, s) for s in US_STATES])
    zip_code = models.CharField(max_length=5, validators=[zip_validator])
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    phone = PhoneNumberField(help_text="Where calls are dialed (E.164).")
    time_zone = models.CharField(max_length=64, validators=[validate_timezone], default=DEFAULT_TIME_ZONE)
    open_24_7 = models.BooleanField(default=False)
    services = models.JSONField(default=list, validators=[validate_service_list])
    languages = models.JSONField(default=list, validators=[validate_language_list])

    # Service area: any of these that matches puts a caller inside it.
    service_states = models.JSONField(default=list, blank=True, validators=[validate_state_list])
    service_zips = models.JSONField(default=list, blank=True, validators=[validate_zip_list])
    service_zip_prefixes = models.JSONField(default=list, blank=True, validators=[validate_zip_prefix_list])
    service_radius_miles = models.PositiveIntegerField(null=True, blank=True)

    description = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner__display_name", "name"]
        verbose_name_plural = "facilities"
        indexes = [models.Index(fields=["state", "is_active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.city}, {self.state})"

    def clean(self) -> None:
        if not (self.service_states or self.service_zips or self.service_zip_prefixes or self.service_radius_miles):
            raise ValidationError("Give a service area: states, ZIP codes, ZIP prefixes or a radius.")


class OpeningHours(models.Model):
    """One opening span on one weekday, in the facility's own time zone.

    ``closes`` earlier than ``opens`` means the span runs past midnight.
    """

    WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"),
                (5, "Saturday"), (6, "Sunday")]  # fmt: skip

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.opens == self.closes:
            raise ValidationError("Opening and closing times are the same; mark the facility 24/7 instead.")


class ClosedDate(models.Model):
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField()
    note = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["facility", "date"], name="unique_facility_closed_date")]

    def __str__(self) -> str:
        return f"{self.facility} closed {self.date}"


class PartnerMembership(models.Model):
    """A login of a partner's own staff: sees that partner's data only."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_membership")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner}"


def caps_time_zone_expression() -> Coalesce:
    """``Partner.caps_time_zone()`` as an expression on a Partner queryset (one correlated subquery)."""
    first = Facility.objects.filter(partner=OuterRef("pk")).order_by("id").values("time_zone")[:1]
    return Coalesce(
        NullIf("time_zone", Value("")), Subquery(first), Value(DEFAULT_TIME_ZONE), output_field=models.CharField()
    )
