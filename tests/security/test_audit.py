"""The audit trail: who viewed or changed caller data, with field names and never values."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from helpline.audit import audit_record, caller_data_fields
from helpline.models import AdmissionRequest, AuditEvent, Call
from tests.factories import CALLER_NAME, CALLER_NUMBER, CallFactory, StaffFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls_audit")]


@pytest.fixture
def staff_client():
    client = Client(REMOTE_ADDR="198.51.100.20")
    client.staff = StaffFactory(username="intake.amy")
    client.force_login(client.staff)
    return client


def _all_audit_text() -> str:
    return " ".join(str(v) for row in AuditEvent.objects.values_list() for v in row)


def test_opening_a_record_is_audited_with_field_names_only(staff_client):
    call = CallFactory(followup_note=f"{CALLER_NAME} relapsed")

    response = staff_client.get(f"/audited/helpline/call/{call.pk}/change/")

    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_label, event.where, event.action) == (
        staff_client.staff,
        "intake.amy",
        "admin",
        "view",
    )
    assert (event.object_type, event.object_id) == ("helpline.Call", str(call.pk))
    assert event.fields == ["caller_number", "followup_note"]
    assert event.ip_hash and "198.51.100.20" not in event.ip_hash
    text = _all_audit_text()
    assert CALLER_NAME not in text and CALLER_NUMBER.removeprefix("+1") not in text


def test_saving_a_record_is_audited_with_the_changed_field_names(staff_client):
    call = CallFactory(followup_note="")

    response = staff_client.post(
        f"/audited/helpline/call/{call.pk}/change/",
        {"service": "detox", "followup_note": f"call {CALLER_NAME} at {CALLER_NUMBER}", "needs_followup": "on"},
    )

    assert response.status_code == 302
    change = AuditEvent.objects.get(action="change")
    assert change.fields == ["followup_note", "needs_followup"]
    text = _all_audit_text()
    assert CALLER_NAME not in text and CALLER_NUMBER.removeprefix("+1") not in text
    call.refresh_from_db()
    assert call.followup_note.startswith("call ")


def test_deleting_a_record_is_audited_before_it_goes(staff_client):
    call = CallFactory()

    response = staff_client.post(f"/audited/helpline/call/{call.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Call.objects.exists()
    assert AuditEvent.objects.filter(action="delete", object_id=str(call.pk)).exists()


def test_a_missing_object_is_not_audited(staff_client):
    response = staff_client.get("/audited/helpline/call/999999/change/")

    assert response.status_code == 302  # the admin redirects with "does not exist"
    assert not AuditEvent.objects.exists()


@override_settings(PROXY_COUNT=1)
def test_ip_hash_is_of_the_real_client_behind_the_proxy():
    from django.test import RequestFactory

    call = CallFactory()
    via_proxy = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20")
    direct = RequestFactory().get("/", REMOTE_ADDR="198.51.100.20")
    other = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.21")

    hashes = [audit_record(request=r, where="api", action="view", obj=call).ip_hash for r in (via_proxy, other)]
    with override_settings(PROXY_COUNT=0):
        plain = audit_record(request=direct, where="api", action="view", obj=call).ip_hash

    assert hashes[0] == plain != hashes[1]


def test_caller_data_fields_are_the_encrypted_ones():
    assert caller_data_fields(Call) == ["caller_number", "followup_note"]
    assert set(caller_data_fields(AdmissionRequest)) == {"first_name", "phone", "staff_note"}
