"""Two web nodes on one PostgreSQL and one Redis, as docker-compose runs ``--scale web=2``.

Each node is its own gunicorn started as ``scripts/run.sh`` and the web
container start it (``gunicorn -c config/gunicorn.conf.py``), so each worker
process has its own compiled routing directory and helpline-number cache, kept
fresh by the directory version in the database. The tests prove what a second
node must never get wrong: a pause made through one node holds on the other at
once, a directory edit reaches both before their next call, and claims made
through both at the same moment never pass a partner's cap.

Skipped on SQLite: two server processes writing one embedded file is not how
Clearline runs on more than one machine (and not what the row locks of the
slot claims are written for).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from helpline.models import Call, DialAttempt
from routing.models import PartnerCounter
from tests.factories import UserFactory
from tests.faults.conftest import VENV_BIN, LiveClient, Service, free_port, wait_for
from tests.helpline.voice_support import CallDriver, make_directory

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="two gunicorn nodes need one shared PostgreSQL; two processes on the embedded SQLite file "
        "is not the production shape",
    ),
]

PARTNER_PASSWORD = "a-long-two-node-password-7"
# Calls played through a node after a change: with two workers per node, enough that a worker with a
# stale copy would be hit (the sync sockets share the accept queue, so which worker answers is the kernel's).
CALLS_PER_NODE = 3


@pytest.fixture
def two_nodes(app_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    """Nodes A and B, each a gunicorn started the way run.sh and the web container start it."""
    nodes = []
    for name in ("a", "b"):
        port = free_port()
        env = dict(app_env, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2")
        node = Service(f"node-{name}", [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py"], env,
                       tmp_path / f"node-{name}.log").start()  # fmt: skip
        node.extra["base"] = f"http://127.0.0.1:{port}"
        nodes.append(node)
    try:
        for node in nodes:  # started side by side, then both waited for
            health = f"{node.extra['base']}/healthz"
            wait_for(lambda url=health: requests.get(url, timeout=5).status_code, timeout=30, what=node.name)
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.kill(signal.SIGTERM)


_callers = iter(range(200, 10_000))


def caller() -> str:
    """A fresh Austin caller each time (never a repeat caller, never a fictional 555-01xx number)."""
    return f"+1512867{next(_callers):04d}"


def routed_call(node: Service) -> CallDriver:
    """A caller through ``node`` up to the partner's leg: incoming, then 1 (detox) on the menu."""
    driver = CallDriver(LiveClient(node.extra["base"]), from_=caller())
    driver.incoming()
    driver.press("1")
    return driver


def finish(driver: CallDriver) -> None:
    """The partner accepts and talks, then the caller hangs up: the leg's slot is free again."""
    driver.partner_press(driver.answer(), "1")
    driver.dial_result("completed", duration="95", call_status="completed")
    assert driver.hangup(duration="130", seq=4).status_code in (200, 204)


def dialed(node: Service) -> str:
    """Play one whole call through ``node``; the number its first leg dialed."""
    driver = routed_call(node)
    number = driver.number().text or ""
    finish(driver)
    return number


