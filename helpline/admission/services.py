"""Writes of admission requests: create, route, notify, call back, withdraw.

Life of a request (one ``AdmissionStatusChange`` row per change)::

    new -> routed -> notified -> callback_attempted -> connected
                                                   \\-> unreachable
    (unrouted when nobody is eligible; withdrawn at any time; closed by staff)

Rules every function here follows:

- The request is saved first, in its own transaction; everything after that
  (routing, the partner notification, the callback) can fail and is picked up
  again by ``helpline.admission.tasks.sweep_admission_requests``. Nothing is lost when
  Redis or Celery is down.
- Work is claimed with a compare-and-set update (``filter(...).update(...) != 1``
  means someone else has it), so a task delivered twice does the work once.
  Partner notifications are marked sent *before* sending (at most once; a
  crash in that second loses one notification, which the callback and the
  portal cover, rather than sending it twice).
- Before every contact with the person we check ``ContactBlock`` and the
  status: after STOP or the withdraw link nobody contacts them again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, Model, OuterRef, Q, QuerySet, Value, When
from django.db.models.sql import UpdateQuery
from django.urls import reverse
from django.utils import timezone

from helpline import events, twilio_rest
from helpline.admission import policy
from helpline.admission.forms import CONSENT_VERSION, WINDOW_SLOTS, consent_label
from helpline.attribution import Attribution
from helpline.models import AdmissionRequest, AdmissionStatusChange, ContactBlock, DialAttempt
from helpline.privacy import caller_hash
from helpline.public_urls import absolute_url
from routing import directory as routing_directory

logger = logging.getLogger(__name__)

Status = AdmissionRequest.Status

# A claim older than this is abandoned (worker killed) and may be taken again.
CLAIM_LEASE = dt.timedelta(minutes=10)
# No status callback for this long after placing a call: treat the leg as lost.
CALL_STATUS_GUARD = dt.timedelta(hours=3)
# "As soon as possible" requests are tried for this long before they count as unreachable.
NOW_WINDOW = dt.timedelta(hours=12)
# Waits between callback rounds in which the person did not answer.
CALLER_RETRY_DELAYS = (dt.timedelta(minutes=10), dt.timedelta(minutes=30), dt.timedelta(hours=2))
# Rounds (partner accepted, person dialed) before the request is "unreachable".
CALLER_MAX_TRIES = 3
# The person has this long to answer the callback.
CALLER_RING_SECONDS = 30

ACTIVE_STATUSES = (Status.NEW, Status.ROUTED, Status.NOTIFIED, Status.CALLBACK_ATTEMPTED, Status.UNROUTED)
FINAL_STATUSES = (Status.CONNECTED, Status.UNREACHABLE, Status.WITHDRAWN, Status.CLOSED)


def _enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Publish a task after the current transaction commits; a broker outage is logged, not raised.

    If publishing fails (Redis down), the row still says what is due and the
    sweeper enqueues it later. The task is found by its registered name
    (``helpline.tasks.<task_name>``, a contract; ``helpline.admission.tasks``
    registers it, loaded in ``HelplineConfig.ready``): the tasks call these
    services, so the services do not import the tasks.
    """

    def publish() -> None:
        try:
            # No publish retries: with Redis down the person's request must not wait; the sweeper re-sends.
            current_app.tasks[f"helpline.tasks.{task_name}"].apply_async(args=args, retry=False)
        except Exception:  # noqa: BLE001 - the broker being down must never lose or fail the request
            logger.warning("Could not enqueue %s for %s; the sweeper will pick it up", task_name, args[:1])

    transaction.on_commit(publish)


def _change(
    req: AdmissionRequest, *, to: str, note: str = "", by: Any = None, now: dt.datetime | None = None
) -> AdmissionStatusChange:
    """Record a status change (the caller has already set ``req.status``'s new value in the same transaction)."""
    return AdmissionStatusChange.objects.create(
        request=req, from_status=req.status, to_status=to, note=note[:500], by=by, at=now or timezone.now()
    )


