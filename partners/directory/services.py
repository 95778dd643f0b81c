"""Writes of the partners app outside the call path: adjustments, disputes, self-service changes.

Each service is one transaction that writes its own log row; side effects
(budget counters, webhooks) run on commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpline.calls.services import UNANSWERED_OUTCOMES
from helpline.models import DialAttempt
from partners.directory.validation import validate_opening_spans
from partners.models import Dispute, Facility, LedgerEntry, OpeningHours, Partner, PartnerChangeLog
from routing import services as routing_services

logger = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser


def _label(user: Any) -> str:
    return user.get_username() if user is not None and user.is_authenticated else "system"


def _record_billed_on_commit(entry: LedgerEntry) -> None:
    def _go() -> None:
        try:
            routing_services.record_billed(
                partner_id=entry.partner_id, amount_cents=entry.amount_cents, at=entry.occurred_at
            )
        except Exception:  # noqa: BLE001 - the ledger row is the truth; the counter is a cache
            logger.exception("record_billed failed for adjustment %s", entry.pk)

    transaction.on_commit(_go)


def ledger_adjust(
    *,
    partner: Partner,
    amount_cents: int,
    reason: str,
    by: Any,
    corrects: LedgerEntry | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Append an adjustment (negative = credit). Entries are never edited, so this is how to correct one."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for the adjustment.")
    if amount_cents == 0:
        raise ValidationError("An adjustment of 0 cents changes nothing.")
    if corrects is not None and corrects.partner_id != partner.pk:
        raise ValidationError("The corrected entry belongs to another partner.")
    if by is None or not getattr(by, "is_staff", False):
        raise PermissionDenied("Only staff make adjustments.")
    with transaction.atomic():
        entry = LedgerEntry.objects.create(
            partner=partner,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            amount_cents=amount_cents,
            occurred_at=at or timezone.now(),
            reason=reason[:500],
            description=f"Adjustment: {reason[:180]}",
            created_by=by,
            corrects=corrects,
        )
        _record_billed_on_commit(entry)
    return entry


def dispute_open(*, partner: Partner, charge_id: int, reason: str, by: Any) -> Dispute:
    """A partner contests one of its own charges. One open dispute per charge."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why you dispute this call.")
    if len(reason) > 2000:
        raise ValidationError("Keep the reason under 2000 characters.")
    charge = LedgerEntry.objects.filter(pk=charge_id, partner=partner, kind=LedgerEntry.Kind.CHARGE).first()
    if charge is None:
        raise ValidationError("No such charge.")
    if Dispute.objects.filter(charge=charge, status=Dispute.Status.APPROVED).exists():
        raise ValidationError("This charge was already credited.")
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(partner=partner, charge=charge, reason=reason, opened_by=by)
            PartnerChangeLog.objects.create(
                partner=partner, by=by, by_label=_label(by), action="dispute_opened", detail={"charge": charge.pk}
            )
    except IntegrityError as exc:
        raise ValidationError("This charge already has an open dispute.") from exc
    return dispute


def _claim_open_dispute(dispute_id: int, status: str, by: Any, note: str) -> Dispute:
    """Compare-and-set: only one staff decision wins for an open dispute."""
    changed = Dispute.objects.filter(pk=dispute_id, status=Dispute.Status.OPEN).update(
        status=status, resolved_by=by, resolved_at=timezone.now(), resolution_note=note
    )
    if changed != 1:
        raise ValidationError("This dispute is no longer open.")
    return Dispute.objects.select_related("charge", "partner").get(pk=dispute_id)


def dispute_approve(*, dispute_id: int, by: Any, note: str = "") -> Dispute:
    """Staff approve: a credit adjustment equal to the charge, linked to the dispute."""
    if by is None or not getattr(by, "is_staff", False):
        raise PermissionDenied("Only staff resolve disputes.")
    with transaction.atomic():
        dispute = _claim_open_dispute(dispute_id, Dispute.Status.APPROVED, by, (note or "").strip())
        credit = ledger_adjust(
            partner=dispute.partner,
            amount_cents=-dispute.charge.amount_cents,
            reason=f"Dispute {dispute.pk} approved"
            + (f": {dispute.resolution_note}" if dispute.resolution_note else ""),
            by=by,
            corrects=dispute.charge,
        )
        dispute.credit = credit
        dispute.save(update_fields=["credit"])
    return dispute


def dispute_reject(*, dispute_id: int, by: Any, note: str) -> Dispute:
    """Staff reject with a note the partner sees."""
    if by is None or not getattr(by, "is_staff", False):
        raise PermissionDenied("Only staff resolve disputes.")
    note = (note or "").strip()
    if not note:
        raise ValidationError("Tell the partner why the dispute is rejected.")
    with transaction.atomic():
        return _claim_open_dispute(dispute_id, Dispute.Status.REJECTED, by, note)


def partner_pause(*, partner: Partner, by: Any, reason: str = "") -> bool:
    """Stop routing to the partner now. Returns False if it was already paused."""
    reason = (reason or "").strip()[:200] or "Paused by the partner"
    with transaction.atomic():
        changed = Partner.objects.filter(pk=partner.pk, status=Partner.Status.ACTIVE).update(
            status=Partner.Status.PAUSED, paused_reason=reason, updated_at=timezone.now()
        )
        if changed:
            PartnerChangeLog.objects.create(
                partner=partner,
                by=by,
                by_label=_label(by),
                action="paused",
                detail={"status": ["active", "paused"], "reason": reason},
            )
    partner.refresh_from_db(fields=["status", "paused_reason"])
    return bool(changed)


