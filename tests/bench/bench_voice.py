"""Benchmark: the voice webhooks under concurrent load on gunicorn + PostgreSQL (issue 14).

Not collected by pytest (a script). Run from the repository root:

    .venv/bin/python tests/bench/bench_voice.py            # 32 callers, 2 sync workers

It seeds a 10,000-facility directory into PostgreSQL (``clearline_voice`` by
default; --database-url to change it), starts gunicorn on loopback with the
bench-only URLconf ``tests/bench/voice_bench_site.py`` and measures, in one run
and from 32 concurrent callers, every request signed with the real library:

- a Django view returning constant TwiML (the stack's ceiling) and a minimal
  "check the signature, look up the number, insert a row, dial" view;
- ``POST /twilio/voice/incoming`` (each a new CallSid, so each inserts a call);
- ``POST /twilio/voice/service?try=1`` with ``Digits=1`` (route, claim, store the
  decision, ``<Dial>``), on calls that already passed incoming (prepared, untimed);
- whole accepted calls in Twilio's order: incoming (the greeting is its menu),
  service, the leg's initiated/ringing callbacks, whisper, answered, whisper
  choice 1, the leg's completed callback, dial result, the call's final status
  callback.

It prints req/s (calls/s for whole calls), p50/p99 and the share of the constant
view's throughput, and for whole calls the server time per call two ways: the
CPU time the gunicorn workers and the database's backends spent (read from
/proc before and after the round, divided by the calls), and the wall-clock
upper bound (workers x wall time / calls, which also counts workers idle while
the load generator, on the same 2 cores, prepares the next request).
Targets (issue 14): incoming >= 40%, service >= 25% with p99 <= 4x the constant
view's, a whole call <= 15 ms of server time. Bounded: a fixed number of
requests per target and a time limit per round.

``--threads 4`` gives the run script's shape (``scripts/run.sh``: 2 workers x
4 threads, gthread); the default is 2 sync workers.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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
        "--keep-alive", "5", "--timeout", "300",  # the first routed call compiles the directory: slow on a busy machine
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


Job = Callable[[Any], Awaitable[bool]]
TICKS = os.sysconf("SC_CLK_TCK")


def server_pids(gunicorn: subprocess.Popen[bytes], database: str) -> dict[str, list[int]]:
    """The gunicorn workers (children of the master) and the PostgreSQL backends serving ``database``.

    Autovacuum workers on the database are left out: they run when they please, not per request.
    """
    workers, backends = [], []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == gunicorn.pid:
            workers.append(int(entry.name))
        elif cmdline.startswith("postgres: ") and f" {database} " in cmdline and "autovacuum" not in cmdline:
            backends.append(int(entry.name))
    return {"workers": workers, "database": backends}


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (from /proc/PID/stat; a process gone is left out)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


class ServerCpu:
    """CPU seconds the workers and the database backends spent between ``start`` and ``stop``."""

    def __init__(self, gunicorn: subprocess.Popen[bytes], database: str) -> None:
        self.gunicorn, self.database = gunicorn, database
        self.before: dict[str, dict[int, float]] = {}
        self.spent: dict[str, float] = {}

    def start(self) -> None:
        self.before = {k: cpu_seconds(v) for k, v in server_pids(self.gunicorn, self.database).items()}

    def stop(self) -> None:
        for kind, pids in server_pids(self.gunicorn, self.database).items():
            now = cpu_seconds(pids)
            self.spent[kind] = sum(t - self.before.get(kind, {}).get(pid, 0.0) for pid, t in now.items())


async def run_jobs(
    jobs: list[Job], concurrency: int, time_limit: float, cpu: ServerCpu | None = None
) -> dict[str, float]:
    """Run ``jobs`` (each one request or one whole call) from ``concurrency`` callers; latency per job."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    queue = list(reversed(jobs))
    connector = aiohttp.TCPConnector(limit=concurrency)
    stop_at = time.perf_counter() + time_limit
    async with aiohttp.ClientSession(connector=connector) as session:

        async def caller() -> None:
            nonlocal errors
            while queue and time.perf_counter() < stop_at:
                job = queue.pop()
                t0 = time.perf_counter()
                try:
                    ok = await job(session)
                except Exception:  # noqa: BLE001 - a refused connection or a bad document: counted, not fatal
                    ok = False
                errors += not ok
                latencies.append(time.perf_counter() - t0)

        if cpu is not None:
            cpu.start()
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        if cpu is not None:
            cpu.stop()
    latencies.sort()
    n = len(latencies)
    spent = cpu.spent if cpu is not None else {}
    return {
        "worker_cpu": spent.get("workers", 0.0),
        "database_cpu": spent.get("database", 0.0),
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "elapsed": elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
    }