def _set_status(
    req: AdmissionRequest,
    *,
    to: str,
    now: dt.datetime,
    note: str = "",
    by: Any = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Move ``req`` to ``to``, writing the history row and ``extra`` fields in one go."""
    _change(req, to=to, note=note, by=by, now=now)
    fields = {"status": to, **(extra or {})}
    for name, value in fields.items():
        setattr(req, name, value)
    req.save(update_fields=[*fields, "updated_at"])


def is_blocked(phone_hash: str) -> bool:
    return bool(phone_hash) and ContactBlock.objects.filter(phone_hash=phone_hash).exists()


# ---------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AdmissionInput:
    """Checked input from the web form or the API (see ``helpline.admission.forms``)."""

    for_whom: str
    first_name: str
    phone: str  # E.164
    zip_code: str
    state: str
    time_zone: str
    service: str
    language: str
    callback_when: str
    allow_voicemail: bool
    allow_text: bool
    substances: list[str] = field(default_factory=list)
    payment: str = ""
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    source: str = "web"
    attribution: Attribution = field(default_factory=Attribution)  # which page brought it (cleaned)


def admission_request_create(
    *, data: AdmissionInput, now: dt.datetime | None = None, hold: bool = False
) -> AdmissionRequest:
    """Save the request and its first history row, with the exact consent wording shown.

    Saving is the only thing that must succeed for the person: routing runs
    afterwards (``admission_request_submit``) and again from the sweeper.
    """
    now = now or timezone.now()
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    if data.callback_when == AdmissionRequest.When.NOW:
        window_start, window_end = now, now + NOW_WINDOW
    else:
        window_start, window_end = data.window_start, data.window_end
    with transaction.atomic():
        req = AdmissionRequest.objects.create(
            source=data.source,
            for_whom=data.for_whom,
            first_name=data.first_name,
            phone=data.phone,
            phone_hash=caller_hash(data.phone),
            zip_code=data.zip_code,
            state=data.state,
            service=data.service,
            substances=list(data.substances),
            payment=data.payment,
            language=data.language,
            callback_when=data.callback_when,
            window_start=window_start,
            window_end=window_end,
            caller_timezone=data.time_zone,
            allow_voicemail=data.allow_voicemail,
            allow_text=data.allow_text,
            consent_text=consent_label(),
            consent_version=CONSENT_VERSION,
            consented_at=now,
            page=data.attribution.page,
            landing_page=data.attribution.landing_page,
            utm_source=data.attribution.utm_source,
            utm_medium=data.attribution.utm_medium,
            utm_campaign=data.attribution.utm_campaign,
            source_kind=data.attribution.source.kind,
            source_key=data.attribution.source.key,
            status=Status.HELD if hold else Status.NEW,
            created_at=now,
        )
        AdmissionStatusChange.objects.create(
            request=req,
            from_status="",
            to_status=req.status,
            at=now,
            note="Held: many new numbers this hour; waiting for staff approval." if hold else "",
        )
    return req


def admission_request_submit(*, data: AdmissionInput, now: dt.datetime | None = None) -> AdmissionRequest:
    """Create, then try to route at once so the confirmation can name the partner.

    A routing failure is logged and left to the sweeper: the request is saved.
    When the new-number breaker trips (``policy.breaker_holds``) the request is
    saved as held: nobody is notified or called until staff approve it.
    """
    now = now or timezone.now()
    hold = policy.breaker_holds(phone_hash=caller_hash(data.phone), now=now)
    req = admission_request_create(data=data, now=now, hold=hold)
    if hold:
        logger.warning("Admission request %s held by the new-number breaker", req.pk)
        if policy.breaker_alert_due(now=now):
            transaction.on_commit(_breaker_alert, robust=True)
        return req
    try:
        admission_request_route(request_id=req.pk, now=now)
    except Exception:  # noqa: BLE001 - the person's request is saved; routing is retried by the sweeper
        logger.exception("Routing admission request %s failed; left for the sweeper", req.pk)
    req.refresh_from_db()
    return req


def _breaker_alert() -> None:
    recipients = list(settings.STAFF_ALERT_EMAILS)
    if not recipients:
        return
    limit = policy.new_numbers_per_hour()
    try:
        send_mail(
            subject=f"[{settings.HELPLINE_NAME}] Callback requests held: many new numbers",
            message=(
                f"More than {limit} numbers we have not called before asked for a callback within an hour.\n"
                "New numbers are now held: nobody is called until you approve them in the staff admin "
                "(Admission requests, status 'Held for staff approval', action 'Approve').\n"
                "If they look like one sender aiming our calls at strangers, close them instead."
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:  # noqa: BLE001 - the requests are saved and held either way
        logger.exception("Could not send the callback-breaker alert")


def admission_request_approve(*, request_id: int, by: Any, now: dt.datetime | None = None) -> bool:
    """Staff release a held request: it becomes new and is routed like any other. False if it was not held."""
    now = now or timezone.now()
    with transaction.atomic():
        released = AdmissionRequest.objects.filter(id=request_id, status=Status.HELD).update(status=Status.NEW) == 1
        if not released:
            return False
        AdmissionStatusChange.objects.create(
            request_id=request_id, from_status=Status.HELD, to_status=Status.NEW, at=now, by=by,
            note="Approved by staff.",
        )  # fmt: skip
    try:
        admission_request_route(request_id=request_id, now=now)
    except Exception:  # noqa: BLE001 - approved and new: the sweeper routes it
        logger.exception("Routing approved admission request %s failed; left for the sweeper", request_id)
    return True


# ---------------------------------------------------------------------------
# Route
# ---------------------------------------------------------------------------


def _claim(request_id: int, *, statuses: tuple[str, ...], now: dt.datetime) -> bool:
    """Compare-and-set: take the request for one stage of work unless someone else holds it."""
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    return AdmissionRequest.objects.filter(free, id=request_id, status__in=statuses).update(claimed_at=now) == 1


def _release(request_id: int) -> None:
    AdmissionRequest.objects.filter(id=request_id).update(claimed_at=None)


def _route_time(req: AdmissionRequest, now: dt.datetime) -> dt.datetime:
    """Route "call now" requests for partners open now; window requests for partners open at the window."""
    if req.callback_when == AdmissionRequest.When.WINDOW and req.window_start and req.window_start > now:
        return req.window_start
    return now


def admission_request_route(*, request_id: int, now: dt.datetime | None = None) -> AdmissionRequest | None:
    """Run the routing engine for a new request and store its decision.

    Returns None when another worker holds the request or it is no longer new.
    """
    from routing import services as routing_services
    from routing.engine import RouteRequest
    from routing.location import resolve_location

    now = now or timezone.now()
    if not _claim(request_id, statuses=(Status.NEW,), now=now):
        return None
    try:
        req = AdmissionRequest.objects.get(id=request_id)
        if is_blocked(req.phone_hash):
            admission_request_withdraw(phone_hash=req.phone_hash, source="blocked", now=now)
            return req
        route_request = RouteRequest(
            service=req.service,
            location=resolve_location(given_zip=req.zip_code),
            language=req.language,
            require_open=True,
            rotation_key=0,  # next in the fair rotation
        )
        decision_row, decision = routing_services.route(
            request=route_request, kind="admission", now=_route_time(req, now)
        )
        with transaction.atomic():
            req = AdmissionRequest.objects.select_for_update().get(id=request_id)
            if req.status != Status.NEW:
                return req
            if decision.choices:
                first = decision.choices[0]
                _set_status(
                    req,
                    to=Status.ROUTED,
                    now=now,
                    note=f"routed to {first.partner_name}",
                    extra={
                        "routing_decision": decision_row,
                        "partner_id": first.partner_id,
                        "facility_id": first.facility_id,
                        "callback_choice_index": 0,
                        "claimed_at": None,
                        "needs_attention": False,
                    },
                )
                _enqueue_on_commit("notify_partner_of_admission_request", req.pk)
                _webhook_routed(req=req, partner_id=first.partner_id, facility_id=first.facility_id, now=now)
            else:
                _set_status(
                    req,
                    to=Status.UNROUTED,
                    now=now,
                    note="no eligible partner",
                    extra={"routing_decision": decision_row, "claimed_at": None, "needs_attention": True},
                )
        return req
    finally:
        _release(request_id)


def _webhook_routed(*, req: AdmissionRequest, partner_id: int, facility_id: int, now: dt.datetime) -> None:
    """The partner's "admission_request.routed" webhook, if it has one: ids and needs, never name or phone."""
    payload = {
        "request_id": str(req.public_id),
        "routed_at": now.isoformat(),
        "facility_id": facility_id,
        "service": req.service,
        "zip_code": req.zip_code,
        "language": req.language,
        "callback_when": req.callback_when,
        "portal_url": absolute_url(f"/portal/requests/{req.public_id}/"),
    }
    try:
        with transaction.atomic():
            events.partner_webhook.send(
                sender=AdmissionRequest, partner_id=partner_id, event="admission_request.routed", payload=payload
            )
    except Exception:  # noqa: BLE001 - a courtesy notification must not undo the routing
        logger.exception("admission_request.routed webhook for request %s not recorded", req.pk)


def admission_request_reroute(*, request_id: int, by: Any = None, now: dt.datetime | None = None) -> AdmissionRequest:
    """Staff: start routing again from scratch (a new decision, a new partner notification)."""
    now = now or timezone.now()
    with transaction.atomic():
        req = AdmissionRequest.objects.select_for_update().get(id=request_id)
        if req.status in (Status.WITHDRAWN, Status.CONNECTED):
            raise ValueError(f"A {req.get_status_display().lower()} request cannot be re-routed.")
        _set_status(
            req,
            to=Status.NEW,
            now=now,
            by=by,
            note="re-routed by staff",
            extra={
                "claimed_at": None,
                "next_action_at": None,
                "callback_choice_index": 0,
                "callback_attempts": 0,
                "notify_email_sent_at": None,
                "notify_sms_sent_at": None,
                "notified_at": None,
                "needs_attention": False,
            },
        )
    admission_request_route(request_id=request_id, now=now)
    req.refresh_from_db()
    return req


def admission_request_close(*, request_id: int, note: str, by: Any = None, now: dt.datetime | None = None) -> None:
    """Staff: close a request with a note; no task contacts anyone for it afterwards."""
    now = now or timezone.now()
    with transaction.atomic():
        req = AdmissionRequest.objects.select_for_update().get(id=request_id)
        if req.status == Status.CLOSED:
            return
        _set_status(
            req,
            to=Status.CLOSED,
            now=now,
            by=by,
            note=note,
            extra={"next_action_at": None, "claimed_at": None, "needs_attention": False, "staff_note": note},
        )


# ---------------------------------------------------------------------------
# Notify the partner
# ---------------------------------------------------------------------------


def portal_url(req: AdmissionRequest) -> str:
    return absolute_url(f"/portal/requests/{req.public_id}/")


def _area(req: AdmissionRequest) -> str:
    from routing.location import resolve_location

    label = resolve_location(given_zip=req.zip_code).label
    return label or f"ZIP {req.zip_code}"


def _best_time(req: AdmissionRequest) -> str:
    if req.callback_when == AdmissionRequest.When.NOW or not req.window_start:
        return "as soon as possible"
    import zoneinfo

    tz = zoneinfo.ZoneInfo(req.caller_timezone or "America/New_York")
    start = req.window_start.astimezone(tz)
    end = req.window_end.astimezone(tz) if req.window_end else start
    return f"{start:%a %b %d}, {start:%I:%M %p}-{end:%I:%M %p} {start.tzname()}"


def notification_email(req: AdmissionRequest) -> tuple[str, str]:
    """Subject and body for the partner: what they need to act, no name or number (those are in the portal)."""
    service = dict(AdmissionRequest._meta.get_field("service").choices or []).get(req.service, req.service)
    lines = [
        f"A new callback request was routed to you by {settings.HELPLINE_NAME}.",
        "",
        f"Care asked about: {service}",
        f"Area: {_area(req)}",
        f"Language: {req.get_language_display()}",
        f"Best time to call: {_best_time(req)}",
        f"For: {req.get_for_whom_display().lower()}",
        "",
        "We will connect you by phone: you will get a call, hear a short message and press 1.",
        f"Open the request (sign in to the partner portal): {portal_url(req)}",
    ]
    return f"New callback request ({service})", "\n".join(lines)


def notification_sms(req: AdmissionRequest) -> str:
    """Short and free of anything identifying: the portal link carries the rest."""
    return f"{settings.HELPLINE_NAME}: new callback request for you. Details (sign in): {portal_url(req)}"


def _send_once(
    request_id: int, *, marker: str, now: dt.datetime, send: Callable[[], object], permanent_ok: bool = True
) -> bool:
    """Mark ``marker`` then send; an error un-marks it (for a retry) unless it can never succeed.

    Returns True if this call sent it.
    """
    if AdmissionRequest.objects.filter(id=request_id, **{f"{marker}__isnull": True}).update(**{marker: now}) != 1:
        return False
    try:
        send()
    except twilio_rest.TwilioFailure as exc:
        if exc.permanent and permanent_ok:
            logger.warning("Partner notification %s for request %s failed for good: %s", marker, request_id, exc)
            AdmissionRequest.objects.filter(id=request_id).update(needs_attention=True)
            return False
        AdmissionRequest.objects.filter(id=request_id).update(**{marker: None})
        raise
    except Exception:
        AdmissionRequest.objects.filter(id=request_id).update(**{marker: None})
        raise
    return True


def admission_request_notify(*, request_id: int, now: dt.datetime | None = None) -> AdmissionRequest | None:
    """Tell the routed partner by email (and SMS when it has a mobile), then schedule the callback.

    Each channel is sent at most once (its ``*_sent_at`` marker). A failure
    raises so the task retries with backoff; channels already sent are skipped.
    """
    now = now or timezone.now()
    if not _claim(request_id, statuses=(Status.ROUTED,), now=now):
        return None
    try:
        req = AdmissionRequest.objects.select_related("partner").get(id=request_id)
        if is_blocked(req.phone_hash):
            admission_request_withdraw(phone_hash=req.phone_hash, source="blocked", now=now)
            return req
        partner = req.partner
        if partner is not None and partner.notify_email:
            subject, body = notification_email(req)
            email = partner.notify_email
            _send_once(
                request_id,
                marker="notify_email_sent_at",
                now=now,
                send=lambda: send_mail(subject, body, None, [email], fail_silently=False),
            )
        if partner is not None and partner.notify_sms:
            text, to = notification_sms(req), str(partner.notify_sms)
            _send_once(
                request_id,
                marker="notify_sms_sent_at",
                now=now,
                send=lambda: twilio_rest.send_sms(to=to, body=text),
            )
        return admission_request_mark_notified(request_id=request_id, now=now)
    finally:
        _release(request_id)


def admission_request_mark_notified(
    *, request_id: int, now: dt.datetime, note: str = "partner notified"
) -> AdmissionRequest | None:
    """Routed -> notified, and schedule the first callback at the start of the person's window."""
    with transaction.atomic():
        req = AdmissionRequest.objects.select_for_update().get(id=request_id)
        if req.status != Status.ROUTED:
            return req
        due = max(now, req.window_start) if req.window_start else now
        _set_status(
            req,
            to=Status.NOTIFIED,
            now=now,
            note=note,
            extra={"notified_at": now, "next_action_at": due, "claimed_at": None},
        )
        if due <= now:
            _enqueue_on_commit("place_admission_callback", req.pk)
    return req


# ---------------------------------------------------------------------------
# The bridged callback: partner first (whisper, press 1), then the person
# ---------------------------------------------------------------------------


def _choices(req: AdmissionRequest) -> list[dict[str, Any]]:
    chosen = req.routing_decision.chosen if req.routing_decision_id and req.routing_decision else []
    return [c for c in chosen if isinstance(c, dict) and c.get("facility_id") and c.get("partner_id")]


def callback_urls(attempt_id: int) -> dict[str, str]:
    def url(name: str) -> str:
        return absolute_url(reverse(f"twilio:callback_{name}", kwargs={"attempt_id": attempt_id}))

    return {name: url(name) for name in ("whisper", "accept", "caller_screen", "caller_accept", "dial_done", "status")}


def _finish_unreachable(req: AdmissionRequest, *, now: dt.datetime, note: str) -> None:
    _set_status(
        req, to=Status.UNREACHABLE, now=now, note=note,
        extra={"next_action_at": None, "claimed_at": None, "needs_attention": True},
    )  # fmt: skip


def admission_request_place_callback(*, request_id: int, now: dt.datetime | None = None) -> DialAttempt | None:
    """Place the next partner leg of a callback through Twilio's REST API.

    Claimed by moving ``next_action_at`` forward (a compare-and-set on a due
    row): a second delivery finds nothing due and does nothing. A partner
    number Twilio rejects for good is marked failed and the next partner in
    the stored decision is tried at once; a transient error raises for a retry.
    """
    from routing import services as routing_services

    now = now or timezone.now()
    claimed = AdmissionRequest.objects.filter(
        id=request_id, status__in=(Status.NOTIFIED, Status.CALLBACK_ATTEMPTED), next_action_at__lte=now
    ).update(next_action_at=now + CLAIM_LEASE, claimed_at=now)
    if claimed != 1:
        return None
    req = AdmissionRequest.objects.select_related("routing_decision").get(id=request_id)
    if is_blocked(req.phone_hash):
        admission_request_withdraw(phone_hash=req.phone_hash, source="blocked", now=now)
        return None

    # A leg still "ringing" long after it was placed lost its status callback; a leg that never got a
    # CallSid was cut off by a crashed worker before (or while) Twilio was asked. Close both.
    lost_legs = Q(started_at__lt=now - CALL_STATUS_GUARD) | Q(
        dial_call_sid__isnull=True, started_at__lt=now - CLAIM_LEASE
    )
    for lost in DialAttempt.objects.filter(lost_legs, admission_request_id=request_id, ended_at__isnull=True):
        if DialAttempt.objects.filter(id=lost.pk, ended_at__isnull=True).update(
            ended_at=now, outcome=DialAttempt.Outcome.FAILED
        ):
            _release_leg(lost)
    if DialAttempt.objects.filter(admission_request_id=request_id, ended_at__isnull=True).exists():
        # A leg is in progress; its status callback moves things on.
        AdmissionRequest.objects.filter(id=request_id).update(next_action_at=now + CALL_STATUS_GUARD)
        return None

    with transaction.atomic():
        req = AdmissionRequest.objects.select_for_update().get(id=request_id)
        if req.window_end and now > req.window_end:
            _finish_unreachable(req, now=now, note="the person's time window passed")
            return None

    choices = _choices(req)
    index = req.callback_choice_index
    while index < len(choices):
        choice = choices[index]
        facility = routing_directory.source().dialable_facility(choice["facility_id"])
        if facility is None:
            index += 1
            continue
        if not routing_services.claim_leg(partner_id=facility.partner_id, now=now):
            index += 1  # at a cap right now: the next partner
            continue
        sequence = (
            DialAttempt.objects.filter(admission_request_id=request_id)
            .order_by("-sequence")
            .values_list("sequence", flat=True)
            .first()
            or 0
        ) + 1
        try:
            attempt = DialAttempt.objects.create(
                admission_request_id=request_id,
                sequence=sequence,
                partner_id=facility.partner_id,
                facility_id=facility.facility_id,
                started_at=now,
            )
        except IntegrityError:
            routing_services.release_leg(partner_id=facility.partner_id, accepted=False, now=now)
            logger.info("Callback leg for request %s already placed by another worker", request_id)
            return None
        urls = callback_urls(attempt.pk)
        try:
            sid = twilio_rest.create_call(
                to=facility.phone,
                url=urls["whisper"],
                status_callback=urls["status"],
                timeout=settings.DIAL_RING_TIMEOUT_SECONDS,
            )
        except twilio_rest.TwilioFailure as exc:
            DialAttempt.objects.filter(id=attempt.pk).update(outcome=DialAttempt.Outcome.FAILED, ended_at=now)
            routing_services.release_leg(partner_id=facility.partner_id, accepted=False, now=now)
            if exc.permanent:
                logger.warning(
                    "Partner facility %s number rejected by Twilio (%s); next partner", facility.facility_id, exc
                )
                _check_auto_pause(facility.partner_id, now)
                index += 1
                AdmissionRequest.objects.filter(id=request_id).update(callback_choice_index=index)
                continue
            # Transient: due again now, so the retry (or the sweeper) can claim it.
            AdmissionRequest.objects.filter(id=request_id).update(
                next_action_at=now, claimed_at=None, callback_choice_index=index
            )
            raise
        DialAttempt.objects.filter(id=attempt.pk).update(dial_call_sid=sid)
        with transaction.atomic():
            req = AdmissionRequest.objects.select_for_update().get(id=request_id)
            extra = {
                "callback_choice_index": index,
                "next_action_at": now + CALL_STATUS_GUARD,
                "partner_id": facility.partner_id,
                "facility_id": facility.facility_id,
            }
            if req.status != Status.CALLBACK_ATTEMPTED:
                _set_status(
                    req, to=Status.CALLBACK_ATTEMPTED, now=now, note=f"calling {facility.partner_label}", extra=extra
                )
            else:
                for name, value in extra.items():
                    setattr(req, name, value)
                req.save(update_fields=[*extra, "updated_at"])
        attempt.refresh_from_db()
        return attempt

    # Every partner in the decision failed or refused: staff take over.
    with transaction.atomic():
        req = AdmissionRequest.objects.select_for_update().get(id=request_id)
        AdmissionStatusChange.objects.create(
            request=req, from_status=req.status, to_status=req.status, at=now,
            note="no partner took the callback; needs staff",
        )  # fmt: skip
        req.callback_choice_index = index
        req.next_action_at = None
        req.claimed_at = None
        req.needs_attention = True
        req.save(
            update_fields=["callback_choice_index", "next_action_at", "claimed_at", "needs_attention", "updated_at"]
        )
    return None


def callback_attempt(attempt_id: int, *, lock_request: bool = False) -> DialAttempt | None:
    """The callback leg with its request, partner and facility, and whether the person's phone is blocked.

    One query. ``phone_blocked`` (annotated) is what ``callback_may_continue``
    needs besides the request's status. ``lock_request``: the request row is
    locked until the surrounding transaction ends (PostgreSQL).
    """
    blocked = ContactBlock.objects.filter(phone_hash=OuterRef("admission_request__phone_hash"))
    qs = (
        DialAttempt.objects.select_related("admission_request", "partner", "facility")
        .annotate(phone_blocked=Exists(blocked))
        .filter(id=attempt_id, admission_request__isnull=False)
    )
    if lock_request:
        qs = qs.select_for_update(of=("admission_request",))
    return qs.first()


def callback_may_continue(attempt: DialAttempt) -> bool:
    """May this leg still connect anyone? (Not withdrawn, not closed, phone not blocked.)

    Read with the leg by ``callback_attempt`` (same request, no second read); a leg read
    any other way has its request's status and block read now.
    """
    req = attempt.admission_request
    if req is None:
        return False
    blocked = getattr(attempt, "phone_blocked", None)
    if blocked is None:
        req.refresh_from_db(fields=["status", "phone_hash"])
        blocked = is_blocked(req.phone_hash)
    return req.status == Status.CALLBACK_ATTEMPTED and not blocked


def callback_partner_accepted(*, attempt_id: int, now: dt.datetime | None = None) -> bool:
    """The partner pressed 1. Idempotent: a re-sent webhook changes nothing."""
    now = now or timezone.now()
    won = DialAttempt.objects.filter(id=attempt_id, accepted=False, ended_at__isnull=True).update(
        accepted=True, outcome=DialAttempt.Outcome.ACCEPTED, answered_at=now
    )
    return won == 1 or DialAttempt.objects.filter(id=attempt_id, accepted=True).exists()


def callback_partner_declined(*, attempt_id: int) -> None:
    DialAttempt.objects.filter(id=attempt_id, accepted=False, ended_at__isnull=True).update(
        outcome=DialAttempt.Outcome.NOT_ACCEPTED
    )


def callback_connected(*, attempt_id: int, now: dt.datetime | None = None) -> bool:
    """The person answered and pressed 1: the request is connected (once).

    A compare-and-set of the request (still ``callback_attempted``, phone not
    blocked) and its history row, in one statement on PostgreSQL: no lock, no
    read of the request first. A replay finds it connected already.
    """
    now = now or timezone.now()
    attempt = callback_attempt(attempt_id)
    if attempt is None or attempt.admission_request_id is None:
        return False
    request_id = attempt.admission_request_id
    changes = {
        "status": Status.CONNECTED,
        "connected_at": now,
        "partner_id": attempt.partner_id,
        "facility_id": attempt.facility_id,
        "next_action_at": None,
        "needs_attention": False,
        "updated_at": now,
    }
    blocked = ContactBlock.objects.filter(phone_hash=OuterRef("phone_hash"))
    cas = AdmissionRequest.objects.filter(id=request_id, status=Status.CALLBACK_ATTEMPTED).filter(~Exists(blocked))
    history = {
        "request": request_id,
        "from_status": Status.CALLBACK_ATTEMPTED,
        "to_status": Status.CONNECTED,
        "note": f"connected with {attempt.partner}"[:500],
        "by": None,
        "at": now,
    }
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        won = _update_then_insert(cas, changes, AdmissionStatusChange, history)
    else:
        with transaction.atomic():
            won = cas.update(**changes) == 1
            if won:
                AdmissionStatusChange.objects.create(
                    request_id=request_id,
                    from_status=Status.CALLBACK_ATTEMPTED,
                    to_status=Status.CONNECTED,
                    note=history["note"],
                    at=now,
                )
    if won:
        return True
    return AdmissionRequest.objects.filter(id=request_id, status=Status.CONNECTED).exists()


def _update_then_insert(
    queryset: QuerySet[Any], changes: dict[str, Any], model: type[Model], values: dict[str, Any]
) -> bool:
    """PostgreSQL: ``queryset.update(**changes)`` and, only if it changed a row, one ``model`` row: one statement.

    True if the update changed a row (and the row was inserted).
    """
    connection = transaction.get_connection()
    qn = connection.ops.quote_name
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(changes)
    update_sql, update_params = query.get_compiler(queryset.db).as_sql()
    fields = [model._meta.get_field(name) for name in values]
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]  # type: ignore[union-attr]
    columns = ", ".join(qn(f.column) for f in fields)  # type: ignore[union-attr]
    marks = ", ".join(["%s"] * len(params))
    # Our tables; the UPDATE is the ORM's, values bound.
    sql = f"WITH won AS ({update_sql} RETURNING 1) INSERT INTO {qn(model._meta.db_table)} ({columns}) "  # noqa: S608
    sql += f"SELECT {marks} FROM won"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*update_params, *params])
        return cursor.rowcount == 1


