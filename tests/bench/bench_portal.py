"""Benchmark: the partner dashboard and call list for a partner with 1,000,000 calls on PostgreSQL.

Run (a PostgreSQL database of your own; it is migrated and filled once, ~1-3 min):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clearline_billing \\
        .venv/bin/python tests/bench/bench_portal.py [--calls 1000000] [--days 365] [--runs 40] [--reset]

Rows are inserted with ``INSERT … SELECT generate_series`` (calls, their dial
legs, billing decisions and ledger charges: 60 % billable, 20 % too short,
20 % not answered), then ``VACUUM ANALYZE``. Pages are requested through
Django's test client as the partner's user; the script prints p50/p95/max
and the number of SQL queries of each page, for two page sizes to show the
query count does not grow with rows shown. Target: p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

BENCH_SLUG = "bench-one-million"


def _literal_defaults(model, overrides: dict[str, str]) -> tuple[list[str], list[str], list[object]]:
    """Columns and SQL expressions for every concrete column: overrides, else NULL or the field default."""
    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = field.column
        columns.append(connection.ops.quote_name(column))
        if column in overrides:
            exprs.append(overrides[column])
        elif field.null:
            exprs.append("NULL")
        else:
            value = field.get_db_prep_save(field.get_default(), connection)
            if isinstance(value, dict | list):
                import json

                value = json.dumps(value)
            exprs.append("%s")
            params.append(value)
    return columns, exprs, params


def insert(model, overrides: dict[str, str], source: str, column_params: dict[str, object] | None = None) -> None:
    """INSERT … SELECT with every column given; an override of "%s" takes its value from column_params."""
    t = time.perf_counter()
    cols, exprs, literal_params = _literal_defaults(model, overrides)
    literal_iter = iter(literal_params)
    params = []
    for col, expr in zip(cols, exprs, strict=True):
        if expr == "%s":
            name = col.strip('"')
            params.append(column_params[name] if column_params and name in column_params else next(literal_iter))
    body = ", ".join(e.replace("%", "%%") if e != "%s" else e for e in exprs)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(cols)}) SELECT {body} {source}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    print(f"{model.__name__}: {cursor.rowcount:,} rows in {time.perf_counter() - t:.1f}s")


def clear(partner) -> None:
    from partners.models import Facility, PartnerMembership

    print("clearing previous bench rows …")
    pk = int(partner.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM partners_invoiceline WHERE invoice_id IN "
            "(SELECT id FROM partners_invoice WHERE partner_id=%s)",
            [pk],
        )
        for table in ("partners_invoice", "partners_dispute", "partners_ledgerentry", "partners_billingdecision",
                      "helpline_dialattempt"):  # fmt: skip
            cursor.execute(f"DELETE FROM {table} WHERE partner_id=%s", [pk])  # noqa: S608
        cursor.execute("DELETE FROM helpline_call WHERE call_sid LIKE 'CAbench%%'")
    PartnerMembership.objects.filter(partner=partner).delete()
    Facility.objects.filter(partner=partner).delete()
    partner.delete()


def fill(*, calls: int, days: int, reset: bool) -> tuple[object, object]:
    from django.core.management import call_command

    from helpline.models import Call, DialAttempt
    from partners.billing.rule import rebuild_daily_stats
    from partners.models import BillingDecision, LedgerEntry, Partner, PartnerDailyStats, PartnerMembership
    from tests.factories import FacilityFactory, PartnerFactory, UserFactory

    call_command("migrate", verbosity=0)
    partner = Partner.objects.filter(slug=BENCH_SLUG).first()
    if partner is not None and not reset and BillingDecision.objects.filter(partner=partner).count() == calls:
        user = PartnerMembership.objects.filter(partner=partner).select_related("user").first().user
        print(f"reusing {calls:,} calls already in {connection.settings_dict['NAME']}")
        if not PartnerDailyStats.objects.filter(partner=partner).exists():
            rebuild_daily_stats(partner_id=partner.pk)
        return partner, user
    if partner is not None:
        clear(partner)

    partner = PartnerFactory(slug=BENCH_SLUG, display_name="Bench Recovery", monthly_budget_cents=50_000_000)
    facility = FacilityFactory(partner=partner)
    user = UserFactory(username="bench-partner-user")
    PartnerMembership.objects.get_or_create(user=user, defaults={"partner": partner})
    ciphertext = Call._meta.get_field("caller_number").get_db_prep_save("+15125550123", connection)
    span = days * 86400
    started = time.perf_counter()
    at = f"now() - (g * {span}::double precision / {int(calls)}) * interval '1 second'"
    # g = 1..N, newest first, spread evenly over ``days``; a distinct caller per call.
    insert(
        Call,
        {
            "call_sid": "'CAbench' || g",
            "caller_number": "%s",
            "caller_hash": "md5(g::text)",
            "caller_area": "'Austin, TX'",
            "service": "(ARRAY['detox','residential','outpatient','mat'])[1 + g % 4]",
            "state": "'TX'",
            "zip_code": "'78701'",
            "status": "'completed'",
            "connected_partner_id": str(partner.pk),
            "connected_facility_id": str(facility.pk),
            "talk_seconds": "CASE WHEN g % 5 = 0 THEN 0 WHEN g % 5 = 1 THEN 20 ELSE 60 + g % 600 END",
            "duration_seconds": "90",
            "started_at": at,
            "ended_at": f"{at} + interval '5 minutes'",
        },
        f"FROM generate_series(1, {int(calls)}) AS g",
        {"caller_number": ciphertext},
    )
    insert(
        DialAttempt,
        {
            "call_id": "c.id",
            "sequence": "1",
            "partner_id": str(partner.pk),
            "facility_id": str(facility.pk),
            "outcome": "CASE WHEN c.talk_seconds = 0 THEN 'no-answer' ELSE 'completed' END",
            "accepted": "c.talk_seconds > 0",
            "talk_seconds": "c.talk_seconds",
            "started_at": "c.started_at",
            "ended_at": "c.ended_at",
        },
        "FROM helpline_call c WHERE c.call_sid LIKE 'CAbench%%'",
    )
    insert(
        BillingDecision,
        {
            "partner_id": str(partner.pk),
            "facility_id": str(facility.pk),
            "dial_attempt_id": "a.id",
            "call_id": "c.id",
            "kind": "'call'",
            "occurred_at": "c.started_at",
            "service": "c.service",
            "caller_area": "c.caller_area",
            "caller_hash": "c.caller_hash",
            "outcome": "a.outcome",
            "accepted": "a.accepted",
            "talk_seconds": "a.talk_seconds",
            "billable": "a.talk_seconds >= 60",
            "reason": "CASE WHEN NOT a.accepted THEN 'not_accepted' WHEN a.talk_seconds < 60 THEN 'too_short'"
            " ELSE 'billable' END",
            "price_cents": f"CASE WHEN a.talk_seconds >= 60 THEN {int(partner.price_per_call_cents)} ELSE 0 END",
            "min_billable_seconds": "60",
            "decided_at": "c.ended_at",
        },
        f"FROM helpline_dialattempt a JOIN helpline_call c ON c.id = a.call_id WHERE a.partner_id = {int(partner.pk)}",
    )
    insert(
        LedgerEntry,
        {
            "partner_id": str(partner.pk),
            "kind": "'charge'",
            "amount_cents": "d.price_cents",
            "occurred_at": "d.occurred_at",
            "created_at": "d.decided_at",
            "decision_id": "d.id",
            "dial_attempt_id": "d.dial_attempt_id",
            "call_id": "d.call_id",
            "description": "'Call ' || to_char(d.occurred_at, 'YYYY-MM-DD HH24:MI') || ' UTC'",
        },
        f"FROM partners_billingdecision d WHERE d.partner_id = {int(partner.pk)} AND d.billable",
    )
    t = time.perf_counter()
    days_written = rebuild_daily_stats(partner_id=partner.pk)
    print(f"daily rollup: {days_written} days in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("helpline_call", "helpline_dialattempt", "partners_billingdecision", "partners_ledgerentry"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"VACUUM ANALYZE in {time.perf_counter() - t:.1f}s; total fill {time.perf_counter() - started:.1f}s")
    return partner, user


def measure(client: Client, url: str, runs: int) -> dict[str, float]:
    client.get(url)  # warm the connection and template cache
    times = []
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - t) * 1000
        assert response.status_code == 200, (url, response.status_code)
        times.append(elapsed)
        queries = len(ctx.captured_queries)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, int(round(0.95 * len(times))) - 1)],
        "max": times[-1],
        "queries": queries,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reset", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("Set DATABASE_URL to a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/clearline_billing).")
        return 2
    setup_test_environment()
    partner, user = fill(calls=args.calls, days=args.days, reset=args.reset)

    from partners.models import BillingDecision
    from partners.portal import views as portal

    in_window = BillingDecision.objects.filter(
        partner=partner, occurred_at__gte=timezone.now() - timezone.timedelta(days=30)
    ).count()
    print(f"partner {partner.pk}: {args.calls:,} calls over {args.days} days; {in_window:,} in the dashboard's 30 days")
    client = Client()
    client.force_login(user)
    middle = BillingDecision.objects.filter(partner=partner).order_by("-occurred_at", "-id")[args.calls // 2]
    deep_cursor = f"{middle.occurred_at.isoformat()}~{middle.pk}"
    pages = {
        "dashboard": "/portal/",
        "call list (page 1)": "/portal/calls/",
        "call list (billable only)": "/portal/calls/?billable=yes",
        "call list (500k rows deep)": "/portal/calls/?before=" + deep_cursor.replace("+", "%2B"),
        "call list (date range)": "/portal/calls/?since=2000-01-01&until=2100-01-01",
        "ledger": "/portal/ledger/",
    }
    print(f"\n{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
    worst = 0.0
    for name, url in pages.items():
        r = measure(client, url, args.runs)
        worst = max(worst, r["p95"])
        print(f"{name:32} {r['p50']:8.1f} {r['p95']:8.1f} {r['max']:8.1f} {r['queries']:8d}")
    for size in (10, 200):
        portal.PAGE_SIZE = size
        r = measure(client, "/portal/calls/", max(5, args.runs // 4))
        print(f"{f'call list, {size} rows/page':32} {r['p50']:8.1f} {r['p95']:8.1f} {r['max']:8.1f} {r['queries']:8d}")
    portal.PAGE_SIZE = 50
    print(f"\nworst p95 {worst:.1f} ms (target < 300 ms): {'PASS' if worst < 300 else 'FAIL'}")
    return 0 if worst < 300 else 1


if __name__ == "__main__":
    raise SystemExit(main())
