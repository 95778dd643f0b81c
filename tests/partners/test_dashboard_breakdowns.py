"""The dashboard's outcome and service breakdowns: counted over the partner's own 30 days, largest
first with ties by code, and read with one grouped query (the window is scanned once, not per chart)."""

from __future__ import annotations

import datetime as dt

import pytest

from partners import selectors
from partners.billing import rule as billing
from tests.factories import FacilityFactory, PartnerFactory, billed_call

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _bill(facility, hours_ago, *, caller, service, talk_seconds=240):
    call, _attempt = billed_call(facility=facility, started_at=NOW - dt.timedelta(hours=hours_ago), caller=caller,
                                 talk_seconds=talk_seconds, service=service)  # fmt: skip
    billing.bill_call(call_id=call.pk)


def test_breakdowns_count_each_outcome_and_service_largest_first_in_one_query(django_assert_num_queries):
    facility = FacilityFactory(partner=PartnerFactory())
    _bill(facility, 1, caller="+15125550001", service="mat")
    _bill(facility, 2, caller="+15125550002", service="detox")
    _bill(facility, 3, caller="+15125550003", service="detox")
    _bill(facility, 4, caller="+15125550004", service="mat", talk_seconds=10)
    _bill(facility, 5, caller="+15125550005", service="outpatient", talk_seconds=10)
    _bill(facility, 24 * 40, caller="+15125550006", service="residential")  # before the 30 days
    other = FacilityFactory(partner=PartnerFactory())
    _bill(other, 1, caller="+15125550007", service="residential")  # another partner's

    with django_assert_num_queries(1):
        counts = selectors.dashboard_breakdowns(partner=facility.partner, now=NOW)

    assert counts["reason"] == [("billable", 3), ("too_short", 2)]
    assert counts["service"] == [("detox", 2), ("mat", 2), ("outpatient", 1)]


def test_breakdowns_of_a_quiet_month_are_empty(django_assert_num_queries):
    facility = FacilityFactory(partner=PartnerFactory())
    _bill(facility, 24 * 40, caller="+15125550001", service="detox")

    with django_assert_num_queries(1):
        counts = selectors.dashboard_breakdowns(partner=facility.partner, now=NOW)

    assert counts == {"reason": [], "service": []}
