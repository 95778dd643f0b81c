"""Profile: where the server time of the voice webhooks goes, in-process, on PostgreSQL (issue 14).

Not collected by pytest (a script). Run from the repository root:

    .venv/bin/python tests/bench/profile_voice.py                 # per-step medians and round trips
    .venv/bin/python tests/bench/profile_voice.py --cprofile 25   # plus cProfile's top 25 functions

It uses the directory ``tests/bench/bench_voice.py`` seeds (10,000 facilities in
``clearline_voice`` by default), and plays whole accepted calls, one after the
other, through the same WSGI application gunicorn serves (``config.wsgi``: the
lean middleware stack for ``/twilio/``), every request signed as Twilio signs it.
For each webhook it prints the median and p90 wall time, the mean CPU time of
this process (the web worker's share: the database's is not in it), the round
trips to the database and the share of the wall time spent waiting on them (the
cursor's ``execute``); with ``--cprofile`` the functions that took the time.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_voice import (  # noqa: E402
    call_params,
    free_port,
    new_sid,
    seed,
    setup_env,
    voice_bench_parser,
)


class Timings:
    """Wall time, round trips and time inside the database cursor, per webhook."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        self.db: dict[str, list[float]] = {}
        self.trips: dict[str, list[int]] = {}
        self._db = 0.0
        self._trips = 0
        self.statements: dict[str, list[float]] = {}

    def wrapper(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - t0
            self._db += spent
            self._trips += 1
            self.statements.setdefault(" ".join(sql.split())[:110], []).append(spent)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._db, self._trips = 0.0, 0
        t0, c0 = time.perf_counter(), time.process_time()
        yield
        self.cpu.setdefault(name, []).append(time.process_time() - c0)
        self.wall.setdefault(name, []).append(time.perf_counter() - t0)
        self.db.setdefault(name, []).append(self._db)
        self.trips.setdefault(name, []).append(self._trips)

    def report(self) -> str:
        lines = [f"{'webhook':28} {'p50 ms':>7} {'p90 ms':>7} {'cpu ms':>7} {'trips':>5} {'db wait':>7}"]
        total = cpu_total = 0.0
        for name, walls in self.wall.items():
            walls_sorted = sorted(walls)
            p50 = statistics.median(walls_sorted) * 1000
            total += p50
            p90 = walls_sorted[int(len(walls_sorted) * 0.9)] * 1000
            share = sum(self.db[name]) / sum(walls)
            cpu = statistics.mean(self.cpu[name]) * 1000
            cpu_total += cpu
            lines.append(f"{name:28} {p50:7.2f} {p90:7.2f} {cpu:7.2f} {max(self.trips[name]):5d} {share:7.0%}")
        lines.append(f"{'whole call (sums)':28} {total:7.2f} {'':7} {cpu_total:7.2f}")
        return "\n".join(lines)


class Webhooks:
    """Posts signed form requests to the WSGI application, as Twilio does."""

    def __init__(self, application: Any, base: str) -> None:
        from django.test import RequestFactory
        from twilio.request_validator import RequestValidator

        self.application = application
        self.base = base
        self.factory = RequestFactory()
        self.validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])

    def post(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        url = url if url.startswith("http") else self.base + url
        parts = urlsplit(url)
        environ = self.factory.generic(
            "POST",
            parts.path + (f"?{parts.query}" if parts.query else ""),
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=self.validator.compute_signature(url, params),
            SERVER_NAME=parts.hostname,
            SERVER_PORT=str(parts.port),
        ).environ
        status: list[str] = []
        body = b"".join(self.application(environ, lambda s, _h, _e=None: status.append(s)))
        return int(status[0].split()[0]), body


def whole_call(hooks: Webhooks, timings: Timings) -> None:
    from defusedxml import ElementTree

    sid, leg = new_sid(), new_sid()
    live = call_params(sid, CallStatus="in-progress")

    def post(name: str, url: str, params: dict[str, str]) -> bytes:
        with timings.step(name):
            code, body = hooks.post(url, params)
        if code not in (200, 204):
            raise SystemExit(f"{name}: HTTP {code}")
        return body

    post("incoming", "/twilio/voice/incoming", call_params(sid))  # its greeting is the service menu
    body = post("service Digits=1 (routing)", "/twilio/voice/service?try=1", {**live, "Digits": "1"})
    dial = ElementTree.fromstring(body).find("Dial")
    number = dial.find("Number") if dial is not None else None
    if dial is None or number is None:
        raise SystemExit("the service step did not dial a partner: " + body.decode())
    leg_base = {"AccountSid": live["AccountSid"], "CallSid": leg, "ParentCallSid": sid, "To": number.text or "",
                "From": dial.get("callerId", ""), "Direction": "outbound-dial"}  # fmt: skip
    callback = number.get("statusCallback", "")
    for seq, leg_status in enumerate(("initiated", "ringing")):
        post(f"leg status {leg_status}", callback, {**leg_base, "CallStatus": leg_status, "SequenceNumber": str(seq)})
    body = post("whisper", number.get("url", ""), {**leg_base, "CallStatus": "in-progress"})
    gather = ElementTree.fromstring(body).find("Gather")
    assert gather is not None, body  # noqa: S101 - a script
    post("leg status answered", callback, {**leg_base, "CallStatus": "answered", "SequenceNumber": "2"})
    post("whisper choice 1", gather.get("action", ""), {**leg_base, "CallStatus": "in-progress", "Digits": "1"})
    post("leg status completed", callback,
         {**leg_base, "CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "240"})  # fmt: skip
    post("dial result completed", dial.get("action", ""),
         {**live, "DialCallStatus": "completed", "DialCallSid": leg, "DialCallDuration": "240"})  # fmt: skip
    post("final status callback", "/twilio/voice/status",
         {**call_params(sid), "CallStatus": "completed", "CallDuration": "260", "SequenceNumber": "0"})  # fmt: skip


def main() -> None:
    parser = voice_bench_parser(__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--statements", type=int, default=0, metavar="N", help="print the N costliest statements")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="print cProfile's top N functions")
    args = parser.parse_args()

    port = free_port()
    setup_env(args, port)
    seed(args.facilities)
    from django.db import connection

    from config.wsgi import application

    hooks = Webhooks(application, f"http://127.0.0.1:{port}")
    timings = Timings()
    for _ in range(20):  # warm: the directory is compiled, connections open, caches full
        whole_call(hooks, Timings())
    profiler = cProfile.Profile() if args.cprofile else None
    with connection.execute_wrapper(timings.wrapper):
        if profiler is not None:
            profiler.enable()
        for _ in range(args.calls):
            whole_call(hooks, timings)
        if profiler is not None:
            profiler.disable()
    print(f"\n{args.calls} whole accepted calls in-process, {args.facilities:,} facilities, PostgreSQL")
    print(timings.report())
    if args.statements:
        print(f"\n{'total ms':>9} {'count':>6} {'mean ms':>8}  statement")
        costly = sorted(timings.statements.items(), key=lambda kv: -sum(kv[1]))[: args.statements]
        for sql, spent in costly:
            print(f"{sum(spent) * 1000:9.1f} {len(spent):6d} {statistics.mean(spent) * 1000:8.3f}  {sql}")
    if profiler is not None:
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(args.cprofile)
            print(out.getvalue())


if __name__ == "__main__":
    main()
