"""Staff queue of admission requests: attention filter, timeline, masked phone, re-route, close with note."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from helpline.admission import services as admission
from helpline.models import AdmissionRequest, AuditEvent
from tests.factories import FacilityFactory, StaffFactory
from tests.helpline.admission_support import PHONE_E164

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]
BASE = "/" + settings.ADMIN_URL.strip("/") + "/helpline/admissionrequest/"


def submit(**overrides) -> AdmissionRequest:
    data = {
        "for_whom": "myself", "first_name": "Sam", "phone": PHONE_E164, "zip_code": "78701", "state": "TX",
        "time_zone": "America/Chicago", "service": "detox", "language": "en", "callback_when": "now",
        "allow_voicemail": False, "allow_text": False,
    }  # fmt: skip
    data.update(overrides)
    return admission.admission_request_submit(data=admission.AdmissionInput(**data))


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def test_queue_shows_unrouted_overdue_and_unreachable_but_not_fine_ones(staff_client):
    unrouted = submit(phone="+15128675301")  # no partner yet
    FacilityFactory(partner__notify_email="")
    fine = submit(phone="+15128675302")
    overdue = submit(phone="+15128675303")
    AdmissionRequest.objects.filter(id=overdue.pk).update(window_start=timezone.now() - dt.timedelta(hours=2))
    unreachable = submit(phone="+15128675304")
    AdmissionRequest.objects.filter(id=unreachable.pk).update(status="unreachable")

    page = staff_client.get(BASE + "?attention=any").content.decode()
    for req in (unrouted, overdue, unreachable):
        assert str(req.public_id)[:8] in page
    assert str(fine.public_id)[:8] not in page
    assert "8675301" not in page and "•••-•••-5301" in page  # masked only

    only_overdue = staff_client.get(BASE + "?attention=overdue").content.decode()
    assert str(overdue.public_id)[:8] in only_overdue and str(unrouted.public_id)[:8] not in only_overdue


def test_detail_page_shows_timeline_and_decision_masks_the_phone_and_is_audited(staff_client):
    FacilityFactory(partner__display_name="Harbor Recovery", partner__notify_email="")
    req = submit()
    page = staff_client.get(f"{BASE}{req.pk}/change/").content.decode()
    assert "Timeline" in page and "routed to Harbor Recovery" in page
    assert "8675309" not in page and "•••-•••-5309" in page
    event = AuditEvent.objects.get(object_id=str(req.pk), action="view")
    assert event.where == "admin" and event.fields == ["first_name", "phone"]
    assert "8675309" not in str(event.fields)


def test_showing_the_full_number_is_its_own_audited_step(staff_client):
    req = submit()
    page = staff_client.get(f"{BASE}{req.pk}/phone/").content.decode()
    assert PHONE_E164 in page
    assert AuditEvent.objects.filter(object_id=str(req.pk), action="view", fields=["phone"]).exists()


def test_staff_can_find_a_request_by_the_full_phone_number(staff_client):
    req = submit()
    found = staff_client.post(BASE + "find-by-phone/", {"phone": "(512) 867-5309"})  # POST: not in the URL
    page = staff_client.get(found["Location"]).content.decode()
    assert str(req.public_id)[:8] in page


def test_reroute_action_runs_routing_again(staff_client):
    req = submit()
    assert req.status == "unrouted"
    facility = FacilityFactory(partner__display_name="Late Partner", partner__notify_email="")
    response = staff_client.post(BASE, {"action": "reroute", "_selected_action": [req.pk]})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "routed" and req.partner == facility.partner and not req.needs_attention
    notes = list(req.status_changes.values_list("to_status", "note"))
    assert ("new", "re-routed by staff") in notes and notes[-1][0] == "routed"
    # The note is encrypted at rest, so it is matched in Python, not in SQL.
    [by_staff] = [c for c in req.status_changes.all() if c.note == "re-routed by staff"]
    assert by_staff.by is not None and by_staff.by.is_staff


def test_close_with_note_asks_for_the_note_then_closes(staff_client):
    req = submit()
    ask = staff_client.post(BASE, {"action": "close_with_note", "_selected_action": [req.pk]})
    assert ask.status_code == 200 and "Close with this note" in ask.content.decode()
    req.refresh_from_db()
    assert req.status == "unrouted"

    done = staff_client.post(
        BASE,
        {"action": "close_with_note", "_selected_action": [req.pk], "apply": "1", "note": "Called from our line."},
    )
    assert done.status_code == 302
    req.refresh_from_db()
    assert req.status == "closed" and req.staff_note == "Called from our line." and not req.needs_attention
    assert req.status_changes.last().note == "Called from our line."
    assert admission.admission_request_place_callback(request_id=req.pk) is None


def test_partner_logins_cannot_open_the_queue(client):
    from tests.factories import PartnerUserFactory

    client.force_login(PartnerUserFactory())
    assert client.get(BASE).status_code == 302  # to the admin login