class Twilio:
    """Signs and posts webhooks as Twilio does (form-encoded, signed on the public URL)."""

    def __init__(self, base: str) -> None:
        from twilio.request_validator import RequestValidator

        self.base = base
        self.validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])

    async def post(self, session: Any, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        url = url if url.startswith("http") else self.base + url
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        async with session.post(url, data=params, headers=headers) as response:
            return response.status, await response.read()


def call_params(sid: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC00000000000000000000000000000000", "ApiVersion": "2010-04-01", "CallSid": sid,
        "CallStatus": "ringing", "Direction": "inbound", "From": "+15125550123", "Caller": "+15125550123",
        "To": "+18885550100", "Called": "+18885550100", "FromCity": "AUSTIN", "FromState": "TX",
        "FromZip": "78701", "FromCountry": "US", "ToCountry": "US", **extra,
    }  # fmt: skip


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def one_request(tw: Twilio, path: str) -> Job:
    params = call_params(new_sid())

    async def job(session: Any) -> bool:
        status, body = await tw.post(session, path, params)
        return status == 200 and b"<Response" in body

    return job


async def prepare_at_menu(tw: Twilio, count: int, concurrency: int) -> list[str]:
    """Calls that passed incoming (whose greeting is the service menu): the service step is next. Untimed."""
    import aiohttp

    sids = [new_sid() for _ in range(count)]
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(sid: str) -> None:
            async with sem:
                await tw.post(session, "/twilio/voice/incoming", call_params(sid))

        await asyncio.gather(*(one(sid) for sid in sids))
    return sids


def service_request(tw: Twilio, sid: str) -> Job:
    async def job(session: Any) -> bool:
        status, body = await tw.post(session, "/twilio/voice/service?try=1",
                                     call_params(sid, CallStatus="in-progress", Digits="1"))  # fmt: skip
        return status == 200 and b"<Number" in body  # routed to a partner, not the fallback line

    return job


def whole_call(tw: Twilio) -> Job:
    """One accepted call, every webhook in Twilio's order; False if any step answers unexpectedly."""
    from defusedxml import ElementTree

    async def job(session: Any) -> bool:
        sid, leg = new_sid(), new_sid()
        live = call_params(sid, CallStatus="in-progress")
        status, _ = await tw.post(session, "/twilio/voice/incoming", call_params(sid))
        status2, body = await tw.post(session, "/twilio/voice/service?try=1", {**live, "Digits": "1"})
        if (status, status2) != (200, 200):
            return False
        dial = ElementTree.fromstring(body).find("Dial")
        number = dial.find("Number") if dial is not None else None
        if dial is None or number is None:
            return False  # routed to the fallback line: not an accepted call
        leg_base = {"AccountSid": live["AccountSid"], "CallSid": leg, "ParentCallSid": sid, "To": number.text or "",
                    "From": dial.get("callerId", ""), "Direction": "outbound-dial"}  # fmt: skip
        callback = number.get("statusCallback", "")
        codes = []
        for seq, leg_status in enumerate(("initiated", "ringing")):
            codes.append((await tw.post(session, callback, {**leg_base, "CallStatus": leg_status,
                                                            "SequenceNumber": str(seq)}))[0])  # fmt: skip
        code, body = await tw.post(session, number.get("url", ""), {**leg_base, "CallStatus": "in-progress"})
        gather = ElementTree.fromstring(body).find("Gather")
        if code != 200 or gather is None:
            return False
        codes.append((await tw.post(session, callback, {**leg_base, "CallStatus": "answered",
                                                        "SequenceNumber": "2"}))[0])  # fmt: skip
        code, body = await tw.post(session, gather.get("action", ""), {**leg_base, "CallStatus": "in-progress",
                                                                        "Digits": "1"})  # fmt: skip
        if code != 200 or b"<Hangup" in body:
            return False
        codes.append((await tw.post(session, callback, {**leg_base, "CallStatus": "completed", "SequenceNumber": "3",
                                                        "CallDuration": "240"}))[0])  # fmt: skip
        code, _ = await tw.post(session, dial.get("action", ""), {**live, "DialCallStatus": "completed",
                                "DialCallSid": leg, "DialCallDuration": "240", "DialBridged": "true"})  # fmt: skip
        codes.append(code)
        codes.append((await tw.post(session, "/twilio/voice/status", {**call_params(sid), "CallStatus": "completed",
                                                                      "CallDuration": "260",
                                                                      "SequenceNumber": "0"}))[0])  # fmt: skip
        return all(c in (200, 204) for c in codes)

    return job


def voice_bench_parser(description: str | None) -> argparse.ArgumentParser:
    """The options this bench and profile_voice.py share: the database, Redis and the directory's size."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                        "postgres://postgres@127.0.0.1:5432/clearline_voice"))  # fmt: skip
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--facilities", type=int, default=10_000)
    return parser


def main() -> None:
    parser = voice_bench_parser(__doc__)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4000, help="per target per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1: sync workers; >1: gthread)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per target per round")
    args = parser.parse_args()

    port = free_port()
    env = setup_env(args, port)
    seed(args.facilities)
    base = f"http://{PUBLIC_HOST}:{port}"
    tw = Twilio(base)
    names = ["constant TwiML view", "minimal lookup+insert+dial", "POST voice/incoming", "POST voice/service Digits=1",
             "whole accepted call (10 webhooks)"]  # fmt: skip
    proc = start_gunicorn(env, port, args.workers, args.threads)
    database = args.database_url.rsplit("/", 1)[-1].split("?")[0]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}

    def jobs(name: str, count: int) -> list[Job]:
        if name == names[0]:
            return [one_request(tw, "/bench/constant") for _ in range(count)]
        if name == names[1]:
            return [one_request(tw, "/bench/minimal") for _ in range(count)]
        if name == names[2]:
            return [one_request(tw, "/twilio/voice/incoming") for _ in range(count)]
        if name == names[3]:
            sids = asyncio.run(prepare_at_menu(tw, count, args.concurrency))
            return [service_request(tw, sid) for sid in sids]
        return [whole_call(tw) for _ in range(max(1, count // 10))]

    try:
        for name in names:  # warm every worker's connections and caches
            asyncio.run(run_jobs(jobs(name, 100), args.concurrency, 20))
        for _round in range(args.rounds):
            for name in names:
                cpu = ServerCpu(proc, database)
                results[name].append(asyncio.run(run_jobs(jobs(name, args.requests), args.concurrency,
                                                          args.time_limit, cpu)))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    shape = f"{args.workers} sync workers" if args.threads == 1 else f"{args.workers} workers x {args.threads} threads"
    print(f"\n{args.concurrency} concurrent callers, gunicorn {shape}, PostgreSQL, {args.facilities:,}-facility "
          f"directory; best of {args.rounds} rounds of {args.requests} requests")  # fmt: skip
    print(f"{'target':36} {'req/s':>8} {'share':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'cpu ms/req':>11}")
    best = {name: max(runs, key=lambda x: x["rps"]) for name, runs in results.items()}
    constant = best[names[0]]
    for name, runs in results.items():
        r = best[name]
        errors = sum(int(x["errors"]) for x in runs)
        share = r["rps"] / constant["rps"]
        cpu_ms = (r["worker_cpu"] + r["database_cpu"]) * 1000 / r["requests"]
        print(f"{name:36} {r['rps']:8.1f} {share:6.1%} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {errors:7d} "
              f"{cpu_ms:11.2f}")  # fmt: skip
    incoming, service, calls = best[names[2]], best[names[3]], best[names[4]]
    worker_ms = args.workers * calls["elapsed"] * 1000 / calls["requests"]
    web_cpu_ms = calls["worker_cpu"] * 1000 / calls["requests"]
    db_cpu_ms = calls["database_cpu"] * 1000 / calls["requests"]
    server_ms = web_cpu_ms + db_cpu_ms
    print(f"whole call: {calls['rps']:.1f} calls/s; server time per call {server_ms:.1f} ms of CPU "
          f"({web_cpu_ms:.1f} ms gunicorn workers + {db_cpu_ms:.1f} ms PostgreSQL backends; target <= 15 ms: "
          f"{'MET' if server_ms <= 15 else 'MISSED'}); wall-clock upper bound {worker_ms:.1f} ms "
          f"({args.workers} workers x wall time / calls)")  # fmt: skip
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"incoming share {incoming['rps'] / constant['rps']:.1%} (target >= 40%: "
          f"{'MET' if incoming['rps'] >= 0.4 * constant['rps'] else 'MISSED'})")  # fmt: skip
    print(f"service share {service['rps'] / constant['rps']:.1%} (target >= 25%: "
          f"{'MET' if service['rps'] >= 0.25 * constant['rps'] else 'MISSED'}); p99 {service['p99_ms']:.0f} ms = "
          f"{service['p99_ms'] / constant['p99_ms']:.1f}x the constant view's (target <= 4x)")  # fmt: skip


if __name__ == "__main__":
    main()
