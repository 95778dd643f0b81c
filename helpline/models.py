"""What callers touch: helpline numbers, calls, admission requests, the disclosure.

Anything that identifies a caller (number, name) is stored encrypted, with a
keyed hash beside it for lookups (see ``helpline.privacy``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_noop
from encrypted_fields.fields import EncryptedCharField
from phonenumber_field.modelfields import PhoneNumberField

from helpline.phones import phone_display
from helpline.privacy import EncryptedNoteField
from routing.models import LocationPrecision, LocationSource, RoutingDecision
from routing.vocabulary import LANGUAGE_CHOICES, SERVICE_CHOICES


class SourceKind(models.TextChoices):
    """What brought a call or a request: a substance guide, a named campaign, or nothing we know of."""

    DIRECT = "", "Direct"
    GUIDE = "guide", "Guide"
    CAMPAIGN = "campaign", "Campaign"


# A guide's slug or a campaign's name (as it arrives in utm_campaign, lower-cased).
SOURCE_KEY_MAX_LENGTH = 80
PAGE_MAX_LENGTH = 300  # a page's path (or a partner page's URL, without query string)
UTM_MAX_LENGTH = 100


class HelplineNumber(models.Model):
    """A number callers can dial: general, printed on one facility's listing, or tracking one source.

    A tracking number is shown on its source's pages (a guide) or to visitors of its
    campaign; its calls go through the same menu and routing as the general number and
    are recorded with the source, which is how staff see which page brought the call.
    """

    class Kind(models.TextChoices):
        GENERAL = "general", "General helpline"
        LISTING = "listing", "Facility listing"
        TRACKING = "tracking", "Tracking (a guide or a campaign)"

    number = PhoneNumberField(unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.GENERAL)
    facility = models.ForeignKey(
        "partners.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="listing_numbers"
    )
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.DIRECT, blank=True)
    source_key = models.CharField(
        max_length=SOURCE_KEY_MAX_LENGTH,
        blank=True,
        help_text="Tracking numbers: the guide's slug (both languages share it) or the campaign's utm_campaign name.",
    )
    label = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    is_primary = models.BooleanField(default=False, help_text="Shown on the public site as the helpline number.")

    class Meta:
        ordering = ["kind", "number"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="general", facility__isnull=True, source_kind="")
                    | models.Q(kind="listing", facility__isnull=False, source_kind="")
                    | (
                        models.Q(kind="tracking", facility__isnull=True, source_kind__in=["guide", "campaign"])
                        & ~models.Q(source_key="")
                    )
                ),
                name="helplinenumber_kind_matches_facility_and_source",
            ),
            models.UniqueConstraint(
                fields=["source_kind", "source_key"],
                condition=models.Q(kind="tracking", is_active=True),
                name="helplinenumber_one_active_number_per_source",
            ),
        ]

    def __str__(self) -> str:
        number = phone_display(self.number)  # 1-888-555-0100, as everywhere people read a number
        if self.kind == self.Kind.TRACKING:
            return f"{number} (tracking {self.source_kind}: {self.source_key})"
        return f"{number} ({self.get_kind_display()})"


class DisclosureVersion(models.Model):
    """One version of the "Where do calls go?" wording. The newest is shown.

    Versions are appended, never edited, so the history says who said what when.
    The list of paying partners is never stored here: it is read live. ``spoken`` and
    ``spoken_es`` are the words of the phone greeting (``helpline.voice.disclosure``).
    """

    # The defaults are marked with gettext_noop: shown in Spanish on /es/ while staff have not edited them.
    intro = models.TextField(
        default=gettext_noop(
            "Calls to our general helpline number are answered or returned by one of the treatment "
            "providers listed below. Each of them is a paid advertiser."
        )
    )
    listing_calls = models.TextField(
        default=gettext_noop("Calls to a number shown on a specific facility's listing go to that facility.")
    )
    # The amounts are never typed here: the site adds today's range, read live from the partners' prices.
    fees = models.TextField(
        default=gettext_noop(
            "Each provider pays us a flat fee per call, set in advance. A provider never pays more because "
            "a caller chooses them or enters treatment, and providers are never ordered by what they pay."
        )
    )
    no_obligation = models.TextField(default=gettext_noop("You are under no obligation to enter treatment."))
    free_confidential = models.TextField(default=gettext_noop("The helpline is free, confidential and available 24/7."))
    not_affiliated = models.TextField(
        default=gettext_noop("This service is not affiliated with Alcoholics Anonymous World Services, Inc.")
    )
    # What every caller hears before any partner rings (the greeting), in each language we speak.
    # Short on purpose: each word costs a caller 0.4 s (README "Time to a human"). Blank: the words
    # of ``helpline.voice.prompts`` ("disclosure"), which the admin offers as the starting text.
    spoken = models.TextField(blank=True, default="")
    spoken_es = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Disclosure v{self.pk} ({self.created_at:%Y-%m-%d})"


class Call(models.Model):
    """One inbound call, keyed by Twilio's CallSid."""

    class Status(models.TextChoices):
        IVR = "ivr", "In menu"
        DIALING = "dialing", "Dialing partner"
        CONNECTED = "connected", "Connected"
        FALLBACK = "fallback", "Sent to fallback line"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Caller hung up"
        CRISIS = "crisis", "Sent to crisis line"

    call_sid = models.CharField(max_length=64, unique=True)
    helpline_number = models.ForeignKey(HelplineNumber, null=True, blank=True, on_delete=models.SET_NULL)
    to_number = models.CharField(max_length=20, blank=True)
    # null=True: the encryption library stores "" as NULL (anonymous callers, purged rows).
    caller_number = EncryptedCharField(max_length=40, blank=True, null=True)
    caller_hash = models.CharField(max_length=64, blank=True, db_index=True)
    caller_area = models.CharField(max_length=80, blank=True, help_text="City/state or area code only.")
    language = models.CharField(max_length=5, choices=LANGUAGE_CHOICES, default="en")
    service = models.CharField(max_length=20, blank=True, help_text="Service code or 'unsure'.")
    zip_code = models.CharField(max_length=5, blank=True)
    state = models.CharField(max_length=2, blank=True)
    location_source = models.CharField(max_length=10, choices=LocationSource.choices, default=LocationSource.UNKNOWN)
    location_precision = models.CharField(
        max_length=5, choices=LocationPrecision.choices, default=LocationPrecision.NONE
    )
    # The caller ID's approximate place ("Chicago, IL"): a hint for staff, never used to route.
    location_hint = models.CharField(max_length=80, blank=True)
    zip_attempts = models.PositiveSmallIntegerField(default=0)
    # When the caller was asked for a ZIP: set once, so no call is ever asked twice (failover included).
    zip_asked_at = models.DateTimeField(null=True, blank=True)
    listing_facility = models.ForeignKey(
        "partners.Facility", null=True, blank=True, on_delete=models.SET_NULL, related_name="listing_calls"
    )
    # Copied from the tracking number dialed when the call is recorded: a number later moved to another
    # source does not rewrite which page brought the calls it already took.
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.DIRECT, blank=True)
    source_key = models.CharField(max_length=SOURCE_KEY_MAX_LENGTH, blank=True)
    routing_decision = models.ForeignKey(RoutingDecision, null=True, blank=True, on_delete=models.SET_NULL)
    # A listing call the listing facility did not answer is routed a second time, to the general pool.
    pool_decision = models.ForeignKey(
        RoutingDecision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A call whose plan ran out while it still had attempts and time left is routed once more, without
    # the partners it tried (a burst fills the first tier's caps within seconds; lower tiers may be free).
    replan_decision = models.ForeignKey(
        RoutingDecision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The ordered failover list (facility/partner ids, names, phone, reason) and how far we got in it,
    # kept on the call so every failover reuses one routing run and one resolved location.
    failover_plan = models.JSONField(default=list, blank=True)
    next_choice = models.PositiveSmallIntegerField(default=0)
    outcome_reason = models.CharField(max_length=200, blank=True, help_text="Why the call ended where it did.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IVR, db_index=True)
    twilio_status = models.CharField(max_length=20, blank=True)
    connected_partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    connected_facility = models.ForeignKey(
        "partners.Facility", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    talk_seconds = models.PositiveIntegerField(default=0)
    duration_seconds = models.PositiveIntegerField(default=0)
    needs_followup = models.BooleanField(default=False, db_index=True)
    followup_note = EncryptedNoteField(blank=True, max_length=2000)  # free text about the caller
    is_test = models.BooleanField(default=False, help_text="Simulated or test call: never billed.")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    routing_started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["connected_partner", "-started_at"])]

    def __str__(self) -> str:
        return f"Call {self.call_sid}"

    # Not stored. What one webhook has in hand about this call (``helpline.calls.services``): its legs
    # as read with the locked row (or None: not read), and the changes and events staged for the
    # step's one write.
    @property
    def known_attempts(self) -> list[DialAttempt] | None:
        return self.__dict__.get("_known_attempts")

    @known_attempts.setter
    def known_attempts(self, value: list[DialAttempt] | None) -> None:
        self.__dict__["_known_attempts"] = value

    @property
    def staged_fields(self) -> set[str]:
        return self.__dict__.setdefault("_staged_fields", set())  # type: ignore[no-any-return]

    @staged_fields.setter
    def staged_fields(self, value: set[str]) -> None:
        self.__dict__["_staged_fields"] = value

    @property
    def staged_events(self) -> list[dict[str, Any]]:
        return self.__dict__.setdefault("_staged_events", [])  # type: ignore[no-any-return]

    @staged_events.setter
    def staged_events(self, value: list[dict[str, Any]]) -> None:
        self.__dict__["_staged_events"] = value


class DialAttempt(models.Model):
    """One leg dialed to a partner facility during a call or a callback."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Ringing"
        ACCEPTED = "accepted", "Accepted (pressed 1)"
        COMPLETED = "completed", "Completed"
        BUSY = "busy", "Busy"
        NO_ANSWER = "no-answer", "No answer"
        FAILED = "failed", "Failed"
        NOT_ACCEPTED = "not-accepted", "Answered, not accepted"
        CANCELED = "canceled", "Caller hung up"

    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.CASCADE, related_name="attempts")
    admission_request = models.ForeignKey(
        "AdmissionRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="attempts"
    )
    sequence = models.PositiveSmallIntegerField()
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="dial_attempts")
    facility = models.ForeignKey("partners.Facility", on_delete=models.PROTECT, related_name="dial_attempts")
    dial_call_sid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    outcome = models.CharField(max_length=14, choices=Outcome.choices, default=Outcome.PENDING)
    accepted = models.BooleanField(default=False)
    talk_seconds = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(fields=["call", "sequence"], name="unique_call_attempt_sequence"),
            models.UniqueConstraint(fields=["admission_request", "sequence"], name="unique_request_attempt_sequence"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.sequence} → {self.facility}: {self.outcome}"


class CallEvent(models.Model):
    """A webhook Twilio sent about a call, stored once (keyed by SID and status)."""

    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    sid = models.CharField(max_length=64)
    kind = models.CharField(max_length=30)
    status = models.CharField(max_length=30, blank=True)
    sequence_number = models.IntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Non-identifying fields only.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [models.UniqueConstraint(fields=["sid", "kind", "status"], name="unique_call_event")]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} ({self.sid})"


class AdmissionRequest(models.Model):
    """A "please call me back" request from the web or a partner-embedded form."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        ROUTED = "routed", "Routed"
        NOTIFIED = "notified", "Partner notified"
        CALLBACK_ATTEMPTED = "callback_attempted", "Callback attempted"
        CONNECTED = "connected", "Connected"
        UNREACHABLE = "unreachable", "Unreachable"
        WITHDRAWN = "withdrawn", "Withdrawn"
        CLOSED = "closed", "Closed by staff"
        UNROUTED = "unrouted", "Nobody eligible"
        HELD = "held", "Held for staff approval"  # the new-number breaker (helpline.admission.policy)

    class ForWhom(models.TextChoices):
        MYSELF = "myself", "Myself"
        SOMEONE_ELSE = "someone_else", "Someone else"

    class Payment(models.TextChoices):
        PRIVATE = "private", "Private insurance"
        MEDICAID = "medicaid", "Medicaid"
        MEDICARE = "medicare", "Medicare"
        SELF_PAY = "self_pay", "Self-pay"
        NONE = "none", "None"
        UNSPECIFIED = "", "Prefer not to say"

    class When(models.TextChoices):
        NOW = "now", "As soon as possible"
        WINDOW = "window", "In a time window"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(max_length=10, default="web", choices=[("web", "Web form"), ("api", "API")])
    for_whom = models.CharField(max_length=14, choices=ForWhom.choices)
    # null=True: the encryption library stores "" as NULL, which the retention purge writes.
    first_name = EncryptedCharField(max_length=60, null=True)
    phone = EncryptedCharField(max_length=40, null=True)
    phone_hash = models.CharField(max_length=64, db_index=True)
    zip_code = models.CharField(max_length=5)
    state = models.CharField(max_length=2, blank=True)
    service = models.CharField(max_length=20, choices=[*SERVICE_CHOICES, ("unsure", "Not sure")])
    substances = models.JSONField(default=list, blank=True)
    payment = models.CharField(max_length=10, choices=Payment.choices, blank=True)
    language = models.CharField(max_length=5, choices=LANGUAGE_CHOICES, default="en")
    callback_when = models.CharField(max_length=6, choices=When.choices, default=When.NOW)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    caller_timezone = models.CharField(max_length=64, blank=True)
    allow_voicemail = models.BooleanField(default=False)
    allow_text = models.BooleanField(default=False)
    consent_text = models.TextField()
    consent_version = models.CharField(max_length=20)
    consented_at = models.DateTimeField()

    # Where the visit came from (``helpline.attribution``): the page the request was sent from, the
    # visit's first page and its UTM values. ``source`` above is the channel (form or API), not this.
    page = models.CharField(max_length=PAGE_MAX_LENGTH, blank=True, help_text="Page the request was sent from.")
    landing_page = models.CharField(max_length=PAGE_MAX_LENGTH, blank=True, help_text="First page of the visit.")
    utm_source = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    utm_medium = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    utm_campaign = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.DIRECT, blank=True)
    source_key = models.CharField(max_length=SOURCE_KEY_MAX_LENGTH, blank=True)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    routing_decision = models.ForeignKey(RoutingDecision, null=True, blank=True, on_delete=models.SET_NULL)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="admission_requests"
    )
    facility = models.ForeignKey(
        "partners.Facility", null=True, blank=True, on_delete=models.SET_NULL, related_name="admission_requests"
    )
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    # Which entry of routing_decision.chosen the callback is on (failover moves it on).
    callback_choice_index = models.PositiveSmallIntegerField(default=0)
    # Set before the partner is told (compare-and-set), so a task run twice sends once.
    notify_email_sent_at = models.DateTimeField(null=True, blank=True)
    notify_sms_sent_at = models.DateTimeField(null=True, blank=True)
    # Last callback round after which the caller was texted "we tried to reach you".
    caller_texted_round = models.PositiveSmallIntegerField(default=0)
    next_action_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="Set while a task works on it.")
    notified_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    needs_attention = models.BooleanField(default=False, db_index=True)
    staff_note = EncryptedNoteField(blank=True, max_length=2000)  # free text about the caller
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Request {str(self.public_id)[:8]} ({self.get_status_display()})"


class AdmissionStatusChange(models.Model):
    request = models.ForeignKey(AdmissionRequest, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    note = EncryptedNoteField(max_length=500, blank=True)  # staff free text
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"


class ContactBlock(models.Model):
    """A phone (by keyed hash) that withdrew consent: never contacted again."""

    phone_hash = models.CharField(max_length=64, unique=True)
    source = models.CharField(max_length=20, help_text="sms-stop, link, staff")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Blocked {self.phone_hash[:10]}… ({self.source})"


class AuditEvent(models.Model):
    """Who viewed or changed caller data. Never holds the plaintext of encrypted fields."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CHANGE = "change", "Changed"
        EXPORT = "export", "Exported"
        DELETE = "delete", "Deleted"
        PURGE = "purge", "Purged"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=150, blank=True, help_text="Username at the time, or 'system'.")
    where = models.CharField(max_length=20, help_text="admin, portal, api, task")
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    fields = models.JSONField(default=list, blank=True, help_text="Names of fields changed, never values.")
    ip_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type}#{self.object_id}"
