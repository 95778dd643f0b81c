"""Benchmark: routing decision latency for 100, 1,000 and 10,000 facilities on PostgreSQL.

Run either way (PostgreSQL required; a throwaway database ``<name>_bench`` is
created and dropped):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clearline_routing .venv/bin/python tests/bench/bench_routing.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clearline_routing \
        .venv/bin/pytest -m bench tests/bench/bench_routing.py -s

The file name does not match ``test_*.py``, so ``pytest tests`` never runs it.

What is timed, per decision: ``routing.services.route()`` end to end — the
directory-version check, loading the matched candidates with their partners'
live counters from PostgreSQL, the per-day rotation counter, ``decide()``, and
storing the ``RoutingDecision`` row. The directory is realistic: facilities at
real ZIP codes across the country (weighted like the ZIP map, so dense where
people are), with a mix of radius, ZIP-prefix, state, ZIP-list and combined
service areas, chains of several facilities per partner, caps, opening hours
in the facility's own time zone and closed dates; callers at random real ZIPs
asking for a random service. The per-process compile of the area index is
reported separately (it happens once per directory change, not per call).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIZES = (100, 1_000, 10_000)
DECISIONS_PER_SIZE = int(os.environ.get("BENCH_DECISIONS", "1500"))  # many: the machine is shared
WARMUP = 100
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday, working hours across the mainland
SERVICES = ["detox", "residential", "outpatient", "iop", "php", "mat", "dual_diagnosis"]


def _zip_pool() -> list[dict[str, Any]]:
    import zipcodes

    from routing.location import ROUTABLE_STATES

    return [
        z
        for z in zipcodes.list_all()
        if z["zip_code_type"] == "STANDARD"
        and z["active"]
        and z["state"] in ROUTABLE_STATES
        and z["timezone"]
        and float(z["lat"]) != 0
    ]


def seed_directory(n: int, rng: random.Random, pool: list[dict[str, Any]]) -> None:
    """Create ``n`` facilities (and their partners, hours, closed dates) with bulk inserts."""
    from partners.models import ClosedDate, Facility, OpeningHours, Partner

    by_zip = {z["zip_code"]: z for z in pool}
    state_prefixes: dict[str, list[str]] = {}
    for z in pool:
        state_prefixes.setdefault(z["state"], []).append(z["zip_code"][:3])
    state_prefixes = {k: sorted(set(v)) for k, v in state_prefixes.items()}
    by_prefix: dict[str, list[str]] = {}
    for z in pool:
        by_prefix.setdefault(z["zip_code"][:3], []).append(z["zip_code"])
    states = sorted({z["state"] for z in pool})

    partners: list[Partner] = []
    remaining = n
    while remaining > 0:
        size = min(remaining, rng.choice([1, 1, 1, 2, 3, 5, 8]))
        capped = rng.random() < 0.5
        i = len(partners)
        partners.append(
            Partner(
                legal_name=f"Bench Partner {i} LLC",
                display_name=f"Bench Partner {i}",
                slug=f"bench-partner-{i}",
                price_per_call_cents=rng.choice([3500, 4500, 6000]),
                priority=rng.choice([1, 2, 3, 3, 5, 5, 5]),
                weight=rng.randint(1, 5),
                license_verified_on=date(2026, 1, 1) if rng.random() < 0.95 else None,
                status="active" if rng.random() < 0.93 else "paused",
                daily_call_cap=rng.randint(5, 50) if capped else None,
                monthly_call_cap=rng.randint(100, 900) if capped else None,
                concurrent_call_cap=rng.randint(1, 4) if capped else None,
                monthly_budget_cents=rng.randint(100_000, 2_000_000) if capped else None,
            )
        )
        partners[-1]._bench_size = size  # type: ignore[attr-defined]
        remaining -= size
    Partner.objects.bulk_create(partners, batch_size=1000)

    facilities: list[Facility] = []
    for partner in partners:
        home = rng.choice(pool)  # a chain stays in one region
        for _ in range(partner._bench_size):  # type: ignore[attr-defined]
            z = home if rng.random() < 0.3 else rng.choice(pool)
            if rng.random() < 0.7:  # near the chain's home
                z = by_zip[rng.choice(by_prefix[home["zip_code"][:3]])]
            prefix = z["zip_code"][:3]
            kind = rng.random()
            states_: list[str] = []
            zips: list[str] = []
            prefixes: list[str] = []
            radius = None
            if kind < 0.35:
                radius = rng.choice([10, 25, 25, 50, 50, 75, 100])
            elif kind < 0.60:
                same_state = state_prefixes[z["state"]]
                prefixes = sorted({prefix, *rng.sample(same_state, min(len(same_state), rng.randint(0, 3)))})
            elif kind < 0.80:
                states_ = [z["state"]] + ([rng.choice(states)] if rng.random() < 0.2 else [])
            elif kind < 0.95:
                local = by_prefix.get(prefix, [z["zip_code"]])
                zips = sorted(set(rng.sample(local, min(len(local), rng.randint(5, 40)))))
            elif kind < 0.998:
                states_ = [z["state"]]
                radius = rng.choice([50, 100, 200])
            else:
                states_ = [s for s in states if s != "PR"]  # nationwide (telehealth)
            facilities.append(
                Facility(
                    partner=partner,
                    name=f"Bench Facility {len(facilities)}",
                    slug=f"bench-facility-{len(facilities)}",
                    address_line="1 Main St",
                    city=z["city"],
                    state=z["state"],
                    zip_code=z["zip_code"],
                    latitude=float(z["lat"]),
                    longitude=float(z["long"]),
                    phone=f"+1202555{len(facilities) % 10000:04d}",
                    time_zone=z["timezone"],
                    open_24_7=rng.random() < 0.4,
                    services=sorted(rng.sample(SERVICES, rng.randint(2, 6))),
                    languages=["en", "es"] if rng.random() < 0.3 else ["en"],
                    service_states=states_,
                    service_zips=zips,
                    service_zip_prefixes=prefixes,
                    service_radius_miles=radius,
                )
            )
    Facility.objects.bulk_create(facilities, batch_size=1000)

    hours: list[OpeningHours] = []
    closed: list[ClosedDate] = []
    for f in facilities:
        if not f.open_24_7:
            opens, closes = rng.choice([(dtime(8), dtime(18)), (dtime(7), dtime(22)), (dtime(18), dtime(2))])
            for wd in range(7 if rng.random() < 0.5 else 5):
                hours.append(OpeningHours(facility=f, weekday=wd, opens=opens, closes=closes))
        if rng.random() < 0.1:
            closed.append(ClosedDate(facility=f, date=NOW.date() + timedelta(days=rng.randint(-1, 30))))
    OpeningHours.objects.bulk_create(hours, batch_size=2000)
    ClosedDate.objects.bulk_create(closed, batch_size=2000, ignore_conflicts=True)


def wipe_directory() -> None:
    from partners.models import Partner
    from routing.models import PartnerCounter, RotationCounter, RoutingDecision

    RoutingDecision.objects.all().delete()
    RotationCounter.objects.all().delete()
    PartnerCounter.objects.all().delete()
    Partner.objects.all().delete()  # cascades to facilities, hours, closed dates


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def measure(n: int, rng: random.Random, pool: list[dict[str, Any]]) -> dict[str, float]:
    import json

    from routing import selectors
    from routing.engine import RouteRequest, decide
    from routing.location import resolve_location
    from routing.services import bump_directory_version, claim_leg, fallback_line, route

    wipe_directory()
    seed_directory(n, rng, pool)
    bump_directory_version()
    selectors.directory_cache.clear()
    t0 = time.perf_counter()
    directory = selectors.compiled_directory(now=NOW)
    compile_ms = (time.perf_counter() - t0) * 1000

    # Some partners already busy today, so counters are real rows.
    from partners.models import Partner

    for pid in list(Partner.objects.values_list("id", flat=True)[: max(1, n // 10)]):
        claim_leg(partner_id=pid, now=NOW)

    callers = [rng.choice(pool)["zip_code"] for _ in range(DECISIONS_PER_SIZE + WARMUP)]
    requests = [
        RouteRequest(service=rng.choice([*SERVICES, "unsure"]), location=resolve_location(given_zip=z)) for z in callers
    ]
    route_ms: list[float] = []
    load_ms: list[float] = []
    decide_ms: list[float] = []
    considered: list[int] = []
    in_area: list[int] = []
    rounds: list[int] = []
    stored_bytes: list[int] = []
    chosen: list[int] = []
    fallback = fallback_line()
    for i, request in enumerate(requests):
        t0 = time.perf_counter()
        record, decision = route(request=request, kind="call", now=NOW)
        elapsed = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        short = selectors.shortlist(request=request, now=NOW)
        t2 = time.perf_counter()
        decide(request, short.candidates, NOW, fallback=fallback)
        t3 = time.perf_counter()
        if i >= WARMUP:
            route_ms.append(elapsed)
            load_ms.append((t2 - t1) * 1000)
            decide_ms.append((t3 - t2) * 1000)
            considered.append(record.considered_count)
            in_area.append(short.in_area)
            rounds.append(short.rounds)
            stored_bytes.append(len(json.dumps([record.chosen, record.excluded, record.excluded_summary])))
            chosen.append(len(decision.choices))
    return {
        "facilities": len(directory.facilities),
        "compile_ms": compile_ms,
        "median": statistics.median(route_ms),
        "p99": percentile(route_ms, 99),
        "load_median": statistics.median(load_ms),
        "decide_median": statistics.median(decide_ms),
        "decide_p99": percentile(decide_ms, 99),
        "considered_mean": statistics.mean(considered),
        "considered_max": max(considered),
        "in_area_mean": statistics.mean(in_area),
        "two_reads_share": sum(1 for r in rounds if r > 1) / len(rounds),
        "stored_bytes_mean": statistics.mean(stored_bytes),
        "stored_bytes_max": max(stored_bytes),
        "chosen_mean": statistics.mean(chosen),
        "fallback_share": sum(1 for c in chosen if c == 0) / len(chosen),
    }


def run() -> dict[int, dict[str, float]]:
    rng = random.Random(20261124)  # noqa: S311 - reproducible data, not security
    pool = _zip_pool()
    results = {n: measure(n, rng, pool) for n in SIZES}
    wipe_directory()
    print()
    print(f"load average at the end: {Path('/proc/loadavg').read_text().strip()}")
    print(f"routing.services.route() on PostgreSQL, {DECISIONS_PER_SIZE} decisions per size (after {WARMUP} warm-up)")
    print(
        f"{'facilities':>10} {'median ms':>10} {'p99 ms':>8} {'load med':>9} {'decide med':>11} {'decide p99':>11} "
        f"{'examined':>16} {'in area':>8} {'2 reads':>8} {'stored B':>16} {'choices':>8} {'fallback':>9} "
        f"{'compile ms':>11}"
    )
    for r in results.values():
        print(
            f"{r['facilities']:>10} {r['median']:>10.3f} {r['p99']:>8.3f} {r['load_median']:>9.3f} "
            f"{r['decide_median']:>11.3f} {r['decide_p99']:>11.3f} "
            f"{r['considered_mean']:>8.1f} (max {r['considered_max']:>3}) {r['in_area_mean']:>8.1f} "
            f"{r['two_reads_share']:>8.0%} {r['stored_bytes_mean']:>7.0f} (max {r['stored_bytes_max']:>4}) "
            f"{r['chosen_mean']:>8.2f} {r['fallback_share']:>8.0%} {r['compile_ms']:>11.0f}"
        )
    small, large = results[SIZES[0]], results[SIZES[-1]]
    print(
        f"ratio {SIZES[-1]:,} / {SIZES[0]:,} facilities: median {large['median'] / small['median']:.2f}x, "
        f"p99 {large['p99'] / small['p99']:.2f}x (target <= 2x); p99 at {SIZES[-1]:,}: {large['p99']:.3f} ms "
        f"(target < 5 ms)"
    )
    return results


def _setup_django_with_bench_database() -> Any:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (the benchmark creates <name>_bench).")
    import django
    from django.conf import settings

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from django.db import connection

    settings.DATABASES["default"]["TEST"]["NAME"] = f"{settings.DATABASES['default']['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return connection, old_name


@pytest.mark.bench
@pytest.mark.django_db(transaction=True)
def test_routing_latency_does_not_grow_with_the_directory():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the benchmark needs PostgreSQL (DATABASE_URL)")
    results = run()
    small, large = results[SIZES[0]], results[SIZES[-1]]
    assert large["p99"] < 5.0
    assert large["p99"] <= 2 * small["p99"]


if __name__ == "__main__":
    conn, old = _setup_django_with_bench_database()
    try:
        run()
    finally:
        conn.creation.destroy_test_db(old, verbosity=0)
