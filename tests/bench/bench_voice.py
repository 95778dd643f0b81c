"""Benchmark: the incoming-call webhook under concurrent load on gunicorn + PostgreSQL.

Not collected by pytest (a script). Run from the repository root:

    .venv/bin/python tests/bench/bench_voice.py            # 32 callers, 4,000 requests per target per round

It seeds a 10,000-facility directory into PostgreSQL (``clearline_voice`` by
default; DATABASE_URL to change it), starts gunicorn on loopback with the
bench-only URLconf ``tests/bench/voice_bench_site.py``, and fires signed Twilio
``POST /twilio/voice/incoming`` requests (each a new CallSid, so each inserts a
call) from 32 concurrent callers. In the same run it measures two baselines:
a Django view returning constant TwiML, and a minimal "check the signature,
look up the number, insert a row, dial" view. It prints throughput, p50/p99
and the ratios; targets: throughput ≥ the minimal baseline, p99 < 50 ms.
Bounded: a fixed number of requests per target and a time limit per round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PUBLIC_HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((PUBLIC_HOST, 0))
        return int(s.getsockname()[1])


def setup_env(args: argparse.Namespace, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        DJANGO_SETTINGS_MODULE="tests.bench.voice_bench_site",
        PUBLIC_BASE_URL=f"http://{PUBLIC_HOST}:{port}",
        TWILIO_AUTH_TOKEN="bench-twilio-token",
        LOG_LEVEL="WARNING",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    os.environ.update(env)
    return env


def seed(facilities: int) -> None:
    """A nationwide directory of ``facilities`` facilities (one partner per 5) and the helpline number."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from helpline.models import HelplineNumber
    from partners.models import US_STATES, Facility, Partner
    from routing.services import bump_directory_version

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE helpline_callevent, helpline_dialattempt, helpline_call CASCADE")
    HelplineNumber.objects.get_or_create(number="+18885550100", defaults={"kind": "general", "is_primary": True})
    have = Facility.objects.count()
    if have >= facilities:
        print(f"directory: {have} facilities already seeded")
        return
    states = [s for s in US_STATES if s != "PR"]
    partners = Partner.objects.bulk_create(
        Partner(
            legal_name=f"Bench Partner {i} LLC",
            display_name=f"Bench Partner {i}",
            slug=f"bench-partner-{i}-{uuid.uuid4().hex[:6]}",
            price_per_call_cents=4500,
            license_verified_on="2026-01-01",
            priority=1 + i % 5,
            weight=1 + i % 3,
        )  # fmt: skip
        for i in range((facilities - have) // 5 + 1)
    )
    rows = []
    for i in range(facilities - have):
        state = states[i % len(states)]
        rows.append(
            Facility(
                partner=partners[i // 5], name=f"Bench Facility {i}", slug=f"bench-facility-{i}-{uuid.uuid4().hex[:6]}",
                address_line="1 Main St", city="Town", state=state, zip_code=f"{10000 + i % 89999:05d}",
                latitude=25 + (i % 23), longitude=-120 + (i % 50), phone=f"+1212{5550000 + i % 9999999:07d}"[:12],
                time_zone="America/New_York", open_24_7=True, services=["detox", "outpatient"], languages=["en"],
                service_states=[state], service_zip_prefixes=[f"{100 + i % 899:03d}"],
                service_radius_miles=25 if i % 3 == 0 else None,
            )
        )  # fmt: skip
    Facility.objects.bulk_create(rows, batch_size=2000)
    bump_directory_version()
    print(f"directory: seeded {facilities - have} facilities ({Facility.objects.count()} in all)")


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi:application", "--bind", f"{PUBLIC_HOST}:{port}",
        "--workers", str(workers), "--threads", str(threads), "--log-level", "warning", "--backlog", "256",
        "--keep-alive", "5",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{PUBLIC_HOST}:{port}/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not come up within 30 s")


def signed_requests(base: str, path: str, count: int) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Payloads as Twilio sends them (new CallSid each), signed with the real library."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    url = base + path
    out = []
    for _ in range(count):
        params = {
            "AccountSid": "AC00000000000000000000000000000000", "ApiVersion": "2010-04-01",
            "CallSid": "CA" + uuid.uuid4().hex, "CallStatus": "ringing", "Direction": "inbound",
            "From": "+15125550123", "Caller": "+15125550123", "To": "+18885550100", "Called": "+18885550100",
            "FromCity": "AUSTIN", "FromState": "TX", "FromZip": "78701", "FromCountry": "US", "ToCountry": "US",
        }  # fmt: skip
        out.append((params, {"X-Twilio-Signature": validator.compute_signature(url, params)}))
    return out


async def load(base: str, path: str, requests: list, concurrency: int, time_limit: float) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    queue = list(reversed(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    stop_at = time.perf_counter() + time_limit
    async with aiohttp.ClientSession(connector=connector) as session:

        async def caller() -> None:
            nonlocal errors
            while queue and time.perf_counter() < stop_at:
                params, headers = queue.pop()
                t0 = time.perf_counter()
                async with session.post(base + path, data=params, headers=headers) as response:
                    body = await response.read()
                    if response.status != 200 or b"<Response>" not in body:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                        "postgres://postgres@127.0.0.1:5432/clearline_voice"))  # fmt: skip
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--facilities", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4000, help="per target per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (>1: gthread worker)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per target per round")
    args = parser.parse_args()

    port = free_port()
    env = setup_env(args, port)
    seed(args.facilities)
    base = f"http://{PUBLIC_HOST}:{port}"
    targets = [
        ("constant TwiML view", "/bench/constant"),
        ("minimal lookup+insert+dial", "/bench/minimal"),
        ("Clearline /twilio/voice/incoming", "/twilio/voice/incoming"),
    ]
    proc = start_gunicorn(env, port, args.workers, args.threads)
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in targets}
    try:
        for _name, path in targets:  # warm every worker's connections and caches
            asyncio.run(load(base, path, signed_requests(base, path, 300), args.concurrency, 20))
        for _round in range(args.rounds):
            for name, path in targets:
                reqs = signed_requests(base, path, args.requests)
                results[name].append(asyncio.run(load(base, path, reqs, args.concurrency, args.time_limit)))
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    print(
        f"\n{args.concurrency} concurrent callers, gunicorn {args.workers} workers x {args.threads} threads, "
        "PostgreSQL, "
        f"{args.facilities:,}-facility directory; best of {args.rounds} rounds of {args.requests} requests"
    )
    print(f"{'target':36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    best = {}
    for name, runs in results.items():
        r = max(runs, key=lambda x: x["rps"])
        best[name] = r
        errors = sum(int(x["errors"]) for x in runs)
        print(f"{name:36} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {errors:7d}")
    ours = best["Clearline /twilio/voice/incoming"]
    minimal = best["minimal lookup+insert+dial"]
    constant = best["constant TwiML view"]
    print(f"throughput ratio vs minimal baseline: {ours['rps'] / minimal['rps']:.2f}  "
          f"vs constant view: {ours['rps'] / constant['rps']:.2f}")  # fmt: skip
    print(f"p99 ratio vs minimal baseline: {ours['p99_ms'] / minimal['p99_ms']:.2f}")
    ok_tp = ours["rps"] >= minimal["rps"]
    ok_p99 = ours["p99_ms"] < 50
    print(f"target throughput >= minimal: {'MET' if ok_tp else 'MISSED'}; target p99 < 50 ms: "
          f"{'MET' if ok_p99 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