def portal_session(node: Service, username: str) -> requests.Session:
    base = node.extra["base"]
    session = requests.Session()
    page = session.get(f"{base}/portal/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:2000]
    response = session.post(
        f"{base}/portal/login/",
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": PARTNER_PASSWORD},
        headers={"Referer": f"{base}/portal/login/"}, allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert response.status_code == 302, response.text[:2000]
    return session


def portal_post(session: requests.Session, node: Service, path: str, data: dict[str, str]) -> requests.Response:
    base = node.extra["base"]
    page = session.get(f"{base}/portal/settings/", timeout=30)
    assert page.status_code == 200, page.text[:2000]
    token = session.cookies["csrftoken"]
    return session.post(
        f"{base}{path}", data={"csrfmiddlewaretoken": token, **data},
        headers={"Referer": f"{base}/portal/settings/"}, allow_redirects=False, timeout=30,
    )  # fmt: skip


def partner_user(partner) -> str:
    from partners.models import PartnerMembership

    user = UserFactory(password=PARTNER_PASSWORD)
    PartnerMembership.objects.create(user=user, partner=partner)
    return str(user.username)


def test_a_partner_paused_through_node_a_is_never_dialed_through_node_b(two_nodes):
    node_a, node_b = two_nodes
    facilities = make_directory()
    first = facilities[0]
    for node in (node_a, node_b):  # both nodes have routed to the first partner (their copies are warm)
        for _ in range(CALLS_PER_NODE):
            assert dialed(node) == str(first.phone)

    session = portal_session(node_a, partner_user(first.partner))
    response = portal_post(session, node_a, "/portal/settings/pause/", {"reason": "Intake closed tonight"})
    assert response.status_code == 302
    first.partner.refresh_from_db()
    assert first.partner.status == "paused"
    since = DialAttempt.objects.order_by("-id").values_list("id", flat=True).first()

    for _ in range(CALLS_PER_NODE):
        assert dialed(node_b) == str(facilities[1].phone)
    # Failover through node B passes the paused partner by too: busy at the second, the third is next.
    driver = routed_call(node_b)
    assert driver.number().text == str(facilities[1].phone)
    driver.dial_result("busy")
    assert driver.number().text == str(facilities[2].phone)
    finish(driver)

    through_b = DialAttempt.objects.filter(id__gt=since)
    assert through_b.count() == CALLS_PER_NODE + 2
    assert not through_b.filter(partner=first.partner).exists()


def test_a_directory_change_reaches_both_nodes_before_their_next_call(two_nodes):
    node_a, node_b = two_nodes
    facilities = make_directory()
    first = facilities[0]
    for node in (node_a, node_b):
        for _ in range(CALLS_PER_NODE):
            assert dialed(node) == str(first.phone)

    # Staff correct the facility's phone (a model save, as the admin does): both nodes dial the new one.
    first.phone = "+15128675309"
    first.save()
    for node in (node_b, node_a):
        for _ in range(CALLS_PER_NODE):
            assert dialed(node) == "+15128675309"

    # The partner edits the facility's hours through node A's portal: open one hour, three days from
    # now, so it is closed now. Node B stops routing to it on its very next call.
    local = dt.datetime.now(ZoneInfo(str(first.time_zone)))
    weekday = (local.weekday() + 3) % 7
    session = portal_session(node_a, partner_user(first.partner))
    response = portal_post(
        session, node_a, f"/portal/facilities/{first.pk}/hours/",
        {f"d{weekday}_0_opens": "09:00", f"d{weekday}_0_closes": "10:00"},
    )  # fmt: skip
    assert response.status_code == 302, response.text[:3000]
    first.refresh_from_db()
    assert first.open_24_7 is False
    for node in (node_b, node_a):
        for _ in range(CALLS_PER_NODE):
            assert dialed(node) == str(facilities[1].phone)


def test_concurrent_claims_through_both_nodes_never_pass_the_cap(two_nodes):
    node_a, node_b = two_nodes
    facilities = make_directory(2)
    capped = facilities[0].partner
    capped.concurrent_call_cap = 3
    capped.save()
    calls = 20

    # Twenty callers in the menu, ten on each node; then all press their service at the same moment.
    drivers = []
    for i in range(calls):
        driver = CallDriver(LiveClient((node_a, node_b)[i % 2].extra["base"]), from_=caller())
        driver.incoming()
        drivers.append(driver)
    barrier = threading.Barrier(calls)
    errors: list[BaseException] = []

    def press_service(driver: CallDriver) -> None:
        try:
            barrier.wait(timeout=30)
            driver.press("1")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=press_service, args=(d,)) for d in drivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    numbers = [d.number().text for d in drivers]  # every caller is dialing someone: no fallback, no error
    assert numbers.count(str(facilities[0].phone)) == 3
    assert numbers.count(str(facilities[1].phone)) == calls - 3
    assert DialAttempt.objects.filter(partner=capped).count() == 3
    assert PartnerCounter.objects.get(partner_id=capped.pk).active_calls == 3
    assert Call.objects.filter(status=Call.Status.DIALING).count() == calls
