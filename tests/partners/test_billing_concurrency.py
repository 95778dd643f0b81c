"""Concurrent billing on real PostgreSQL: many workers billing the same call make one charge."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from partners.billing import rule as billing
from partners.models import BillingDecision, LedgerEntry
from tests.factories import T0, FacilityFactory, billed_call

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL) for real concurrent transactions")


def _race(fn, n: int) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(fn(i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return results


def test_concurrent_bill_call_makes_exactly_one_charge():
    call, _ = billed_call(facility=FacilityFactory())
    results = _race(lambda i: billing.bill_call(call_id=call.pk), 8)
    assert sorted(results) == [0] * 7 + [1]
    assert LedgerEntry.objects.count() == 1 and BillingDecision.objects.count() == 1


def test_same_caller_two_calls_billed_concurrently_is_charged_once():
    facility = FacilityFactory()
    calls = [billed_call(facility=facility, started_at=T0 + dt.timedelta(hours=h))[0] for h in range(4)]
    _race(lambda i: billing.bill_call(call_id=calls[i].pk), 4)
    assert LedgerEntry.objects.count() == 1
    assert BillingDecision.objects.filter(reason="repeat_caller").count() == 3
