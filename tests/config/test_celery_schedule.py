"""The beat schedule at work: each entry's task is found where beat and the workers look for it, runs
against the database in the embedded mode and does its job, and the embedded loop (``run_periodic``)
fires each entry when its time comes, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import time_machine
from celery import Task, current_app
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from helpline.management.commands import run_periodic
from helpline.models import AdmissionRequest
from partners.models import BillingDecision, Invoice, WebhookEvent
from partners.webhooks import delivery
from routing.models import PartnerCounter
from tests.factories import AdmissionRequestFactory, CallFactory, FacilityFactory, PartnerFactory, billed_call
from tests.helpline.admission_support import (  # noqa: F401
    fresh_routing_directory_fixture,
    twilio_offline_fixture,
)
from tests.helpline.test_stale_legs import open_leg
from tests.partners.test_webhooks import Receiver

SCHEDULE = settings.CELERY_BEAT_SCHEDULE
Check = Callable[[Any], None]  # gets the task's return value; asserts the job was done


def _stuck_request(**_: Any) -> Check:
    """A request nobody routed (its task was lost): the minute sweep routes it."""
    facility = FacilityFactory()
    request = AdmissionRequestFactory(
        status=AdmissionRequest.Status.NEW, service="detox", created_at=timezone.now() - timedelta(minutes=10)
    )

    def check(counts: Any) -> None:
        request.refresh_from_db()
        assert counts["route"] == 1
        assert request.status != AdmissionRequest.Status.NEW and request.partner_id == facility.partner_id

    return check


def _last_months_calls(**_: Any) -> Check:
    """A call in March, never billed (its hook was lost): on 1 April it is billed and invoiced."""
    facility = FacilityFactory(partner__price_per_call_cents=4500)
    billed_call(facility=facility, started_at=dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC))

    def check(invoices: Any) -> None:
        assert invoices == 1
        invoice = Invoice.objects.get(partner=facility.partner)
        assert (invoice.month, invoice.total_cents) == (dt.date(2026, 3, 1), 4500)

    return check


def _expired_caller_data(**_: Any) -> Check:
    """A call older than the retention period: its caller's number goes."""
    call = CallFactory(started_at=timezone.now() - timedelta(days=settings.CALLER_DATA_RETENTION_DAYS + 1))

    def check(counts: Any) -> None:
        call.refresh_from_db()
        assert counts["calls"] == 1
        assert call.caller_number is None and call.purged_at is not None

    return check


def _stale_leg(**_: Any) -> Check:
    """A leg whose end Twilio never reported: closed, and the partner's slot freed."""
    facility = FacilityFactory(partner__concurrent_call_cap=1)
    leg = open_leg(facility, started_at=timezone.now() - timedelta(hours=1))

    def check(counts: Any) -> None:
        leg.refresh_from_db()
        assert counts["released"] == 1
        assert leg.ended_at is not None
        assert PartnerCounter.objects.get(partner_id=facility.partner_id).active_calls == 0

    return check


def _unbilled_call(**_: Any) -> Check:
    """An ended call whose billing hook was lost: billed by the sweep."""
    call, _leg = billed_call(facility=FacilityFactory())

    def check(charges: Any) -> None:
        assert charges == 1
        assert BillingDecision.objects.get(call=call).reason == BillingDecision.Reason.BILLABLE

    return check


def _guide_past_review(**fixtures: Any) -> Check:
    """A published guide whose clinical review is overdue: staff get the weekly email."""
    from helpline.site.guides.loader import load_guides
    from helpline.site.guides.models import Guide
    from tests.guides.conftest import publish

    fixtures["settings"].STAFF_ALERT_EMAILS = ["clinical@example.org"]
    load_guides()
    publish(Guide.objects.get(slug="opioids", language="en"), reviewed_on=dt.date(2024, 1, 10))

    def check(emailed: Any) -> None:
        assert emailed == 1
        assert [m.to for m in mail.outbox] == [["clinical@example.org"]]

    return check


def _webhook_never_sent(**fixtures: Any) -> Check:
    """A webhook event whose delivery task was lost (broker down): the sweep delivers it."""
    settings_, monkeypatch = fixtures["settings"], fixtures["monkeypatch"]
    settings_.WEBHOOK_ALLOW_HTTP = True  # a receiver on loopback, as in the webhook tests
    settings_.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    receiver = Receiver()
    fixtures["request"].addfinalizer(receiver.close)
    partner = PartnerFactory(webhook_url=receiver.url, webhook_secret="whsec-test-schedule")
    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_send_task", lambda *a, **k: None)
        event = delivery.enqueue_event(partner_id=partner.pk, event="call.connected", payload={"call": 1})
    assert event is not None

    def check(sent: Any) -> None:
        event.refresh_from_db()
        assert sent == 1
        assert event.status == WebhookEvent.Status.DELIVERED and len(receiver.requests) == 1

    return check


# Every beat entry, with due work for it. A new entry needs a line here (see the first test).
JOBS: dict[str, Callable[..., Check]] = {
    "sweep-admission-requests": _stuck_request,
    "monthly-invoices": _last_months_calls,
    "purge-expired-caller-data": _expired_caller_data,
    "release-stale-legs": _stale_leg,
    "sweep-unbilled-calls": _unbilled_call,
    "guides-past-review": _guide_past_review,
    "sweep-webhook-deliveries": _webhook_never_sent,
}
# When each job runs (None: now). Invoices are for the month before the run.
RUN_AT = {"monthly-invoices": dt.datetime(2026, 4, 1, 0, 15, tzinfo=dt.UTC)}


