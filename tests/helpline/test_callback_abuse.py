"""The callback service cannot be aimed at strangers (issue 11, finding 4).

One budget per client across the form and the API; single-use form stamps on
both doors; the API's own stamp and honeypot; and a system-wide breaker that
holds requests for new numbers when too many arrive, alerts staff and lets
them approve in the admin. A held request rings nobody.
"""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from helpline.admission.forms import form_age_seconds, new_form_stamp
from helpline.models import AdmissionRequest, AdmissionStatusChange, DialAttempt
from tests.factories import FacilityFactory, StaffFactory
from tests.helpline.admission_support import api_data, form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]

FORM = "/request-a-callback/"
API = "/api/v1/admission-requests/"
ADDRESS = "198.51.100.77"


@pytest.fixture(autouse=True)
def facility():
    cache.clear()
    yield FacilityFactory(languages=["en", "es"], partner__notify_email="")
    cache.clear()


def _number(i: int) -> str:
    return f"512-867-{5300 + i}"


def test_the_form_and_the_api_share_one_budget_per_client():
    web, api = Client(REMOTE_ADDR=ADDRESS), APIClient(REMOTE_ADDR=ADDRESS)
    for i in range(5):
        assert web.post(FORM, form_data(phone=_number(i))).status_code == 302
        assert api.post(API, api_data(phone=_number(50 + i)), format="json").status_code == 201
    assert AdmissionRequest.objects.count() == 10
    assert api.post(API, api_data(phone=_number(99)), format="json").status_code == 429
    assert web.post(FORM, form_data(phone=_number(98))).status_code == 429
    assert AdmissionRequest.objects.count() == 10


def test_a_form_stamp_is_used_once():
    stamp = new_form_stamp(time.time() - 10)
    first = Client(REMOTE_ADDR="198.51.100.1").post(FORM, form_data(phone=_number(1), started=stamp))
    again = Client(REMOTE_ADDR="198.51.100.2").post(FORM, form_data(phone=_number(2), started=stamp))
    assert first.status_code == 302
    assert again.status_code == 400 and "already sent" in again.content.decode()
    assert AdmissionRequest.objects.count() == 1


def test_the_api_needs_a_fresh_single_use_stamp_and_an_empty_honeypot():
    api = APIClient(REMOTE_ADDR="198.51.100.3")
    without = api_data(phone=_number(1))
    del without["started"]
    assert api.post(API, without, format="json").status_code == 400
    too_fast = api.post(API, api_data(phone=_number(2), started=new_form_stamp()), format="json")
    assert too_fast.status_code == 400 and "faster than a person" in too_fast.json()["started"][0]
    assert api.post(API, api_data(phone=_number(3), website="http://spam"), format="json").status_code == 400
    assert AdmissionRequest.objects.count() == 0

    fetched = api.get(f"{API}stamp/")
    assert fetched.status_code == 200 and fetched["Cache-Control"] == "no-store"
    assert form_age_seconds(fetched.json()["started"]) is not None  # a real stamp, too fresh to send yet
    stamp = new_form_stamp(time.time() - 10)  # as if fetched ten seconds ago
    assert api.post(API, api_data(phone=_number(4), started=stamp), format="json").status_code == 201
    replay = api.post(API, api_data(phone=_number(5), started=stamp), format="json")
    assert replay.status_code == 400 and "already used" in replay.json()["started"][0]
    assert AdmissionRequest.objects.count() == 1


def test_many_new_numbers_are_held_for_staff_and_staff_are_alerted(settings, django_capture_on_commit_callbacks):
    settings.ADMISSION_NEW_NUMBERS_PER_HOUR = 3
    settings.STAFF_ALERT_EMAILS = ["intake-lead@example.org"]
    for i in range(3):
        response = APIClient(REMOTE_ADDR=f"198.51.100.{10 + i}").post(API, api_data(phone=_number(i)), format="json")
        assert response.json()["status"] != "held"
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        held = [
            APIClient(REMOTE_ADDR=f"198.51.100.{20 + i}").post(API, api_data(phone=_number(10 + i)), format="json")
            for i in range(2)
        ]
    assert [r.json()["status"] for r in held] == ["held", "held"]
    held_rows = AdmissionRequest.objects.filter(status="held")
    assert held_rows.count() == 2
    # Nobody was notified or called for a held request.
    assert not DialAttempt.objects.filter(admission_request__in=held_rows).exists()
    assert all(r.partner_id is None and r.notified_at is None for r in held_rows)
    # One alert for the hour, to the staff list, with no caller data in it.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["intake-lead@example.org"]
    assert "held" in mail.outbox[0].subject.lower() and "867" not in mail.outbox[0].body

    # A number we already know is not held: the flood does not delay a person who asks again.
    again = APIClient(REMOTE_ADDR="198.51.100.30").post(API, api_data(phone=_number(0)), format="json")
    assert again.json()["status"] != "held"

    # The web form goes through the same breaker.
    web = Client(REMOTE_ADDR="198.51.100.31").post(FORM, form_data(phone=_number(40)))
    assert web.status_code == 302
    assert AdmissionRequest.objects.filter(status="held").count() == 3


def test_staff_approve_a_held_request_in_the_admin(settings):
    settings.ADMISSION_NEW_NUMBERS_PER_HOUR = 0  # every new number is held
    APIClient(REMOTE_ADDR="198.51.100.40").post(API, api_data(phone=_number(7)), format="json")
    req = AdmissionRequest.objects.get()
    assert req.status == "held"
    staff = Client()
    staff.force_login(StaffFactory())
    response = staff.post("/admin/helpline/admissionrequest/", {"action": "approve_held", "_selected_action": [req.pk]})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status != "held" and req.partner_id is not None  # routed like any other request now
    assert AdmissionStatusChange.objects.filter(request=req, from_status="held", to_status="new").exists()
