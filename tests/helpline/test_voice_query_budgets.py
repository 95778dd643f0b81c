"""Query budgets of every Twilio webhook, played in Twilio's order (issue 14), enforced at their targets.

Counted by Django's debug cursor, so each number is a round trip to the database.
Tests run inside a transaction, so a webhook's ``transaction.atomic`` shows up as
SAVEPOINT/RELEASE: the same two round trips BEGIN/COMMIT cost in production.
Budgets: the incoming webhook ≤ 2, a routing step ≤ 6, every other step ≤ 4.
A routing step claims a partner's slot, records the leg and dials it: the
service step (which also runs and stores the routing decision), and the Dial
action of a busy leg that fails over to the next partner (which dials the
decision's next choice, reading that partner's live caps again).

Counted on a warm process: what a process reads once per directory change or
cache TTL (the compiled directory, the helpline number, the spoken disclosure)
is read before counting, as any earlier call would have. Counted on PostgreSQL,
where a step's writes share one statement (``WITH ... AS``); SQLite runs
in-process and writes statement by statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpline.calls.services import helpline_number_for
from helpline.models import Call, DialAttempt
from helpline.voice.disclosure import spoken_disclosure
from routing.selectors import compiled_directory
from tests.factories import FacilityFactory
from tests.fake_twilio import BridgedCallDriver
from tests.helpline import voice_support
from tests.helpline.admission_support import client_poster
from tests.helpline.test_admission_callbacks import placed
from tests.helpline.voice_support import CallDriver, make_directory, post

pytestmark = [
    pytest.mark.django_db,
    # Round trips to a database server: on PostgreSQL a step's writes share one statement
    # (``WITH ... AS``); SQLite runs in-process and takes the statement-by-statement path.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="round trips are counted on PostgreSQL"),
]

INCOMING, ROUTING, OTHER = 2, 6, 4
NUMBER = "+18885550100"  # the helpline number CallDriver dials


def warm_process() -> None:
    """What a running process has read already (see the module docstring)."""
    spoken_disclosure()
    helpline_number_for(to_number=NUMBER)
    compiled_directory(now=timezone.now())


@contextmanager
def counted(counts: dict[str, int], step: str) -> Iterator[None]:
    with CaptureQueriesContext(connection) as ctx:
        yield
    counts[step] = len(ctx.captured_queries)


def whole_accepted_call(client: Any, counts: dict[str, int]) -> None:
    driver = CallDriver(client)
    warm_process()
    with counted(counts, "incoming"):
        driver.incoming()
    with counted(counts, "service Digits=1 (routing)"):
        driver.press("1")
    assert driver.root is not None and driver.root.find("Dial") is not None
    with counted(counts, "leg status initiated"):
        driver.leg_sids.append(voice_support.new_sid())
        driver.leg_status("initiated", seq=0)
    with counted(counts, "leg status ringing"):
        driver.leg_status("ringing", seq=1)
    with counted(counts, "whisper"):
        whisper = driver.answer()
    with counted(counts, "leg status answered"):
        driver.leg_status("answered", seq=2)
    with counted(counts, "whisper choice 1"):
        driver.partner_press(whisper, "1")
    with counted(counts, "leg status completed"):
        driver.leg_status("completed", seq=3, duration="240")
    with mock.patch("partners.billing.rule.bill_call", autospec=True):
        with counted(counts, "dial result completed"):
            driver.dial_result("completed", duration="240")
        with counted(counts, "final status callback"):
            response = driver.hangup(duration="260")
    assert response.status_code == 204
    call = Call.objects.get(call_sid=driver.sid)
    assert call.status == Call.Status.COMPLETED


def budget(step: str) -> int:
    if step == "incoming":
        return INCOMING
    return ROUTING if "routing" in step else OTHER


def assert_within(counts: dict[str, int]) -> None:
    over = {step: n for step, n in counts.items() if n > budget(step)}
    assert not over, report(counts)


def report(counts: dict[str, int]) -> str:
    return "\n".join(f"{step:36} {n:3d} (budget {budget(step)})" for step, n in counts.items())


def test_a_whole_accepted_call_stays_within_its_query_budgets(client):
    make_directory()
    counts: dict[str, int] = {}
    whole_accepted_call(client, counts)
    assert len(counts) == 10
    assert_within(counts)


def test_failover_dial_result_stays_within_its_query_budget(client):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    counts: dict[str, int] = {}
    warm_process()
    with counted(counts, "dial result busy (failover routing)"):  # claims and dials the next partner
        driver.dial_result("busy")
    assert DialAttempt.objects.filter(call__call_sid=driver.sid).count() == 2
    assert_within(counts)


# A failover whose plan ran out routes once more (``calls.services._replan``): the ordinary failover's
# round trips, two per choice that refused the claim (its partner's caps read, the claim) and two for the
# decision (live partners, the decision row). Rare: only when every choice left refused.
REPLAN_DECISION, PER_REFUSED_CHOICE = 2, 2


def test_failover_that_routes_again_stays_within_its_own_budget(client):
    from routing.services import claim_leg
    from tests.helpline.test_voice_replan import burst_directory

    top, lower = burst_directory()
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    first = DialAttempt.objects.get(call__call_sid=driver.sid)
    for facility in top:
        if facility.partner_id != first.partner_id:
            assert claim_leg(partner_id=facility.partner_id, now=timezone.now())
    warm_process()
    with CaptureQueriesContext(connection) as ctx:
        driver.dial_result("busy")
    assert driver.number().text == str(lower.phone)
    refused = len(top) - 1
    bound = ROUTING + PER_REFUSED_CHOICE * refused + REPLAN_DECISION
    assert len(ctx.captured_queries) <= bound, "\n".join(q["sql"][:200] for q in ctx.captured_queries)


def test_bridged_callback_steps_stay_within_their_query_ceilings(client, fake_twilio):
    FacilityFactory(partner__priority=1, partner__notify_sms="+15125550100", phone="+15125550111")
    _req, _attempt = placed()
    [call] = fake_twilio.calls()
    send = client_poster(client)
    counts: dict[str, int] = {}

    def poster(path: str, params: dict[str, str]) -> tuple[int, str]:
        with counted(counts, "callback " + path.rsplit("/", 1)[-1].split("?")[0]):
            return send(path, params)

    with mock.patch("partners.billing.rule.bill_admission_callback"):
        outcome = BridgedCallDriver(post=poster).run(call)
    assert outcome.status_code == 204
    assert len(counts) == 6
    assert_within(counts)


def test_inbound_sms_stays_within_its_query_budget(client):
    counts: dict[str, int] = {}
    with counted(counts, "sms STOP"):
        response = post(client, "/twilio/sms/incoming", {"From": "+15125550123", "Body": "STOP"})
    assert response.status_code == 200
    assert_within(counts)