def callback_dial_finished(*, attempt_id: int, talk_seconds: int) -> None:
    """The person's leg ended: its length is talk only if the person joined (pressed 1) through this leg.

    A voicemail or a person who pressed nothing still keeps the leg up for the
    screen's words: never bridged to the partner, so no talk, and no charge
    whatever the partner's minimum (one statement, the request checked in it).
    """
    joined = AdmissionRequest.objects.filter(
        pk=OuterRef("admission_request_id"), connected_at__isnull=False, facility_id=OuterRef("facility_id")
    )
    DialAttempt.objects.filter(id=attempt_id).update(
        talk_seconds=Case(When(Exists(joined), then=Value(max(0, talk_seconds))), default=Value(0))
    )


_PARTNER_OUTCOMES = {
    "busy": DialAttempt.Outcome.BUSY,
    "no-answer": DialAttempt.Outcome.NO_ANSWER,
    "failed": DialAttempt.Outcome.FAILED,
    "canceled": DialAttempt.Outcome.CANCELED,
}


def _next_try_at(req: AdmissionRequest, *, tries: int, now: dt.datetime) -> dt.datetime | None:
    """When to call the person again after ``tries`` unanswered rounds; None when we should stop."""
    if tries >= CALLER_MAX_TRIES:
        return None
    delay = CALLER_RETRY_DELAYS[min(tries - 1, len(CALLER_RETRY_DELAYS) - 1)]
    at = now + delay
    if req.window_end and at > req.window_end:
        return None
    return at


