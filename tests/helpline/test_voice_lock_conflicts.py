"""A webhook PostgreSQL rolls back to break a deadlock is run again: its caller still reaches a partner.

Under a burst of calls two failovers deadlock on partner counter rows (one
releases X and claims Y while the other releases Y and claims X; seen in
``tests/bench/load/burst.py``). PostgreSQL aborts one transaction; nothing of
it was written, so the voice webhook runs it again instead of sending the
caller to the fallback line, and billing's spend update does the same.
"""

from __future__ import annotations

from unittest import mock

import psycopg.errors
import pytest
from django.db import DatabaseError, OperationalError

from helpline.calls import services as call_services
from helpline.models import Call
from routing.models import PartnerCounter
from routing.services import LOCK_CONFLICT_RETRIES, is_lock_conflict, record_billed
from tests.factories import PartnerFactory
from tests.helpline.voice_support import CallDriver, fresh_routing_directory, make_directory

pytestmark = pytest.mark.django_db
__all__ = ["fresh_routing_directory"]  # autouse fixture, imported to apply here


def deadlock() -> OperationalError:
    """What Django raises when PostgreSQL picks this transaction as a deadlock's victim."""
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


def failing(real, errors: list[BaseException]):
    """``real``, after raising each of ``errors`` in turn; counts every call."""
    calls: list[int] = []

    def run(**kwargs):
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return real(**kwargs)

    return run, calls


def test_a_lock_conflict_is_told_apart_from_other_database_errors():
    assert is_lock_conflict(deadlock())
    serialization = OperationalError("could not serialize access")
    serialization.__cause__ = psycopg.errors.SerializationFailure("could not serialize access")
    assert is_lock_conflict(serialization)
    assert not is_lock_conflict(DatabaseError("server closed the connection"))
    assert not is_lock_conflict(RuntimeError("bug"))


def test_a_webhook_that_loses_a_deadlock_is_run_again_and_dials_the_partner(client, caplog):
    facilities = make_directory()
    driver = CallDriver(client)
    driver.incoming()
    run, calls = failing(call_services.call_set_service, [deadlock()])
    with mock.patch("helpline.calls.services.call_set_service", autospec=True, side_effect=run):
        driver.press("1")
    assert driver.number().text == str(facilities[0].phone)  # the partner, not the fallback line
    assert len(calls) == 2
    call = Call.objects.get()
    assert call.status == Call.Status.DIALING and call.attempts.count() == 1
    assert PartnerCounter.objects.get(partner_id=facilities[0].partner_id).active_calls == 1  # one slot, not two
    assert "lost a lock conflict; running it again" in caplog.text
    assert "served the fallback line" not in caplog.text


def test_a_webhook_that_keeps_losing_gets_the_fallback_line(client, settings):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    run, calls = failing(call_services.call_set_service, [deadlock()] * (LOCK_CONFLICT_RETRIES + 1))
    with mock.patch("helpline.calls.services.call_set_service", autospec=True, side_effect=run):
        root = driver.press("1")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert len(calls) == LOCK_CONFLICT_RETRIES + 1


def test_any_other_fault_is_not_run_again(client, settings):
    make_directory()
    driver = CallDriver(client)
    driver.incoming()
    run, calls = failing(call_services.call_set_service, [RuntimeError("bug")])
    with mock.patch("helpline.calls.services.call_set_service", autospec=True, side_effect=run):
        root = driver.press("1")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert len(calls) == 1


def test_a_spend_update_that_loses_a_deadlock_adds_the_amount_once(quiet_clock):
    from routing import services as routing_services

    partner = PartnerFactory(monthly_budget_cents=9000)
    run, calls = failing(routing_services._create_counter, [deadlock()])
    with mock.patch("routing.services._create_counter", autospec=True, side_effect=run):
        record_billed(partner_id=partner.pk, amount_cents=4500, at=quiet_clock)
    assert len(calls) == 2
    assert PartnerCounter.objects.get(partner_id=partner.pk).spend_this_month_cents == 4500
