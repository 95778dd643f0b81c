"""A Celery worker killed (SIGKILL) in the middle of a task: the task is delivered again (late
acknowledgement) and nothing happens twice — one text to the partner, one callback call.

Each test counts only once the system is quiet (``wait_until_quiet``: no task queued or in progress and
nothing new written or sent for a settle period), so a duplicate that arrives late is counted too."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from typing import Any

import pytest
from django.utils import timezone

from helpline.models import AdmissionRequest, AdmissionStatusChange, DialAttempt
from tests.fake_twilio import running_fake_twilio
from tests.faults.conftest import run_manage, wait_for, wait_until_quiet
from tests.faults.test_redis_down import _submit_form
from tests.helpline.voice_support import make_directory

pytestmark = pytest.mark.faults

PARTNER_MOBILE = "+15125557777"
VISIBILITY_TIMEOUT = 4  # seconds, as set for the workers by the app_env fixture


def _slow(fake, resource: str, seconds: float) -> threading.Event:
    """Make the fake Twilio hold ``resource`` requests for a while; the event fires when one arrives."""
    arrived = threading.Event()
    original = fake._handle

    def handle(handler):
        if f"/{resource}.json" in handler.path:
            arrived.set()
            time.sleep(seconds)
        original(handler)

    fake._handle = handle
    return arrived


def _task_ids(log: str, task: str) -> list[str]:
    return re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log)


def _effects(fake) -> tuple[Any, ...]:
    """Everything a duplicate would change: requests to Twilio, legs, status changes, the request row."""
    return (
        len(fake.requests),
        DialAttempt.objects.count(),
        AdmissionStatusChange.objects.count(),
        list(AdmissionRequest.objects.values_list("status", "notified_at", "notify_sms_sent_at", "updated_at")),
    )


def test_worker_killed_while_texting_the_partner_sends_one_text_and_one_callback(
    app_env, redis_server, start_gunicorn, start_worker
):
    facilities = make_directory()
    partner = facilities[0].partner
    partner.notify_sms = PARTNER_MOBILE
    partner.save(update_fields=["notify_sms"])
    with running_fake_twilio() as fake:
        env = dict(app_env, TWILIO_API_BASE_URL=fake.base_url)
        app = start_gunicorn(env)
        first = start_worker(env, name="first")
        arrived = _slow(fake, "Messages", seconds=6)

        response, _ = _submit_form(app.extra["base"])
        assert response.status_code == 302
        assert arrived.wait(30), first.output()[-3000:]
        first.kill()  # SIGKILL to the whole worker, mid-request to Twilio
        fake._handle = type(fake)._handle.__get__(fake)  # Twilio is fast again
        # A worker restores unacknowledged messages older than the visibility timeout when it starts
        # (and then on a slow periodic sweep), so the replacement comes up after the timeout.
        time.sleep(VISIBILITY_TIMEOUT + 1)

        second = start_worker(env, name="second")
        task = "helpline.tasks.notify_partner_of_admission_request"
        # Late ack: the unacknowledged message comes back to the new worker (same task id).
        wait_for(lambda: _task_ids(second.output(), task), timeout=60, what="task redelivered to the second worker")
        assert _task_ids(second.output(), task) == _task_ids(first.output(), task)

        # The killed run still holds its claim; once the lease is over the sweeper finishes the job.
        AdmissionRequest.objects.update(
            claimed_at=timezone.now() - dt.timedelta(minutes=11), updated_at=timezone.now() - dt.timedelta(minutes=5)
        )
        run_manage(env, "from helpline.admission.tasks import sweep_admission_requests as s; print(s())")
        wait_for(
            lambda: AdmissionRequest.objects.get().notified_at is not None and fake.calls(),
            timeout=60,
            what="notified and callback placed",
        )
        for _ in range(2):
            run_manage(env, "from helpline.admission.tasks import sweep_admission_requests as s; print(s())")
        wait_until_quiet(redis_url=env["REDIS_URL"], snapshot=lambda: _effects(fake))

        texts = [m for m in fake.messages() if m.params.get("To") == PARTNER_MOBILE]
        assert len(texts) == 1
        assert len(fake.calls()) == 1
        request = AdmissionRequest.objects.get()
        assert request.notify_sms_sent_at is not None
        assert request.status in (AdmissionRequest.Status.NOTIFIED, AdmissionRequest.Status.CALLBACK_ATTEMPTED)


def test_worker_killed_while_placing_the_callback_places_it_once(app_env, redis_server, start_gunicorn, start_worker):
    make_directory()
    with running_fake_twilio() as fake:
        env = dict(app_env, TWILIO_API_BASE_URL=fake.base_url)
        app = start_gunicorn(env)
        first = start_worker(env, name="first")
        arrived = _slow(fake, "Calls", seconds=6)

        response, _ = _submit_form(app.extra["base"])
        assert response.status_code == 302
        assert arrived.wait(40), first.output()[-3000:]
        first.kill()
        fake._handle = type(fake)._handle.__get__(fake)
        time.sleep(VISIBILITY_TIMEOUT + 1)

        second = start_worker(env, name="second")
        task = "helpline.tasks.place_admission_callback"
        wait_for(lambda: _task_ids(second.output(), task), timeout=60, what="callback task redelivered")
        wait_until_quiet(redis_url=env["REDIS_URL"], snapshot=lambda: _effects(fake))
        for _ in range(2):
            run_manage(env, "from helpline.admission.tasks import sweep_admission_requests as s; print(s())")
        wait_until_quiet(redis_url=env["REDIS_URL"], snapshot=lambda: _effects(fake))

        assert len(fake.calls()) == 1
        assert AdmissionRequest.objects.get().attempts.count() == 1
