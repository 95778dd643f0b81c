"""Stored routing decisions: why each caller went where they went."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class LocationSource(models.TextChoices):
    ZIP = "zip", "ZIP given by the caller"
    TWILIO = "twilio", "Twilio FromZip / FromState"
    AREA_CODE = "area_code", "Caller-ID area code"
    UNKNOWN = "unknown", "Unknown"


class RoutingDecision(models.Model):
    """One run of the routing engine, as it was, for staff to read later.

    ``chosen`` is the ordered failover list, ``excluded`` every facility left
    out with its reason; both are plain JSON so the record never changes when
    the directory does.
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
    listing_facility_id = models.BigIntegerField(null=True, blank=True)
    considered_count = models.PositiveIntegerField(default=0)
    chosen = models.JSONField(default=list)
    excluded = models.JSONField(default=list)
    fallback = models.CharField(max_length=200, blank=True)
    elapsed_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        first = self.chosen[0]["partner_name"] if self.chosen else "fallback"
        return f"{self.get_kind_display()} decision {self.pk} → {first}"