@transaction.atomic
def callback_leg_ended(*, attempt_id: int, call_status: str, now: dt.datetime | None = None) -> AdmissionRequest | None:
    """The partner leg ended (status callback): finish the attempt once and decide what comes next.

    - connected through this leg: done; billing is asked on commit;
    - partner accepted but the person did not answer: another round later, within
      their window and ``CALLER_MAX_TRIES``, else unreachable;
    - partner did not accept (busy, no answer, failed, declined): the next partner now.
    """
    now = now or timezone.now()
    # The leg with its request, the request row locked: one query.
    attempt = callback_attempt(attempt_id, lock_request=True)
    if attempt is None or attempt.admission_request is None:
        return None
    req = attempt.admission_request
    if attempt.accepted:
        outcome = DialAttempt.Outcome.COMPLETED
    elif attempt.outcome == DialAttempt.Outcome.NOT_ACCEPTED:
        outcome = DialAttempt.Outcome.NOT_ACCEPTED
    elif call_status == "completed":
        outcome = DialAttempt.Outcome.NOT_ACCEPTED  # answered (perhaps by voicemail) and never pressed 1
    else:
        outcome = _PARTNER_OUTCOMES.get(call_status, DialAttempt.Outcome.FAILED)
    # Connected, withdrawn, closed: nothing more to do for the request (a connected one is unclaimed).
    settled = req.status != Status.CALLBACK_ATTEMPTED
    unclaim = settled and req.status == Status.CONNECTED
    if not _end_callback_leg(attempt, outcome=outcome, now=now, unclaim=unclaim):
        return None  # already handled (Twilio re-sent the callback)
    if not attempt.accepted:
        _check_auto_pause(attempt.partner_id, now)
    transaction.on_commit(lambda: _bill(attempt_id))
    if settled:
        if unclaim:
            req.claimed_at = None
        return req
    if attempt.accepted:
        tries = req.callback_attempts + 1
        at = _next_try_at(req, tries=tries, now=now)
        req.callback_attempts = tries
        req.save(update_fields=["callback_attempts", "updated_at"])
        if at is None:
            _finish_unreachable(req, now=now, note=f"no answer after {tries} tries")
        else:
            AdmissionStatusChange.objects.create(
                request=req, from_status=req.status, to_status=req.status, at=now,
                note=f"person did not answer (try {tries}); next try scheduled",
            )  # fmt: skip
            req.next_action_at = at
            req.claimed_at = None
            req.save(update_fields=["next_action_at", "claimed_at", "updated_at"])
        if req.allow_text:
            _enqueue_on_commit("text_caller_missed_callback", req.pk, tries)
    else:
        req.callback_choice_index += 1
        req.next_action_at = now
        req.claimed_at = None
        req.save(update_fields=["callback_choice_index", "next_action_at", "claimed_at", "updated_at"])
        _enqueue_on_commit("place_admission_callback", req.pk)
    return req


