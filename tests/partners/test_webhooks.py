"""Outgoing webhooks: signed payloads to a real local HTTP server, retries with backoff, the sweeper."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from partners.billing import rule as billing
from partners.models import WebhookDelivery, WebhookEvent
from partners.webhooks import delivery as webhooks
from partners.webhooks.tasks import sweep_webhook_deliveries
from tests.factories import FacilityFactory, PartnerFactory, billed_call

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-test-0123456789"


class Receiver:
    """A partner's endpoint on loopback; answers the queued status codes in turn (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.codes.pop(0) if receiver.codes else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/clearline"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    # Plain http to loopback is refused in production; these tests deliver to a local receiver.
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def partner(receiver):
    return PartnerFactory(webhook_url=receiver.url, webhook_secret=SECRET)


def test_billed_call_sends_a_signed_event(partner, receiver):
    call, _ = billed_call(facility=FacilityFactory(partner=partner))
    billing.bill_call(call_id=call.pk)  # eager Celery: delivered on commit

    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert webhooks.verify(secret=SECRET, header=headers["X-Clearline-Signature"], body=body)
    assert not webhooks.verify(secret="wrong", header=headers["X-Clearline-Signature"], body=body)
    assert not webhooks.verify(secret=SECRET, header=headers["X-Clearline-Signature"], body=body + b" ")
    envelope = json.loads(body)
    assert envelope["type"] == "call.billed" and headers["X-Clearline-Event"] == "call.billed"
    assert envelope["data"]["amount_cents"] == 4500 and envelope["data"]["currency"] == "USD"
    assert "caller" not in body.decode().lower()
    event = WebhookEvent.objects.get()
    assert event.status == "delivered" and event.deliveries.get().status_code == 200


def test_signature_is_hmac_of_timestamp_dot_body():
    import hashlib
    import hmac

    header = webhooks.sign(secret="s", timestamp=1700000000, body=b'{"a":1}')
    assert header == "t=1700000000,v1=" + hmac.new(b"s", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert not webhooks.verify(secret="s", header=header, body=b'{"a":1}', now=1700000000 + 301)  # replay too old


def test_failure_is_logged_and_retried_with_backoff_until_delivered(partner, receiver):
    receiver.codes = [500, 503]
    event = webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={"call_record_id": 1})
    # (eager on_commit already tried once under transaction=True)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("pending", 1)
    assert event.next_attempt_at > timezone.now() + dt.timedelta(seconds=25)

    assert webhooks.deliver(event_pk=event.pk) == "skipped"  # not due yet
    later = event.next_attempt_at + dt.timedelta(seconds=1)
    assert webhooks.deliver(event_pk=event.pk, now=later) == "pending"
    event.refresh_from_db()
    assert event.next_attempt_at - later == dt.timedelta(seconds=60)
    assert webhooks.deliver(event_pk=event.pk, now=event.next_attempt_at) == "delivered"

    log = list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "status_code", "ok"))
    assert log == [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert len(receiver.requests) == 3
    ids = {json.loads(body)["id"] for _, body in receiver.requests}
    assert ids == {str(event.event_id)}  # same event id on every retry: partners can de-duplicate


def test_gives_up_after_max_attempts(partner, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 2)
    receiver.codes = [500, 500, 500]
    event = webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={})
    event.refresh_from_db()
    assert webhooks.deliver(event_pk=event.pk, now=event.next_attempt_at) == "failed"
    assert WebhookEvent.objects.get().status == "failed"


def test_unreachable_endpoint_is_recorded_as_an_error(partner, receiver):
    partner.webhook_url = "http://127.0.0.1:9/nothing-listens"
    partner.save()
    event = webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={})
    delivery = WebhookDelivery.objects.get(webhook_event=event)
    # One generic reason for every network failure, and no timing: the partner's log is no port scanner.
    assert not delivery.ok and delivery.status_code is None and delivery.error == "could not deliver"
    assert delivery.duration_ms == 0


def test_sweeper_sends_events_whose_task_never_ran(partner, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "_send_task", lambda *a, **k: None)  # broker down
    event = webhooks.enqueue_event(partner_id=partner.pk, event="admission_request.routed", payload={"x": 1})
    assert receiver.requests == []
    assert sweep_webhook_deliveries() == 1
    assert sweep_webhook_deliveries() == 0
    event.refresh_from_db()
    assert event.status == "delivered" and len(receiver.requests) == 1


def test_task_run_twice_sends_once(partner, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "_send_task", lambda *a, **k: None)
    event = webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={})
    webhooks.deliver(event_pk=event.pk)
    webhooks.deliver(event_pk=event.pk)
    assert len(receiver.requests) == 1


def test_partner_without_webhook_gets_no_event():
    partner = PartnerFactory()
    assert webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={}) is None
    assert not WebhookEvent.objects.exists()


def test_unknown_event_name_is_refused(partner):
    with pytest.raises(ValueError, match="Unknown webhook event"):
        webhooks.enqueue_event(partner_id=partner.pk, event="call.whatever", payload={})