def partner_resume(*, partner: Partner, by: Any) -> bool:
    """Start routing again. Returns False if it was not paused."""
    with transaction.atomic():
        changed = Partner.objects.filter(pk=partner.pk, status=Partner.Status.PAUSED).update(
            status=Partner.Status.ACTIVE, paused_reason="", updated_at=timezone.now()
        )
        if changed:
            PartnerChangeLog.objects.create(
                partner=partner, by=by, by_label=_label(by), action="resumed", detail={"status": ["paused", "active"]}
            )
    partner.refresh_from_db(fields=["status", "paused_reason"])
    return bool(changed)


def _hours_snapshot(facility: Facility) -> dict[str, Any]:
    return {
        "open_24_7": facility.open_24_7,
        "hours": [
            [h.weekday, h.opens.strftime("%H:%M"), h.closes.strftime("%H:%M")]
            for h in facility.hours.order_by("weekday", "opens")
        ],
    }


def facility_hours_set(
    *, facility: Facility, by: Any, open_24_7: bool, spans: Sequence[tuple[int, dt.time, dt.time]]
) -> Facility:
    """Replace a facility's weekly hours; logs before/after for the partner and staff."""
    spans = sorted(spans)
    if not open_24_7 and not spans:
        raise ValidationError("Give at least one opening span, or mark the facility open 24/7.")
    for weekday, _opens, _closes in spans:
        if not 0 <= weekday <= 6:
            raise ValidationError(f"Weekday {weekday} is not 0 (Monday) to 6 (Sunday).")
    # The same check as the staff admin and the importer: it also sees an overnight span
    # (Sunday 22:00-06:00) running into the next day's first span, which a same-day check missed.
    validate_opening_spans(spans)
    with transaction.atomic():
        facility = Facility.objects.select_for_update().get(pk=facility.pk)
        before = _hours_snapshot(facility)
        facility.hours.all().delete()
        OpeningHours.objects.bulk_create(
            OpeningHours(facility=facility, weekday=w, opens=o, closes=c) for w, o, c in spans
        )
        facility.open_24_7 = open_24_7
        facility.save(update_fields=["open_24_7", "updated_at"])
        after = _hours_snapshot(facility)
        if before != after:
            PartnerChangeLog.objects.create(
                partner_id=facility.partner_id,
                by=by,
                by_label=_label(by),
                action="hours_changed",
                detail={"facility": facility.pk, "facility_name": facility.name, "before": before, "after": after},
            )
    return facility


# --- Automatic pause (issue 7): on the helpline's partner_leg_unanswered event ----------------------


AUTO_PAUSE_REASON_PREFIX = "auto-paused"  # staff lists find automatic pauses by it


def partner_check_auto_pause(*, partner_id: int, now: dt.datetime) -> bool:
    """Pause a partner whose legs keep going unanswered or failing, and tell staff.

    Every caller sent to such a number loses ring time before failover. The
    pause is a compare-and-set from ``active`` so staff are alerted once.
    """
    window = dt.timedelta(minutes=settings.AUTO_PAUSE_WINDOW_MINUTES)
    threshold = settings.AUTO_PAUSE_UNANSWERED_THRESHOLD
    recent = DialAttempt.objects.filter(
        partner_id=partner_id, outcome__in=UNANSWERED_OUTCOMES, ended_at__gte=now - window
    ).count()
    if recent < threshold:
        return False
    minutes = settings.AUTO_PAUSE_WINDOW_MINUTES
    reason = f"{AUTO_PAUSE_REASON_PREFIX}: {recent} unanswered or failed calls within {minutes} minutes"
    with transaction.atomic():
        paused = (
            Partner.objects.filter(pk=partner_id, status=Partner.Status.ACTIVE).update(
                status=Partner.Status.PAUSED, paused_reason=reason[:200], updated_at=now
            )
            == 1
        )
        if not paused:
            return False
        # Logged like a pause by staff or by the partner (``partner_pause``), by nobody in particular.
        PartnerChangeLog.objects.create(
            partner_id=partner_id,
            at=now,
            by=None,
            by_label="automatic",
            action="paused",
            detail={"status": ["active", "paused"], "reason": reason[:200]},
        )
    logger.warning("Partner %s paused automatically (%s)", partner_id, reason)
    recipients = list(settings.STAFF_ALERT_EMAILS)
    if recipients:
        name = Partner.objects.filter(pk=partner_id).values_list("display_name", flat=True).first() or partner_id

        def alert() -> None:
            try:
                send_mail(
                    subject=f"[{settings.HELPLINE_NAME}] Partner paused automatically: {name}",
                    message=(
                        f"{name} (partner #{partner_id}) stopped receiving calls at {now:%Y-%m-%d %H:%M} UTC.\n"
                        f"Reason: {reason}.\nCheck the number and opening hours, then set the partner "
                        "back to active in the staff admin."
                    ),
                    from_email=None,
                    recipient_list=recipients,
                )
            except Exception:  # noqa: BLE001 - an alert failure must not touch the call in progress
                logger.exception("Could not send the auto-pause alert for partner %s", partner_id)

        transaction.on_commit(alert, robust=True)
    return True