def _end_callback_leg(attempt: DialAttempt, *, outcome: str, now: dt.datetime, unclaim: bool) -> bool:
    """Close the leg once (compare-and-set), free the partner's slot and, with ``unclaim``, unclaim the request.

    On PostgreSQL one statement, each part only if the leg was still open. False: already closed.
    """
    from routing import services as routing_services

    request_id = attempt.admission_request_id
    assert request_id is not None  # noqa: S101 - callback legs only
    ended = DialAttempt.objects.filter(pk=attempt.pk, ended_at__isnull=True)
    changes = {"ended_at": now, "outcome": outcome}
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        if ended.update(**changes) != 1:
            return False
        _release_leg(attempt)
        if unclaim:
            AdmissionRequest.objects.filter(id=request_id).update(claimed_at=None, updated_at=now)
        return True
    query = cast(UpdateQuery, ended.query.chain(UpdateQuery))
    query.add_update_values(changes)
    ended_sql, ended_params = query.get_compiler(ended.db).as_sql()
    release_sql, release_params = routing_services.release_leg_statement(
        partner_id=attempt.partner_id, accepted=attempt.accepted, now=attempt.started_at
    )
    # Our tables; every statement is the ORM's (or routing's), values bound.
    parts = [f"ended AS ({ended_sql} RETURNING 1)", f"released AS ({release_sql} AND EXISTS (SELECT 1 FROM ended))"]  # noqa: S608
    params = [*ended_params, *release_params]
    if unclaim:
        unclaim_q = AdmissionRequest.objects.filter(id=request_id)
        query = cast(UpdateQuery, unclaim_q.query.chain(UpdateQuery))
        query.add_update_values({"claimed_at": None, "updated_at": now})
        unclaim_sql, unclaim_params = query.get_compiler(unclaim_q.db).as_sql()
        parts.append(f"unclaimed AS ({unclaim_sql} AND EXISTS (SELECT 1 FROM ended))")  # noqa: S608
        params += unclaim_params
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT EXISTS (SELECT 1 FROM ended)", params)  # noqa: S608
        row = cursor.fetchone()
    return bool(row and row[0])


