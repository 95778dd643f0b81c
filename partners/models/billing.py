"""Billing records: per-leg decisions, the append-only ledger, invoices, disputes, webhooks, change log.

Money is integer US cents (``*_cents``); a credit is a negative amount. All
times are UTC. Imported at the bottom of ``partners.models`` so Django sees
these models as part of the ``partners`` app.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class LedgerImmutableError(Exception):
    """Raised when code tries to edit or delete a ledger row: corrections are new rows."""


PRICE_HISTORY_START = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class PriceChange(models.Model):
    """The partner's per-call price from ``effective_from`` on.

    Kept so a call billed late (a delayed status callback, a sweep) is charged
    the price in force when the call happened, not today's.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="price_changes")
    price_cents = models.PositiveIntegerField(help_text="US cents per billable call.")
    effective_from = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["partner", "-effective_from", "-id"]
        indexes = [models.Index(fields=["partner", "-effective_from"], name="pricechange_partner_from")]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.price_cents}¢ from {self.effective_from:%Y-%m-%d %H:%M}"


class BillingDecision(models.Model):
    """One dialed leg to a partner and whether it is billable, with the reason.

    One row per ``DialAttempt`` (a unique constraint), written once the leg is
    over. It doubles as the partner's call log: the portal, API and dashboard
    read this table through its own indexes instead of scanning calls.
    """

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        CALLBACK = "callback", "Callback"

    class Reason(models.TextChoices):
        BILLABLE = "billable", "Billable"
        NOT_ACCEPTED = "not_accepted", "Not accepted (no one pressed 1)"
        TOO_SHORT = "too_short", "Too short"
        REPEAT_CALLER = "repeat_caller", "Repeat caller within window"
        TEST = "test", "Test or simulated call"

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="billing_decisions")
    facility = models.ForeignKey(
        "partners.Facility", null=True, blank=True, on_delete=models.SET_NULL, related_name="billing_decisions"
    )
    dial_attempt = models.OneToOneField(
        "helpline.DialAttempt", on_delete=models.PROTECT, related_name="billing_decision"
    )
    call = models.ForeignKey(
        "helpline.Call", null=True, blank=True, on_delete=models.PROTECT, related_name="billing_decisions"
    )
    admission_request = models.ForeignKey(
        "helpline.AdmissionRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="billing_decisions",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    occurred_at = models.DateTimeField(help_text="When the leg started (UTC).")
    service = models.CharField(max_length=20, blank=True)
    caller_area = models.CharField(max_length=80, blank=True)
    caller_hash = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=14, blank=True)
    accepted = models.BooleanField(default=False)
    talk_seconds = models.PositiveIntegerField(default=0)
    billable = models.BooleanField(default=False)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    price_cents = models.PositiveIntegerField(default=0, help_text="Price in force at occurred_at, US cents.")
    min_billable_seconds = models.PositiveIntegerField(default=0, help_text="Partner's rule when decided.")
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "-occurred_at", "-id"], name="decision_partner_time"),
            models.Index(fields=["partner", "caller_hash", "occurred_at"], name="decision_partner_caller"),
            models.Index(fields=["occurred_at"], name="decision_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} leg {self.dial_attempt_id}: {self.get_reason_display()}"


class PartnerDailyStats(models.Model):
    """Per partner and UTC day: legs offered, accepted, billable and talk time.

    Incremented in the same transaction that writes each ``BillingDecision``
    (exactly once per leg, under the partner lock), so the dashboard reads at
    most 31 small rows instead of aggregating a million decisions.
    ``partners.billing.rule.rebuild_daily_stats`` recomputes it from the decisions.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    offered = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    billable = models.PositiveIntegerField(default=0)
    talk_seconds = models.PositiveBigIntegerField(default=0, help_text="Sum over accepted legs.")

    class Meta:
        ordering = ["partner", "day"]
        verbose_name_plural = "partner daily stats"
        constraints = [models.UniqueConstraint(fields=["partner", "day"], name="dailystats_one_per_partner_day")]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.day}: {self.offered} offered"


class LedgerEntry(models.Model):
    """One charge or adjustment. Appended, never edited or deleted.

    A charge is tied to exactly one dialed leg (unique constraints on both the
    leg and the call), which is what makes billing exactly-once whatever
    Twilio re-sends. An adjustment carries a reason and the staff member.
    """

    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        ADJUSTMENT = "adjustment", "Adjustment"

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount_cents = models.IntegerField(help_text="US cents; negative is a credit.")
    occurred_at = models.DateTimeField(help_text="When the call happened (charge) or the adjustment was made.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decision = models.OneToOneField(
        BillingDecision, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entry"
    )
    dial_attempt = models.ForeignKey(
        "helpline.DialAttempt", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    call = models.ForeignKey(
        "helpline.Call", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    description = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, blank=True, help_text="Why an adjustment was made.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["dial_attempt"], condition=Q(kind="charge"), name="ledger_one_charge_per_leg"
            ),
            models.UniqueConstraint(fields=["call"], condition=Q(kind="charge"), name="ledger_one_charge_per_call"),
            models.CheckConstraint(
                condition=Q(kind="adjustment") | Q(dial_attempt__isnull=False, amount_cents__gt=0),
                name="ledger_charge_has_leg_and_is_positive",
            ),
            models.CheckConstraint(condition=Q(kind="charge") | ~Q(reason=""), name="ledger_adjustment_has_reason"),
        ]
        indexes = [models.Index(fields=["partner", "occurred_at"], name="ledger_partner_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_cents}¢ ({self.partner_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise LedgerImmutableError("Ledger entries are never edited; add an adjustment instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise LedgerImmutableError("Ledger entries are never deleted; add an adjustment instead.")


class Invoice(models.Model):
    """A partner's bill for one calendar month (UTC). Unique per partner and month, so reruns are safe."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="invoices")
    month = models.DateField(help_text="First day of the billed month.")
    number = models.CharField(max_length=40, unique=True)
    total_cents = models.IntegerField(default=0)
    charge_count = models.PositiveIntegerField(default=0)
    generated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "partner_id"]
        constraints = [models.UniqueConstraint(fields=["partner", "month"], name="invoice_one_per_partner_month")]

    def __str__(self) -> str:
        return f"Invoice {self.number}"


