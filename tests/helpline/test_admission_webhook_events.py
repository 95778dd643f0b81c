"""A partner with a webhook hears that a request was routed to it: ids and needs, never name or phone."""

from __future__ import annotations

import json

import pytest

from helpline.admission import services as admission
from helpline.models import AdmissionRequest
from partners.models import WebhookEvent
from tests.factories import FacilityFactory
from tests.helpline.admission_support import PHONE_E164

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]


def _submit() -> AdmissionRequest:
    data = {
        "for_whom": "myself", "first_name": "Sam", "phone": PHONE_E164, "zip_code": "78701", "state": "TX",
        "time_zone": "America/Chicago", "service": "detox", "language": "en", "callback_when": "now",
        "allow_voicemail": False, "allow_text": True,
    }  # fmt: skip
    return admission.admission_request_submit(data=admission.AdmissionInput(**data))


def test_routed_request_queues_one_event_for_the_chosen_partner():
    facility = FacilityFactory(
        partner__webhook_url="https://partner.example.org/hooks", partner__webhook_secret="s3cret-for-tests"
    )
    req = _submit()
    req.refresh_from_db()
    assert req.partner_id == facility.partner_id
    # Routing again is a no-op (the request is no longer new): still one event.
    admission.admission_request_route(request_id=req.pk)

    events = list(WebhookEvent.objects.all())
    assert [(e.partner_id, e.event) for e in events] == [(facility.partner_id, "admission_request.routed")]
    body = json.dumps(events[0].payload)
    assert events[0].payload["request_id"] == str(req.public_id)
    assert "Sam" not in body and PHONE_E164[-7:] not in body


def test_partner_without_webhook_gets_no_event():
    FacilityFactory()
    req = _submit()
    req.refresh_from_db()
    assert req.partner_id is not None
    assert not WebhookEvent.objects.exists()