def _check_auto_pause(partner_id: int, now: dt.datetime) -> None:
    """A callback leg that went unanswered or failed counts toward the partner's automatic pause (as calls do)."""
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's transaction usable
            events.partner_leg_unanswered.send(sender=DialAttempt, partner_id=partner_id, now=now)
    except Exception:  # noqa: BLE001 - never break the webhook or the task over the pause check
        logger.exception("Auto-pause check for partner %s failed", partner_id)


def _release_leg(attempt: DialAttempt) -> None:
    from routing import services as routing_services

    try:
        with transaction.atomic():
            routing_services.release_leg(
                partner_id=attempt.partner_id, accepted=attempt.accepted, now=attempt.started_at
            )
    except Exception:  # noqa: BLE001 - a counter must never break the webhook
        logger.exception("Releasing the leg of callback attempt %s failed", attempt.pk)


def _bill(attempt_id: int) -> None:
    try:
        events.admission_callback_leg_final.send(sender=DialAttempt, attempt_id=attempt_id)
    except Exception:  # noqa: BLE001 - billing is idempotent and re-run by its own sweep; never break the webhook
        logger.exception("Billing admission callback attempt %s failed", attempt_id)


# The "we tried to reach you" text, in the language of the request: (text, "trying again" sentence).
# (Not in helpline.voice.prompts: the voice package imports this one, and sub-packages never import in a loop.)
MISSED_TEXT: dict[str, tuple[str, str]] = {
    "en": (
        "{name}: we tried to return your call as you asked. {again}Reply STOP to stop calls and texts.",
        "We will try again soon. ",
    ),
    "es": (
        "{name}: intentamos devolverle la llamada como nos pidió. {again}"
        "Responda STOP para no recibir más llamadas ni mensajes.",
        "Volveremos a intentarlo pronto. ",
    ),
}