class InvoiceLine(models.Model):
    """A ledger entry on an invoice. An entry sits on at most one invoice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    ledger_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="invoice_line")
    occurred_at = models.DateTimeField()
    description = models.CharField(max_length=200)
    amount_cents = models.IntegerField()

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount_cents}¢"


class Dispute(models.Model):
    """A partner contesting a charge; staff approve (a credit adjustment) or reject with a note."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved (credited)"
        REJECTED = "rejected", "Rejected"

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="disputes")
    charge = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True, max_length=2000)
    credit = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="dispute_credit"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One live dispute per charge; a rejected one may be followed by another.
            models.UniqueConstraint(fields=["charge"], condition=Q(status="open"), name="dispute_one_open_per_charge"),
            models.UniqueConstraint(
                fields=["charge"], condition=Q(status="approved"), name="dispute_one_approval_per_charge"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.pk} on entry {self.charge_id} ({self.status})"


class WebhookEvent(models.Model):
    """One event to deliver to a partner's webhook URL; retried until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="webhook_events")
    event = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="Set while a worker is sending it.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["partner", "-created_at"], name="webhookevent_partner_time")]

    def __str__(self) -> str:
        return f"{self.event} → partner {self.partner_id} ({self.status})"


class WebhookDelivery(models.Model):
    """One HTTP attempt at delivering a ``WebhookEvent``: the log the partner sees."""

    webhook_event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="webhook_deliveries")
    attempt = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    url = models.URLField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["partner", "-at"], name="webhookdelivery_partner_time")]
        constraints = [
            models.UniqueConstraint(fields=["webhook_event", "attempt"], name="webhookdelivery_one_per_attempt")
        ]

    def __str__(self) -> str:
        return f"Delivery {self.attempt} of {self.webhook_event_id}: {self.status_code or self.error}"


class PartnerChangeLog(models.Model):
    """Who changed a partner's own settings from the portal (pause, hours, …), when and what."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="change_log")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40)
    detail = models.JSONField(default=dict, blank=True, help_text="Before/after of non-caller fields.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["partner", "-at"], name="changelog_partner_time")]

    def __str__(self) -> str:
        return f"{self.by_label} {self.action} @ {self.at:%Y-%m-%d %H:%M}"


__all__ = [
    "BillingDecision",
    "Dispute",
    "Invoice",
    "InvoiceLine",
    "LedgerEntry",
    "LedgerImmutableError",
    "PartnerChangeLog",
    "PartnerDailyStats",
    "PriceChange",
    "WebhookDelivery",
    "WebhookEvent",
]


# --- price history -----------------------------------------------------------
# The Partner admin (not billing's) edits ``price_per_call_cents`` in place; the
# history is captured here so late-billed calls get the price of their moment.


def _stash_old_price(sender: type, instance: Any, **kwargs: Any) -> None:
    instance._billing_old_price = None
    if instance.pk is None or kwargs.get("raw"):
        return
    old = sender.objects.filter(pk=instance.pk).values_list("price_per_call_cents", "created_at").first()  # type: ignore[attr-defined]
    if old is not None and old[0] != instance.price_per_call_cents:
        instance._billing_old_price = old


def _record_price_change(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    old = getattr(instance, "_billing_old_price", None)
    if old is None:
        return
    old_price, _created_at = old
    if not PriceChange.objects.filter(partner=instance).exists():
        # The first known price covers all of the past (calls may predate the partner row in imports).
        PriceChange.objects.create(partner=instance, price_cents=old_price, effective_from=PRICE_HISTORY_START)
    PriceChange.objects.create(
        partner=instance, price_cents=instance.price_per_call_cents, effective_from=timezone.now()
    )
    instance._billing_old_price = None


def connect_price_history() -> None:
    from django.db.models.signals import post_save, pre_save

    from partners.models.directory import Partner

    pre_save.connect(_stash_old_price, sender=Partner, dispatch_uid="billing_stash_old_price")
    post_save.connect(_record_price_change, sender=Partner, dispatch_uid="billing_record_price_change")


connect_price_history()
