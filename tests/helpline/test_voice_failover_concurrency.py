"""Failovers in opposite order at the same moment, on real PostgreSQL: no deadlock, every counter right.

Seen in the 500-call burst (docs/scaling.md): a failover releases one
partner's slot and claims the next partner's in one transaction. Call A
releases X and claims Y while call B releases Y and claims X; PostgreSQL
aborted one of them after ``deadlock_timeout`` (the webhook is then run again,
``test_voice_lock_conflicts.py``). The releasing statement now takes the
counter rows of the partner it releases and of every partner left in the
plan in partner-id order, so there is nothing to wait for in the wrong order.
"""

from __future__ import annotations

import logging
import threading
import time
from unittest import mock

import pytest
from django.db import connection, connections
from django.test import Client

from helpline.calls import services as call_services
from helpline.models import Call, DialAttempt, HelplineNumber
from partners.models import Partner
from routing.models import PartnerCounter
from tests.factories import FacilityFactory, HelplineNumberFactory, PartnerFactory
from tests.helpline.voice_support import CallDriver, clear_routing_caches

pytestmark = [pytest.mark.django_db(transaction=True)]

PER_SIDE = 6  # calls dialing X whose next choice is Y, and as many the other way round


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL) for real concurrent transactions")


def dialing(partner_first: Partner, n: int) -> list[CallDriver]:
    """``n`` callers ringing ``partner_first``, each with the other partner next in its plan."""
    drivers = []
    for _ in range(n):
        driver = CallDriver(Client())
        driver.incoming()
        driver.press("1")
        assert DialAttempt.objects.get(call__call_sid=driver.sid).partner_id == partner_first.pk
        drivers.append(driver)
    return drivers


def test_opposite_order_failovers_never_deadlock_and_leave_the_counters_right(caplog):
    HelplineNumberFactory(number="+18885550100", kind=HelplineNumber.Kind.GENERAL)
    x = FacilityFactory(partner=PartnerFactory(display_name="X", priority=1), phone="+15125554001").partner
    y = FacilityFactory(partner=PartnerFactory(display_name="Y", priority=2), phone="+15125554002").partner
    towards_y = dialing(x, PER_SIDE)  # plan X, Y
    Partner.objects.filter(pk=x.pk).update(priority=2)
    Partner.objects.filter(pk=y.pk).update(priority=1)
    clear_routing_caches()
    towards_x = dialing(y, PER_SIDE)  # plan Y, X
    drivers = towards_y + towards_x

    real = call_services.call_next_attempt
    barrier = threading.Barrier(len(drivers))
    errors: list[BaseException] = []

    def slow_next_attempt(**kwargs):
        # Between the release and the claim: every failover has released before any of them claims.
        time.sleep(0.3)
        return real(**kwargs)

    def run(driver: CallDriver) -> None:
        try:
            barrier.wait()
            driver.dial_result("busy")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    caplog.set_level(logging.WARNING, logger="helpline.voice.inbound")
    threads = [threading.Thread(target=run, args=(d,)) for d in drivers]
    with mock.patch("helpline.calls.services.call_next_attempt", side_effect=slow_next_attempt):
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []

    retries = [r for r in caplog.records if "lost a lock conflict" in r.getMessage()]
    assert len(retries) == 0
    for driver in towards_y:
        assert driver.number().text == "+15125554002"
    for driver in towards_x:
        assert driver.number().text == "+15125554001"
    assert Call.objects.filter(status=Call.Status.DIALING).count() == 2 * PER_SIDE
    counters = {c.partner_id: c for c in PartnerCounter.objects.all()}
    for partner in (x, y):
        # Each side's first legs were busy (slot and count given back); the other side's second legs ring.
        assert counters[partner.pk].active_calls == PER_SIDE
        assert counters[partner.pk].calls_today == PER_SIDE