def admission_request_text_caller_missed(*, request_id: int, round_number: int) -> bool:
    """One text per missed round ("we tried to reach you"), only if texts are allowed and not withdrawn."""
    req = AdmissionRequest.objects.filter(id=request_id).first()
    if req is None or not req.allow_text or req.status in (Status.WITHDRAWN, Status.CLOSED, Status.CONNECTED):
        return False
    if is_blocked(req.phone_hash) or not req.phone:
        return False
    claimed = AdmissionRequest.objects.filter(id=request_id, caller_texted_round__lt=round_number).update(
        caller_texted_round=round_number
    )
    if claimed != 1:
        return False
    missed, again = MISSED_TEXT["es" if req.language == "es" else "en"]
    body = missed.format(name=settings.HELPLINE_NAME, again=again if req.status != Status.UNREACHABLE else "")
    try:
        twilio_rest.send_sms(to=req.phone, body=body)
    except twilio_rest.TwilioFailure as exc:
        if not exc.permanent:
            AdmissionRequest.objects.filter(id=request_id, caller_texted_round=round_number).update(
                caller_texted_round=round_number - 1
            )
            raise
        return False
    return True


# ---------------------------------------------------------------------------
# Withdraw (STOP or the link) and opt back in (START)
# ---------------------------------------------------------------------------