def test_every_beat_entry_has_a_job_test_below():
    assert sorted(JOBS) == sorted(SCHEDULE)


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")
@pytest.mark.parametrize("entry", sorted(SCHEDULE))
def test_each_scheduled_task_runs_against_the_database_and_does_its_job(entry, settings, monkeypatch, request):
    # What a worker or the embedded loop does first: import the task modules, then look the task up by name.
    current_app.loader.import_default_modules()
    task = current_app.tasks[str(SCHEDULE[entry]["task"])]
    at = RUN_AT.get(entry)
    with time_machine.travel(at or timezone.now(), tick=at is None):
        check = JOBS[entry](settings=settings, monkeypatch=monkeypatch, request=request)
        result = task.apply()  # as run_periodic runs it
    assert result.successful(), result.traceback
    check(result.get())


def test_every_task_of_ours_acknowledges_late_so_a_killed_worker_means_a_redelivery():
    """The redelivery itself is proven with real workers in tests/faults/test_worker_killed.py."""
    current_app.loader.import_default_modules()
    ours = {
        name: task
        for name, task in current_app.tasks.items()
        if name.split(".")[0] in {"helpline", "partners", "routing"}
    }
    assert {SCHEDULE[e]["task"] for e in SCHEDULE} <= set(ours)
    assert [name for name, task in ours.items() if not (task.acks_late and task.reject_on_worker_lost)] == []


class _Stop(Exception):
    pass


def _run_the_embedded_loop(*, start: dt.datetime, until: dt.datetime, tick: float) -> dict[str, list[dt.datetime]]:
    """``run_periodic`` from ``start`` to ``until`` on a travelling clock; when each task was started (not run)."""
    started: dict[str, list[dt.datetime]] = {}

    def record(self: Task, *args: Any, **kwargs: Any) -> None:
        started.setdefault(self.name, []).append(timezone.now())

    with time_machine.travel(start, tick=False) as traveller:

        def sleep(seconds: float) -> None:
            traveller.shift(timedelta(seconds=seconds))
            if timezone.now() >= until:
                raise _Stop

        with (
            mock.patch.object(run_periodic, "time", SimpleNamespace(sleep=sleep)),
            mock.patch.object(Task, "apply", record),
            pytest.raises(_Stop),
        ):
            call_command("run_periodic", "--tick", str(tick))
    return started


def _slots(schedule: crontab, *, start: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The minutes in [start, until) that ``schedule`` names (crontab's day_of_week counts from Sunday = 0)."""
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    slots = []
    while minute < until:
        if (
            minute.minute in schedule.minute
            and minute.hour in schedule.hour
            and minute.day in schedule.day_of_month
            and minute.month in schedule.month_of_year
            and (minute.isoweekday() % 7) in schedule.day_of_week
        ):
            slots.append(minute)
        minute += timedelta(minutes=1)
    return slots


def test_the_embedded_loop_fires_each_entry_when_its_time_comes_and_only_then():
    # Sunday 29 November 2026, ten minutes before December, to Tuesday 1 December 14:00 UTC: a month turns,
    # two nights pass and a Monday comes.
    start = dt.datetime(2026, 11, 29, 23, 50, tzinfo=dt.UTC)
    until = dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC)
    tick = 15.0

    started = _run_the_embedded_loop(start=start, until=until, tick=tick)

    for name, entry in SCHEDULE.items():
        runs = started.get(str(entry["task"]), [])
        schedule = entry["schedule"]
        if isinstance(schedule, timedelta):
            # At start, then every interval (to the next tick), never sooner.
            assert runs[0] == start, name
            gaps = {later - earlier for earlier, later in zip(runs, runs[1:], strict=False)}
            assert gaps and all(schedule <= gap < schedule + timedelta(seconds=tick) for gap in gaps), name
            assert until - runs[-1] < schedule + timedelta(seconds=tick), name
        else:
            # Once per slot, within one tick after it; not at start.
            slots = _slots(schedule, start=start, until=until)
            assert len(runs) == len(slots), name
            assert all(slot <= run < slot + timedelta(seconds=tick) for slot, run in zip(slots, runs, strict=True))

    invoices = started["partners.tasks.generate_monthly_invoices"]
    assert [run.date() for run in invoices] == [dt.date(2026, 12, 1)]  # once, on the 1st
    assert len(started["helpline.retention.purge_expired_caller_data"]) == 2  # nightly
    assert len(started["helpline.site.guides.tasks.email_guides_past_review"]) == 1  # weekly, on the Monday


@pytest.mark.django_db
def test_run_periodic_once_runs_the_interval_tasks_and_waits_for_the_crontab_ones():
    ran: list[str] = []
    original = Task.apply

    def recording_apply(self, *args, **kwargs):
        ran.append(self.name)
        return original(self, *args, **kwargs)

    with mock.patch.object(Task, "apply", recording_apply):
        call_command("run_periodic", "--once")
    interval_tasks = {str(e["task"]) for e in SCHEDULE.values() if isinstance(e["schedule"], timedelta)}
    assert sorted(ran) == sorted(interval_tasks)
    assert "partners.tasks.generate_monthly_invoices" not in ran  # crontab: the 1st of the month, not at start
