"""End to end with a REAL Celery worker on Redis: submit -> routed -> notified -> callback bridged -> connected.

The form is posted over HTTP to a live server (this process); tasks are
published to Redis and run by ``celery -A config worker`` started here as a
subprocess on the same test database. The worker's Twilio REST calls go to
the local fake (``tests/fake_twilio.py``), and the test plays Twilio's part on
the webhooks with signed requests. Skipped unless DATABASE_URL (PostgreSQL)
and REDIS_URL are set. Every wait is bounded.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from helpline.models import AdmissionRequest
from tests.factories import FacilityFactory
from tests.fake_twilio import BridgedCallDriver, FakeTwilio, running_fake_twilio, signed_post_factory
from tests.helpline.admission_support import fresh_routing_directory_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SERVICES = bool(os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL"))

pytestmark = [
    pytest.mark.services,
    pytest.mark.usefixtures("fresh_routing_directory"),
    pytest.mark.skipif(not SERVICES, reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL"),
]


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _test_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as server:
        yield server


@pytest.fixture
def publishing_to_redis() -> Iterator[None]:
    """This process publishes to Redis instead of running tasks eagerly (as the web app does in production)."""
    from config.celery_app import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")  # nothing left over from an earlier run
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def worker(transactional_db: None, fake: FakeTwilio, publishing_to_redis: None, tmp_path: Path) -> Iterator[Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=_test_database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        CELERY_TASK_ALWAYS_EAGER="false",
        TWILIO_API_BASE_URL=fake.base_url,
        DATABASE_CONN_MAX_AGE="0",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "worker.log"
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "-l", "INFO", "-c", "1", "-P", "solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "admission-e2e@%h"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: "ready." in log.read_text(errors="replace"), timeout=60, what="celery worker ready")
        yield log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _succeeded(log: Path, task: str) -> int:
    return len(re.findall(rf"Task helpline\.tasks\.{task}\[[^\]]+\] succeeded", log.read_text(errors="replace")))


def test_submit_routed_notified_bridged_connected_with_a_real_worker(live_server, worker, fake, settings):
    settings.ADMISSION_MIN_FILL_SECONDS = 0
    facility = FacilityFactory(
        partner__display_name="Harbor Recovery", partner__notify_sms="+15125550100", phone="+15125550111"
    )

    # 1. A person submits the form over HTTP.
    session = requests.Session()
    page = session.get(f"{live_server.url}/request-a-callback/", timeout=10)
    csrf = session.cookies["csrftoken"]
    stamp = re.search(r'name="started" value="([^"]+)"', page.text)
    assert stamp is not None
    response = session.post(
        f"{live_server.url}/request-a-callback/",
        data={"csrfmiddlewaretoken": csrf, "started": stamp.group(1), "website": "", "for_whom": "myself",
              "first_name": "Sam", "phone": "512-867-5309", "zip_code": "78701", "service": "detox",
              "language": "en", "callback_when": "now", "allow_text": "on", "consent": "on"},
        headers={"Referer": f"{live_server.url}/request-a-callback/"}, timeout=20,
    )  # fmt: skip
    assert response.status_code == 200 and "Harbor Recovery" in response.text
    req = AdmissionRequest.objects.get()
    assert req.partner == facility.partner

    # 2. The worker notifies the partner (SMS through the fake Twilio) and places the callback.
    wait_for(lambda: len(fake.calls()) == 1, timeout=45, what="the worker to place the callback call")
    # Twilio answers the REST request before the worker commits what it placed: wait for the commit too.
    wait_for(
        lambda: AdmissionRequest.objects.filter(pk=req.pk, status="callback_attempted").exists(),
        timeout=15, what="the worker to record the callback attempt",
    )  # fmt: skip
    req.refresh_from_db()
    assert req.status == "callback_attempted" and req.notified_at is not None
    assert req.notify_email_sent_at is not None
    [sms] = fake.messages()
    assert sms.params["To"] == "+15125550100" and f"/portal/requests/{req.public_id}/" in sms.params["Body"]
    [call] = fake.calls()
    assert call.params["To"] == "+15125550111"

    # 3. Twilio's part: partner answers and presses 1, the person answers and presses 1.
    def send(path: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        r = requests.post(f"{live_server.url}{urlsplit(path).path}", data=params,
                          headers={"X-Twilio-Signature": signature}, timeout=20)  # fmt: skip
        return r.status_code, r.text

    poster = signed_post_factory(public_base_url=settings.PUBLIC_BASE_URL, auth_token=settings.TWILIO_AUTH_TOKEN,
                                 send=send)  # fmt: skip
    outcome = BridgedCallDriver(post=poster).run(call)
    assert outcome.status_code == 204
    assert "<Dial" in outcome.partner_twiml[1]

    req.refresh_from_db()
    assert req.status == "connected" and req.connected_at is not None
    assert [c.to_status for c in req.status_changes.all()] == [
        "new", "routed", "notified", "callback_attempted", "connected"
    ]  # fmt: skip

    # 4. The same tasks delivered again (late ack, a sweep racing a retry): nothing is sent twice.
    from helpline.admission import tasks

    done_notify = _succeeded(worker, "notify_partner_of_admission_request")
    done_call = _succeeded(worker, "place_admission_callback")
    tasks.notify_partner_of_admission_request.delay(req.pk)
    tasks.place_admission_callback.delay(req.pk)
    wait_for(
        lambda: (
            _succeeded(worker, "notify_partner_of_admission_request") > done_notify
            and _succeeded(worker, "place_admission_callback") > done_call
        ),
        timeout=30,
        what="the worker to run the repeated tasks",
    )
    assert len(fake.calls()) == 1 and len(fake.messages()) == 1
    assert "8675309" not in worker.read_text(errors="replace")  # no caller number in the worker's log
