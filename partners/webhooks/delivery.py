"""Outgoing webhooks to partners: signed JSON events, delivered by Celery with retry and backoff.

Other apps call ``enqueue_event(*, partner_id, event, payload)`` inside their
transaction; the event row is written there and the delivery task is sent on
commit. If the broker is down the row stays ``pending`` and
``partners.webhooks.tasks.sweep_webhook_deliveries`` sends it later.

Signature (documented for partners): header ``X-Clearline-Signature:
t=<unix timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with
the partner's webhook secret>``. Partners should reject timestamps older than
five minutes (replays) and compare with a constant-time function.

Where events go is checked in ``partners.webhook_addresses`` when the URL is
saved and again before every attempt; the request is sent to the address that
was checked, without following redirects. The partner's log shows the HTTP
status their server answered, or one generic "could not deliver" for anything
else (refused address, DNS, connection, TLS, timeout) and no timing for
failures, so the log is no port scanner. The detail goes to our own log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

import certifi
import urllib3
from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from partners.models import Partner, WebhookDelivery, WebhookEvent
from partners.webhook_addresses import Target, resolve

logger = logging.getLogger(__name__)

EVENTS = {"call.connected", "call.billed", "admission_request.routed"}
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 5
CLAIM_TIMEOUT = dt.timedelta(minutes=5)
SIGNATURE_HEADER = "X-Clearline-Signature"
TOLERANCE_SECONDS = 300
SECRET_BYTES = 32
UNDELIVERED = "could not deliver"


def new_secret() -> str:
    """A signing secret made here, never typed: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def webhook_secret_rotate(*, partner_id: int) -> str:
    """Give the partner a new signing secret and return it (to be shown once). The old one stops at once."""
    secret = new_secret()
    Partner.objects.filter(pk=partner_id).update(webhook_secret=secret)
    return secret


def backoff(attempt: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, … capped at one hour, after the n-th failed attempt."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempt - 1, 0), 3600))


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(*, secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """What a partner does on receipt; used by our tests and shown in the docs."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, header)


def enqueue_event(*, partner_id: int, event: str, payload: dict[str, Any]) -> WebhookEvent | None:
    """Record an event for the partner's webhook and send it after commit. None if the partner has no webhook."""
    if event not in EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}; use one of {sorted(EVENTS)}.")
    has_hook = Partner.objects.filter(pk=partner_id).exclude(webhook_url="").values_list("pk", flat=True).first()
    if has_hook is None:
        return None
    hook_event = WebhookEvent.objects.create(partner_id=partner_id, event=event, payload=payload)
    transaction.on_commit(lambda: _send_task(hook_event.pk))
    return hook_event


def _send_task(event_pk: int, countdown: int | None = None) -> None:
    # By its registered name (a contract): ``partners.webhooks.tasks`` calls this module, so this module does
    # not import the tasks (they are loaded in ``PartnersConfig.ready``).
    deliver_webhook = current_app.tasks["partners.tasks.deliver_webhook"]
    try:
        if countdown:
            deliver_webhook.apply_async(args=(event_pk,), countdown=countdown)
        else:
            deliver_webhook.delay(event_pk)
    except Exception:  # noqa: BLE001 - broker down: the sweeper sends it later
        logger.warning("webhook %s not queued; the sweeper will retry", event_pk)


def _claim(event_pk: int, now: dt.datetime) -> bool:
    """Compare-and-set: one worker sends a given attempt, even if the task runs twice."""
    return (
        WebhookEvent.objects.filter(pk=event_pk, status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(claimed_at=now, attempts=F("attempts") + 1)
        == 1
    )


def _post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """The one outbound HTTP seam of webhooks: POST to the checked address, no redirects; the status code.

    The connection goes to ``target.address`` (the address that passed the
    check), while TLS verifies the certificate for ``target.host`` and the Host
    header names it, so a DNS answer that changes after the check is never used.
    """
    timeout = urllib3.Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1,
            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
            server_hostname=target.host, assert_hostname=target.host,
        )  # fmt: skip
    else:  # only with WEBHOOK_ALLOW_HTTP (tests)
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    with pool:
        response = pool.urlopen(
            "POST", target.path, body=body, headers={**headers, "Host": host_header},
            redirect=False, retries=False, preload_content=True,
        )  # fmt: skip
    return response.status


def body_of(hook_event: WebhookEvent) -> bytes:
    envelope = {
        "id": str(hook_event.event_id),
        "type": hook_event.event,
        "created": hook_event.created_at.isoformat(),
        "data": hook_event.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def deliver(*, event_pk: int, now: dt.datetime | None = None) -> str:
    """Send one attempt if due; record it; schedule the next on failure. Returns the event status."""
    now = now or timezone.now()
    if not _claim(event_pk, now):
        return "skipped"
    hook_event = WebhookEvent.objects.select_related("partner").get(pk=event_pk)
    partner = hook_event.partner
    url = partner.webhook_url
    if not url:
        WebhookEvent.objects.filter(pk=event_pk).update(status=WebhookEvent.Status.FAILED, claimed_at=None)
        return WebhookEvent.Status.FAILED
    body = body_of(hook_event)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Clearline-Webhooks/1",
        "X-Clearline-Event": hook_event.event,
        "X-Clearline-Delivery": str(hook_event.event_id),
        SIGNATURE_HEADER: sign(secret=partner.webhook_secret, timestamp=timestamp, body=body),
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        status_code = _post(resolve(url), body, headers)  # the address is checked again: DNS may have changed
        ok = 200 <= status_code < 300
        if not ok:
            error = f"HTTP {status_code}"
    except (ValidationError, urllib3.exceptions.HTTPError, OSError) as exc:
        ok = False
        error = UNDELIVERED
        logger.warning("webhook %s to partner %s not delivered: %s", event_pk, partner.pk, type(exc).__name__)
    duration_ms = int((time.monotonic() - started) * 1000) if ok else 0  # no timing oracle on failures
    WebhookDelivery.objects.get_or_create(
        webhook_event=hook_event,
        attempt=hook_event.attempts,
        defaults={
            "partner": partner,
            "at": now,
            "url": url[:200],
            "status_code": status_code,
            "ok": ok,
            "error": error[:300],
            "duration_ms": duration_ms,
        },
    )
    if ok:
        WebhookEvent.objects.filter(pk=event_pk).update(
            status=WebhookEvent.Status.DELIVERED, delivered_at=now, claimed_at=None
        )
        return WebhookEvent.Status.DELIVERED
    if hook_event.attempts >= MAX_ATTEMPTS:
        WebhookEvent.objects.filter(pk=event_pk).update(status=WebhookEvent.Status.FAILED, claimed_at=None)
        logger.warning("webhook %s to partner %s gave up after %s attempts", event_pk, partner.pk, MAX_ATTEMPTS)
        return WebhookEvent.Status.FAILED
    delay = backoff(hook_event.attempts)
    WebhookEvent.objects.filter(pk=event_pk).update(next_attempt_at=now + delay, claimed_at=None)
    _send_task(event_pk, countdown=int(delay.total_seconds()))
    return WebhookEvent.Status.PENDING


def sweep(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Re-send due events whose task was lost (broker down, worker killed). Returns how many were sent."""
    now = now or timezone.now()
    due = (
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for pk in list(due):
        if deliver(event_pk=pk, now=now) != "skipped":
            sent += 1
    return sent
