"""Stored routing decisions: why each caller went where they went."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class LocationSource(models.TextChoices):
    ZIP = "zip", "ZIP given by the caller"
    TWILIO = "twilio", "Twilio FromZip / FromState"
    AREA_CODE = "area_code", "Caller-ID area code"
    UNKNOWN = "unknown", "Unknown"


class LocationPrecision(models.TextChoices):
    """How precisely a location places the caller (``engine.Location.precision``).

    ZIP and state matter differently: a state matches only state-wide service
    areas, so a state-level caller may be asked for a ZIP (``routing.zip_question``).
    """

    ZIP = "zip", "ZIP code"
    STATE = "state", "State only"
    NONE = "none", "Unknown"


class RoutingDecision(models.Model):
    """One run of the routing engine, as it was, for staff to read later.

    ``chosen`` is the ordered failover list; ``excluded`` the facilities left
    out with their reasons, at most ``routing.services.EXCLUDED_KEPT`` of them
    (those the engine examined, partner-side reasons first), and
    ``excluded_summary`` the count per reason of everything left out, so the
    row stays small whatever the directory size. Plain JSON, so the record
    never changes when the directory does.
    """

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        ADMISSION = "admission", "Admission request"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    service = models.CharField(max_length=20, blank=True)
    language = models.CharField(max_length=5, blank=True)
    zip_code = models.CharField(max_length=5, blank=True)
    state = models.CharField(max_length=2, blank=True)
    location_source = models.CharField(max_length=10, choices=LocationSource.choices, default=LocationSource.UNKNOWN)
    location_precision = models.CharField(
        max_length=5, choices=LocationPrecision.choices, default=LocationPrecision.NONE
    )
    listing_facility_id = models.BigIntegerField(null=True, blank=True)
    considered_count = models.PositiveIntegerField(default=0)
    chosen = models.JSONField(default=list)
    excluded = models.JSONField(default=list)
    # Counts per reason for everything left out, including the facilities not listed one by one
    # in ``excluded`` (bounded) or never examined: [{"reason": "does not offer detox", "count": 142}, ...].
    excluded_summary = models.JSONField(default=list, blank=True)
    fallback = models.CharField(max_length=200, blank=True)
    elapsed_ms = models.FloatField(default=0)
    # What the engine noted (listing unavailable, language narrowed, location unknown, ...).
    notes = models.JSONField(default=list, blank=True)
    location_label = models.CharField(max_length=80, blank=True)  # "Austin, TX": an area, never a number
    location_problem = models.CharField(max_length=120, blank=True)  # e.g. "unknown ZIP 00000"
    # The caller ID's approximate place ("Chicago, IL"): a hint for staff, never used to route.
    location_hint = models.CharField(max_length=80, blank=True)
    rotation_key = models.BigIntegerField(default=0)
    directory_version = models.BigIntegerField(default=0)
    # Not stored: the live partner state ``route`` read for this decision, (status, licence date,
    # daily, monthly, concurrent caps, budget, caps zone) by partner id, so that the claim made in the
    # same request needs no second read (``routing.services.partner_caps``). None once re-read.
    live_caps: dict[int, tuple] | None = None

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        first = self.chosen[0]["partner_name"] if self.chosen else "fallback"
        return f"{self.get_kind_display()} decision {self.pk} → {first}"


class PartnerCounter(models.Model):
    """Live call counters of one partner, checked and claimed in one conditional UPDATE.

    One row per partner so that a claim is a single-row compare-and-set: the
    row lock makes two workers at the same instant serialise, and the second
    re-checks the caps against the first one's result. ``day``/``month`` are
    the day and first day of the month the counts belong to, on the partner's
    own calendar (its caps time zone); a claim in a newer period rolls them
    over in the same UPDATE, and they never move back. Spend is in US cents
    and follows the billing ledger (``routing.services.record_billed``).
    """

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.CASCADE, primary_key=True, related_name="routing_counter"
    )
    active_calls = models.PositiveIntegerField(default=0)
    day = models.DateField(help_text="The partner's local day the daily count is for.")
    calls_today = models.PositiveIntegerField(default=0)
    month = models.DateField(help_text="First day of the partner's local month the monthly figures count.")
    calls_this_month = models.PositiveIntegerField(default=0)
    spend_this_month_cents = models.BigIntegerField(default=0)  # US cents, charges minus credits
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"counters of partner {self.partner_id}"


class RotationCounter(models.Model):
    """How many decisions were made today in one scope (state and service).

    Its value is the ``rotation_key`` of the next decision in that scope, so
    consecutive callers from the same area walk the weighted rotation in order.
    """

    day = models.DateField()
    scope = models.CharField(max_length=40)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "scope"], name="unique_rotation_day_scope")]

    def __str__(self) -> str:
        return f"{self.day} {self.scope}: {self.value}"


class DirectoryVersion(models.Model):
    """A single row whose ``version`` changes on any directory edit.

    Each process keeps a compiled, area-indexed copy of the directory and
    rebuilds it when (version, token) moves (see ``routing.selectors``).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)
    # A fresh random value on every bump. A rolled-back transaction can hand the same
    # ``version`` number out twice (the sequence of bumps restarts from the committed
    # value) with a different directory behind it; (version, token) never repeats.
    token = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"directory version {self.version}"
