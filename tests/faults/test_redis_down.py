"""Redis (cache and Celery broker) stopped: calls still route, forms still save, and the queued work
is sent, once, when Redis is back."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import requests
from django.utils import timezone

from helpline.models import AdmissionRequest, Call, DialAttempt
from tests.fake_twilio import running_fake_twilio
from tests.faults.conftest import LiveClient, run_manage, wait_for
from tests.helpline.admission_support import PHONE, form_data
from tests.helpline.voice_support import CallDriver, make_directory

pytestmark = pytest.mark.faults

CALLER = "+15125550123"
# A caller must never wait on Redis: the cache client gives up after 0.5 s, the broker after 1 s.
MAX_WEBHOOK_SECONDS = 2.0


def _whole_call(client: LiveClient, *, from_: str, facilities: list) -> CallDriver:
    driver = CallDriver(client, from_=from_)
    driver.incoming()
    driver.press("1")  # detox
    assert driver.number().text == str(facilities[0].phone)  # routed to the first partner, not the fallback
    driver.partner_press(driver.answer(), "1")
    driver.dial_result("completed", duration="95", call_status="completed")
    assert driver.hangup(duration="130", seq=4).status_code in (200, 204)
    return driver


def test_calls_route_and_complete_while_redis_is_down(app_env, redis_server, start_gunicorn):
    facilities = make_directory()
    app = start_gunicorn(app_env, workers=1)
    # One call while Redis is up warms the worker (ZIP data, the compiled directory), so the time
    # measured below is what Redis being down costs a caller, not a cold process on a busy machine.
    _whole_call(LiveClient(app.extra["base"]), from_="+15125550177", facilities=facilities)
    redis_server.stop()

    client = LiveClient(app.extra["base"])
    driver = _whole_call(client, from_=CALLER, facilities=facilities)

    slow = [(path, round(seconds, 2)) for path, seconds in client.timings if seconds > MAX_WEBHOOK_SECONDS]
    assert slow == []
    call = Call.objects.get(call_sid=driver.sid)
    assert call.connected_partner_id == facilities[0].partner_id
    assert call.status == Call.Status.COMPLETED
    assert DialAttempt.objects.get(call=call).accepted is True
    assert CALLER.removeprefix("+1") not in app.output()  # nothing about the caller in the server log


def _submit_form(base: str, **overrides: str) -> tuple[requests.Response, float]:
    session = requests.Session()
    page = session.get(f"{base}/request-a-callback/", timeout=30)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token
    data = form_data(**overrides)
    data["csrfmiddlewaretoken"] = token.group(1)
    started = time.monotonic()
    response = session.post(
        f"{base}/request-a-callback/", data=data, headers={"Referer": f"{base}/request-a-callback/"},
        allow_redirects=False, timeout=60,
    )  # fmt: skip
    return response, time.monotonic() - started


def test_forms_save_while_redis_is_down_and_their_work_is_sent_once_when_it_is_back(
    app_env, redis_server, start_gunicorn, start_worker
):
    facilities = make_directory()
    partner = facilities[0].partner
    partner.notify_sms = "+15125557777"
    partner.save(update_fields=["notify_sms"])
    with running_fake_twilio() as fake:
        env = dict(app_env, TWILIO_API_BASE_URL=fake.base_url)
        app = start_gunicorn(env)
        redis_server.stop()

        response, seconds = _submit_form(app.extra["base"])
        assert response.status_code == 302, response.text[:3000]
        assert seconds < 5, f"form took {seconds:.1f}s with Redis down"
        request = AdmissionRequest.objects.get()
        assert request.phone == "+1" + re.sub(r"\D", "", PHONE)
        assert request.notified_at is None and fake.messages() == []  # nothing could be sent yet

        # Redis back, a worker running, and the sweeper (beat runs it every minute) re-enqueues.
        redis_server.start()
        worker = start_worker(env)
        # The sweeper leaves requests alone for a couple of minutes (the normal enqueue may still be on
        # its way); the outage lasted longer than that, which we stand in for by ageing the row.
        AdmissionRequest.objects.update(updated_at=timezone.now() - dt.timedelta(minutes=5))
        swept = run_manage(env, "from helpline.admission.tasks import sweep_admission_requests as s; print(s())")
        assert "'notify': 1" in swept
        try:
            wait_for(
                lambda: AdmissionRequest.objects.get().notified_at is not None and fake.calls(),
                timeout=60,
                what="partner notified and callback placed",
            )
        except AssertionError:
            print("WORKER", worker.output()[-5000:])
            print("APP", app.output()[-3000:])
            print("STATE", list(AdmissionRequest.objects.values("status", "notified_at", "claimed_at")))
            raise
        # A second and third sweep (as beat would run) send nothing again.
        run_manage(env, "from helpline.admission.tasks import sweep_admission_requests as s; print(s())")
        run_manage(env, "from helpline.admission.tasks import sweep_admission_requests as s; print(s())")
        time.sleep(3)

        texts = [m for m in fake.messages() if m.params.get("To") == "+15125557777"]
        assert len(texts) == 1
        assert PHONE.replace("-", "") not in texts[0].params["Body"]  # the SMS carries no caller data
        assert len(fake.calls()) == 1

        # The running app reconnected by itself: a new request goes straight through, no sweeper needed.
        again, _ = _submit_form(app.extra["base"], phone="512-555-0242", first_name="Alex")
        assert again.status_code == 302
        wait_for(
            lambda: AdmissionRequest.objects.filter(notified_at__isnull=False).count() == 2,
            timeout=60,
            what="second request notified through the broker",
        )
        assert "Traceback" not in worker.output()
