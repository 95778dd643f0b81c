"""Staff report by source (guide, campaign, direct): calls, connected, billable, revenue, requests; totals = ledger."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Sum

from helpline.models import Call
from partners import selectors
from partners.billing import rule as billing
from partners.directory.services import ledger_adjust
from partners.models import LedgerEntry
from tests.factories import (
    T0,
    AdmissionRequestFactory,
    CallbackLegFactory,
    CallFactory,
    FacilityFactory,
    PartnerFactory,
    StaffFactory,
    billed_call,
)

pytestmark = pytest.mark.django_db

DAY = T0.date()
URL = "/portal/staff/reports/sources/"


@pytest.fixture
def world():
    """Across two partners at different prices: guide, campaign and direct calls and requests, and adjustments."""
    cheap = FacilityFactory(partner=PartnerFactory(price_per_call_cents=3500))
    dear = FacilityFactory(partner=PartnerFactory(price_per_call_cents=5500))
    staff = StaffFactory(is_superuser=False)
    guide = {"source_kind": "guide", "source_key": "klonopin"}
    campaign = {"source_kind": "campaign", "source_key": "spring-ads"}

    guide_charge_call, _ = billed_call(facility=cheap, caller="+15125550001", **guide)
    billed_call(facility=dear, caller="+15125550002", **guide)
    billed_call(facility=dear, caller="+15125550003", **campaign)
    billed_call(facility=cheap, caller="+15125550004")  # direct
    billed_call(facility=cheap, caller="+15125550005", talk_seconds=20, **guide)  # connected, too short to bill
    CallFactory(caller="+15125550006", **campaign)  # nobody answered
    CallFactory(caller="+15125550007", is_test=True, **guide)  # simulated: left out
    billed_call(facility=dear, caller="+15125550008", started_at=T0 - dt.timedelta(days=40), **guide)  # earlier
    for call in Call.objects.all():
        billing.bill_call(call_id=call.pk)

    request = AdmissionRequestFactory(**campaign)
    leg = CallbackLegFactory(admission_request=request, facility=dear, partner=dear.partner)
    billing.bill_admission_callback(attempt_id=leg.pk)
    AdmissionRequestFactory(caller="+15125550010", **guide)
    AdmissionRequestFactory(caller="+15125550011")

    charge = LedgerEntry.objects.get(call=guide_charge_call)
    ledger_adjust(partner=cheap.partner, amount_cents=-3500, reason="Disputed: wrong number", by=staff,
                  corrects=charge, at=T0)  # fmt: skip
    ledger_adjust(partner=dear.partner, amount_cents=1000, reason="Setup fee", by=staff, at=T0)
    return {"staff": staff}


def _rows(report: selectors.SourceReport) -> dict[tuple[str, str], tuple[int, int, int, int, int]]:
    return {(r.kind, r.key): (r.calls, r.connected, r.billable, r.revenue_cents, r.requests) for r in report.rows}


def test_calls_requests_and_money_are_counted_by_source(world):
    report = selectors.source_report(since=DAY, until=DAY)
    assert _rows(report) == {
        # calls, connected, billable, revenue (cents), requests
        ("guide", "klonopin"): (3, 3, 2, 3500 + 5500 - 3500, 1),  # the disputed charge's credit is the guide's
        ("campaign", "spring-ads"): (2, 1, 2, 5500 + 5500, 1),  # one billed call, one billed callback
        ("", ""): (1, 1, 1, 3500, 1),
        ("unattributed", ""): (0, 0, 0, 1000, 0),  # an adjustment tied to no call
    }
    assert [r.label for r in report.rows] == ["Guide", "Campaign", "Direct", "Other"]


def test_the_reports_revenue_adds_up_to_the_ledgers_for_the_range(world):
    for since, until in [
        (DAY, DAY),
        (DAY - dt.timedelta(days=60), DAY),
        (DAY - dt.timedelta(days=41), DAY - dt.timedelta(days=39)),
    ]:
        report = selectors.source_report(since=since, until=until)
        start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        in_range = LedgerEntry.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        ledger = in_range.aggregate(s=Sum("amount_cents"))["s"] or 0
        assert sum(r.revenue_cents for r in report.rows) == report.total.revenue_cents == ledger
        assert report.total.billable == in_range.filter(kind="charge").count()
        staff_total = selectors.staff_report(since=since, until=until)["totals"]["revenue_cents"]
        assert report.total.revenue_cents == staff_total
    assert selectors.source_report(since=DAY, until=DAY).total.revenue_cents == 3500 + 5500 - 3500 + 11000 + 3500 + 1000


def test_the_report_is_three_queries_whatever_the_volume(world, django_assert_num_queries):
    with django_assert_num_queries(3):
        selectors.source_report(since=DAY - dt.timedelta(days=60), until=DAY)


def _verified_staff(client, user):
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_call", "view_admissionrequest", "view_ledgerentry"])
    )
    client.force_login(user)


def test_staff_page_shows_rows_and_totals(client, world):
    _verified_staff(client, world["staff"])
    response = client.get(URL, {"since": DAY.isoformat(), "until": DAY.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<td>Guide</td><td>klonopin</td>" in html and "<td>Campaign</td><td>spring-ads</td>" in html
    assert "<th>$210.00</th>" not in html and '<th class="num">$210.00</th>' in html  # the ledger's total
    assert 'href="/portal/staff/reports/sources/export.csv?since=2026-03-10&amp;until=2026-03-10"' in html


def test_csv_export_has_the_same_rows(client, world):
    _verified_staff(client, world["staff"])
    response = client.get(URL + "export.csv", {"since": DAY.isoformat(), "until": DAY.isoformat()})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "source",
        "name",
        "calls",
        "connected_calls",
        "billable_calls",
        "revenue_usd",
        "admission_requests",
    ]
    assert rows[1] == ["guide", "klonopin", "3", "3", "2", "55.00", "1"]
    assert rows[-1] == ["other", "", "0", "0", "0", "10.00", "0"]


def test_csv_export_makes_a_formula_in_a_campaign_name_inert(client, world):
    AdmissionRequestFactory(caller="+15125550012", source_kind="campaign", source_key="=cmd|' /c calc'!a0")
    _verified_staff(client, world["staff"])
    response = client.get(URL + "export.csv", {"since": DAY.isoformat(), "until": DAY.isoformat()})
    body = b"".join(response.streaming_content).decode()
    assert "'=cmd|' /c calc'!a0" in body
    assert "\n=cmd" not in body and ",=cmd" not in body


@pytest.mark.parametrize("url", [URL, URL + "export.csv"])
def test_staff_without_the_view_permissions_are_refused(client, world, url):
    client.force_login(world["staff"])  # staff, but no view_ permissions
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [URL, URL + "export.csv"])
def test_partners_and_visitors_are_sent_to_the_admin_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_odd_dates_do_not_fail(client, world):
    _verified_staff(client, world["staff"])
    for query in ({"until": "0001-01-05"}, {"until": "9999-12-31"}, {"since": "2026-03-11", "until": "2026-03-01"}):
        assert client.get(URL, query).status_code == 200, query
