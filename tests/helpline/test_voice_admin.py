"""Staff admin of calls: a readable timeline, masked number, audited views, follow-up done with a note."""

from __future__ import annotations

import pytest

from helpline.models import AuditEvent, Call
from tests.factories import StaffFactory
from tests.helpline.voice_support import CallDriver, make_directory

pytestmark = pytest.mark.django_db


def failed_over_call(client) -> Call:
    driver = CallDriver(client, FromZip="78701", FromState="TX")
    driver.incoming()
    driver.press("4")
    driver.dial_result("busy")
    driver.dial_result("no-answer")
    driver.dial_result("failed")
    driver.hangup(duration="95")
    return Call.objects.get(call_sid=driver.sid)


def test_call_page_shows_the_timeline_and_masks_the_number(client):
    make_directory()
    call = failed_over_call(client)
    staff = StaffFactory()
    client.force_login(staff)
    body = client.get(f"/admin/helpline/call/{call.pk}/change/").content.decode()
    assert "•••-•••-0123" in body and "5125550123" not in body
    assert "Caller choice" in body and "Service: Medication-assisted treatment (MAT)" in body
    assert "Routed" in body and "Austin, TX (from the phone network)" in body
    for n, partner, outcome in [(1, "Partner A", "Busy"), (2, "Partner B", "No answer"), (3, "Partner C", "Failed")]:
        assert f"Dial attempt {n}" in body and partner in body and outcome in body
    assert "Sent to fallback line" in body and "needs staff follow-up" in body
    assert "routing-chosen" in body  # routing's decision with reasons
    event = AuditEvent.objects.get(action="view", object_id=str(call.pk))
    assert event.actor == staff and event.where == "admin" and "caller_number" in event.fields


def test_follow_up_done_needs_a_note(client):
    make_directory()
    call = failed_over_call(client)
    assert call.needs_followup
    client.force_login(StaffFactory())
    url = f"/admin/helpline/call/{call.pk}/change/"
    response = client.post(url, {"followup_note": ""})
    assert response.status_code == 200 and b"Say what was done" in response.content
    assert Call.objects.get(pk=call.pk).needs_followup
    response = client.post(url, {"followup_note": "Called back; gave two local options."})
    assert response.status_code == 302
    call.refresh_from_db()
    assert not call.needs_followup and call.followup_note == "Called back; gave two local options."
    change = AuditEvent.objects.get(action="change", object_id=str(call.pk))
    assert set(change.fields) == {"needs_followup", "followup_note"}


@pytest.mark.parametrize(
    "query", ["status__exact=fallback", "needs_followup__exact=1", "location_source__exact=twilio",
              "started_at__gte=2020-01-01", "q=CA"],
)  # fmt: skip
def test_call_list_filters(client, query):
    make_directory()
    call = failed_over_call(client)
    client.force_login(StaffFactory())
    response = client.get(f"/admin/helpline/call/?{query}")
    assert response.status_code == 200
    assert f"/admin/helpline/call/{call.pk}/change/" in response.content.decode()
    assert "5125550123" not in response.content.decode()


def test_call_list_filter_excludes_other_statuses(client):
    make_directory()
    call = failed_over_call(client)
    client.force_login(StaffFactory())
    response = client.get("/admin/helpline/call/?status__exact=completed")
    assert f"/admin/helpline/call/{call.pk}/change/" not in response.content.decode()
