"""The nightly purge removes caller-identifying data and keeps the counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from helpline.models import AdmissionRequest, AdmissionStatusChange, AuditEvent, Call, CallEvent
from helpline.retention import purge_caller_data, purge_expired_caller_data
from routing.models import RoutingDecision
from tests.factories import (
    CALLER_NAME,
    CALLER_NUMBER,
    AdmissionRequestFactory,
    CallEventFactory,
    CallFactory,
    PartnerFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _raw(table: str, column: str, pk: int) -> object:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - fixed names
        return cursor.fetchone()[0]


def _days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@override_settings(CALLER_DATA_RETENTION_DAYS=90)
def test_old_call_loses_number_note_zip_and_event_detail_but_keeps_counts():
    partner = PartnerFactory(repeat_caller_window_days=30)
    old = CallFactory(
        started_at=_days_ago(91),
        followup_note=f"{CALLER_NAME} asked for a call after 6",
        connected_partner=partner,
        talk_seconds=300,
    )
    event = CallEventFactory(call=old, received_at=_days_ago(91))
    recent = CallFactory(started_at=_days_ago(89), followup_note="keep me")

    counts = purge_caller_data(now=NOW)

    assert counts["calls"] == 1
    old.refresh_from_db()
    assert old.caller_number is None
    assert _raw("helpline_call", "caller_number", old.pk) is None
    assert old.followup_note == ""
    assert old.zip_code == ""
    assert old.caller_hash == ""  # retention (90) is longer than the repeat window (30)
    assert old.purged_at == NOW
    # What reports and invoices need is still there.
    assert (old.connected_partner_id, old.talk_seconds, old.service, old.state, old.caller_area) == (
        partner.pk,
        300,
        "detox",
        "TX",
        "Austin, TX",
    )
    event.refresh_from_db()
    assert event.detail == {}
    assert (event.kind, event.status) == ("status", "completed")
    recent.refresh_from_db()
    assert (recent.caller_number, recent.followup_note, recent.purged_at) == (CALLER_NUMBER, "keep me", None)
    assert Call.objects.count() == 2
    audit = AuditEvent.objects.get(action=AuditEvent.Action.PURGE)
    assert (audit.object_type, audit.object_id, audit.where, audit.actor_label) == (
        "helpline.Call",
        str(old.pk),
        "task",
        "system",
    )
    assert audit.fields == ["caller_number", "followup_note", "zip_code"]


@override_settings(CALLER_DATA_RETENTION_DAYS=90)
def test_old_admission_request_loses_name_phone_and_health_details():
    old = AdmissionRequestFactory(created_at=_days_ago(100), staff_note="Left a voicemail for Marguerite")
    change = AdmissionStatusChange.objects.create(
        request=old, from_status="new", to_status="closed", note="spoke to Marguerite"
    )
    recent = AdmissionRequestFactory(created_at=_days_ago(10))

    counts = purge_caller_data(now=NOW)

    assert counts["admission_requests"] == 1
    old.refresh_from_db()
    assert (old.first_name, old.phone, old.phone_hash) == (None, None, "")
    assert _raw("helpline_admissionrequest", "first_name", old.pk) is None
    assert _raw("helpline_admissionrequest", "phone", old.pk) is None
    assert (old.substances, old.payment, old.caller_timezone, old.zip_code, old.staff_note) == ([], "", "", "", "")
    assert (old.service, old.state, old.status) == ("residential", "TX", "routed")
    change.refresh_from_db()
    assert (change.note, change.to_status) == ("", "closed")
    recent.refresh_from_db()
    assert (recent.first_name, recent.phone) == (CALLER_NAME, CALLER_NUMBER)
    assert AdmissionRequest.objects.count() == 2


@override_settings(CALLER_DATA_RETENTION_DAYS=30)
def test_hash_is_kept_while_a_repeat_caller_window_needs_it():
    PartnerFactory(repeat_caller_window_days=60)
    call = CallFactory(started_at=_days_ago(45))
    request = AdmissionRequestFactory(created_at=_days_ago(45))

    purge_caller_data(now=NOW)
    call.refresh_from_db()
    request.refresh_from_db()
    assert call.caller_number is None and call.caller_hash != ""
    assert request.phone is None and request.phone_hash != ""

    # Once the longest window has passed too, the hash goes.
    purge_caller_data(now=NOW + dt.timedelta(days=16))
    call.refresh_from_db()
    request.refresh_from_db()
    assert (call.caller_hash, request.phone_hash) == ("", "")
    assert call.purged_at == NOW  # the first purge's time stays


@override_settings(CALLER_DATA_RETENTION_DAYS=90)
def test_purge_is_idempotent():
    CallFactory(started_at=_days_ago(120))
    AdmissionRequestFactory(created_at=_days_ago(120))

    first = purge_caller_data(now=NOW)
    second = purge_caller_data(now=NOW + dt.timedelta(hours=1))

    assert first["calls"] == 1 and first["admission_requests"] == 1
    assert second == {"calls": 0, "admission_requests": 0, "hashes": 0, "other": 0}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PURGE).count() == 2
    assert Call.objects.get().purged_at == NOW


@override_settings(CALLER_DATA_RETENTION_DAYS=90)
def test_purge_works_through_many_batches():
    CallFactory.create_batch(7, started_at=_days_ago(200))

    counts = purge_caller_data(now=NOW, batch_size=3)

    assert counts["calls"] == 7
    assert not Call.objects.filter(purged_at__isnull=True).exists()
    assert set(Call.objects.values_list("caller_number", flat=True)) == {None}


@override_settings(CALLER_DATA_RETENTION_DAYS=90)
def test_orphan_events_and_old_routing_decisions_are_scrubbed():
    orphan = CallEvent.objects.create(
        sid="CAunknown", kind="status", status="ringing", detail={"FromZip": "78701"}, received_at=_days_ago(95)
    )
    decision = RoutingDecision.objects.create(kind="call", zip_code="78701", state="TX", created_at=_days_ago(95))
    fresh = RoutingDecision.objects.create(kind="call", zip_code="78702", state="TX", created_at=_days_ago(5))

    purge_caller_data(now=NOW)

    orphan.refresh_from_db()
    decision.refresh_from_db()
    fresh.refresh_from_db()
    assert orphan.detail == {}
    assert (decision.zip_code, decision.state) == ("", "TX")
    assert fresh.zip_code == "78702"


@override_settings(CALLER_DATA_RETENTION_DAYS=1)
def test_scheduled_task_is_registered_and_purges():
    from config.celery_app import app

    CallFactory(started_at=timezone.now() - dt.timedelta(days=2))

    assert "helpline.retention.purge_expired_caller_data" in app.tasks
    result = purge_expired_caller_data.apply().get()

    assert result["calls"] == 1
    assert Call.objects.get().caller_number is None


@override_settings(CALLER_DATA_RETENTION_DAYS=90)
def test_billing_ledger_and_counts_survive_the_purge_and_its_hash_copy_goes():
    from partners.billing.rule import bill_call
    from partners.models import BillingDecision, LedgerEntry
    from tests.factories import DialAttemptFactory

    attempt = DialAttemptFactory(call__started_at=_days_ago(120), started_at=_days_ago(120), talk_seconds=400)
    bill_call(call_id=attempt.call_id)
    ledger_before = list(LedgerEntry.objects.values_list("partner_id", "kind", "amount_cents", "occurred_at"))
    assert len(ledger_before) == 1
    assert BillingDecision.objects.get().caller_hash != ""

    purge_caller_data(now=NOW)

    assert list(LedgerEntry.objects.values_list("partner_id", "kind", "amount_cents", "occurred_at")) == ledger_before
    decision = BillingDecision.objects.get()
    assert decision.caller_hash == ""
    assert (decision.billable, decision.reason, decision.talk_seconds) == (True, "billable", 400)
    call = Call.objects.get()
    assert call.purged_at == NOW and call.caller_number is None
    assert call.attempts.count() == 1