def admission_request_withdraw(
    *, phone_hash: str, source: str, now: dt.datetime | None = None, by: Any = None, block: bool = True
) -> int:
    """Withdraw every open request from a number and, with ``block``, block the number for good.

    A texted STOP (and staff marking a number do-not-contact) blocks: nothing more may reach that
    phone until it texts START. The withdraw link on the confirmation page does not block
    (``block=False``): it cancels what was asked, and the person may send a new request later.
    The block is by keyed hash, so it outlives the retention purge of the number itself.
    Returns how many requests changed.
    """
    now = now or timezone.now()
    if not phone_hash:
        return 0
    changed = 0
    with transaction.atomic():
        if block:  # one INSERT … ON CONFLICT DO NOTHING: the first block of a number stays as it was
            ContactBlock.objects.bulk_create(
                [ContactBlock(phone_hash=phone_hash, source=source[:20], created_at=now)], ignore_conflicts=True
            )
        for req in (
            AdmissionRequest.objects.select_for_update()
            .filter(phone_hash=phone_hash)
            .exclude(status__in=(Status.WITHDRAWN, Status.CLOSED))
        ):
            _set_status(
                req,
                to=Status.WITHDRAWN,
                now=now,
                by=by,
                note=f"consent withdrawn ({source})",
                extra={"withdrawn_at": now, "next_action_at": None, "claimed_at": None, "needs_attention": False},
            )
            changed += 1
    return changed


def contact_block_remove(*, phone_hash: str) -> bool:
    """START from the phone itself: it may be contacted again (old requests stay withdrawn)."""
    return ContactBlock.objects.filter(phone_hash=phone_hash).delete()[0] > 0


def window_label(slot: str) -> str:
    return WINDOW_SLOTS[slot][2] if slot in WINDOW_SLOTS else ""
