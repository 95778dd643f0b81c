"""Bounded load run of mixed helpline traffic against gunicorn + PostgreSQL + Redis + a real worker.

    .venv/bin/python tests/bench/load/run.py                    # normal run
    .venv/bin/python tests/bench/load/run.py --redis-outage     # Redis stopped halfway through

Everything is local (loopback): a fresh PostgreSQL database ``clearline_security_load``, a private
``redis-server`` on a free port (never the shared one), gunicorn, one Celery worker, the fake
Twilio REST API (tests/fake_twilio.py) and a headless locust run (tests/bench/load/locustfile.py)
with bounded users and time. Prints throughput, p50/p99 per request kind, the error count, and a
lost-request check: every call locust finished is in the database as completed, every accepted
form is saved, and once Redis is back every request was handed to its partner.
Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DB_NAME = "clearline_security_load"
PG = "postgres://postgres@127.0.0.1:5432"
SECRET = "load-run-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
TOKEN = "load-run-twilio-token"
HELPLINE = "+18885550100"
PARTNER_USER = "load-partner"
PARTNER_PASSWORD = "a-long-load-test-password-7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def sh(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--spawn-rate", type=float, default=8)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--redis-outage", action="store_true", help="stop Redis halfway, start it after the run")
    args = parser.parse_args()

    out = ROOT / "artifacts" / "load" / ("redis-outage" if args.redis_outage else "normal")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*"):
        old.unlink()
    web_port, redis_port = free_port(), free_port()
    assert redis_port != 6379
    base = f"http://127.0.0.1:{web_port}"

    sys.path.insert(0, str(ROOT))
    from tests.fake_twilio import FakeTwilio

    fake = FakeTwilio().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=SECRET,
        DATABASE_URL=f"{PG}/{DB_NAME}",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        PUBLIC_BASE_URL=base,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_API_BASE_URL=fake.base_url,
        PROXY_COUNT="1",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    os.environ.update(env)

    # Fresh database.
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f"DROP DATABASE IF EXISTS {DB_NAME}"],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f"CREATE DATABASE {DB_NAME}"],
                   check=True, capture_output=True)  # fmt: skip
    sh([sys.executable, "manage.py", "migrate", "--noinput"], env)

    import django

    django.setup()
    from django.core import signing
    from django.utils import timezone

    from helpline.admission.forms import FORM_STAMP_SALT
    from helpline.models import AdmissionRequest, Call, HelplineNumber
    from helpline.privacy import caller_hash
    from partners.models import PartnerMembership
    from tests.factories import FacilityFactory, HelplineNumberFactory, PartnerFactory, UserFactory

    HelplineNumberFactory(number=HELPLINE, kind=HelplineNumber.Kind.GENERAL)
    partners = []
    for i in range(6):
        partner = PartnerFactory(display_name=f"Load Partner {i}", priority=1 + i % 3)
        FacilityFactory(partner=partner, phone=f"+1512555{2000 + i:04d}")
        partners.append(partner)
    user = UserFactory(username=PARTNER_USER, password=PARTNER_PASSWORD)
    PartnerMembership.objects.create(user=user, partner=partners[0])
    stamp = signing.dumps({"t": time.time() - 30}, salt=FORM_STAMP_SALT)

    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, cmd: list[str]) -> None:
        log = (out / f"{name}.log").open("ab")
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # fmt: skip

    def stop(name: str) -> None:
        proc = procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)

    redis_cmd = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"]  # fmt: skip
    try:
        start("redis", redis_cmd)
        time.sleep(0.5)
        start("gunicorn", [str(BIN / "gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{web_port}",
                           "-w", str(args.web_workers), "--timeout", "30"])  # fmt: skip
        start("worker", [str(BIN / "celery"), "-A", "config", "worker", "-l", "WARNING", "-c", "2",
                         "--without-gossip", "--without-mingle"])  # fmt: skip
        wait_http(f"{base}/healthz")
        time.sleep(3)
        worker_cmd = procs["worker"].args
        restarts = {"worker": 0}
        supervising = threading.Event()
        supervising.set()

        def supervise() -> None:
            """What docker-compose's restart policy does: a worker that exits is started again."""
            while supervising.is_set():
                proc = procs.get("worker")
                if proc is not None and proc.poll() is not None:
                    restarts["worker"] += 1
                    start("worker", list(worker_cmd))
                time.sleep(1)

        threading.Thread(target=supervise, daemon=True).start()

        ledger = out / "ledger.jsonl"
        load_env = dict(
            env, LOAD_PUBLIC_BASE_URL=base, LOAD_TWILIO_AUTH_TOKEN=TOKEN, LOAD_HELPLINE_NUMBER=HELPLINE,
            LOAD_PARTNER_USER=PARTNER_USER, LOAD_PARTNER_PASSWORD=PARTNER_PASSWORD, LOAD_FORM_STAMP=stamp,
            LOAD_LEDGER=str(ledger),
        )  # fmt: skip
        outage: dict[str, float] = {}
        if args.redis_outage:

            def outage_halfway() -> None:
                time.sleep(args.duration / 2)
                stop("redis")
                outage["stopped_at"] = time.monotonic()

            threading.Thread(target=outage_halfway, daemon=True).start()
        started = time.monotonic()
        subprocess.run(
            [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(args.users),
             "-r", str(args.spawn_rate), "-t", f"{args.duration}s", "--host", base, "--csv", str(out / "locust"),
             "--only-summary", "--stop-timeout", "20", "--loglevel", "WARNING"],
            cwd=ROOT, env=load_env, check=False, stdout=(out / "locust.out").open("w"), stderr=subprocess.STDOUT,
            timeout=args.duration + 120,
        )  # fmt: skip
        elapsed = time.monotonic() - started

        if args.redis_outage:
            start("redis", redis_cmd)
            time.sleep(1)
            # Beat runs the sweeper every minute and it leaves rows younger than 2 minutes to the normal
            # enqueue; stand in for that wait by ageing the rows, then sweep as beat would.
            AdmissionRequest.objects.filter(notified_at__isnull=True).update(
                updated_at=timezone.now() - dt.timedelta(minutes=5)
            )
            sh([sys.executable, "-c", "import django; django.setup(); from helpline.admission.tasks import "
                "sweep_admission_requests as s; print(s())"], env)  # fmt: skip

        # --- lost requests --------------------------------------------------------------------------
        entries = [json.loads(line) for line in ledger.read_text().splitlines()] if ledger.exists() else []
        call_sids = [e["value"] for e in entries if e["kind"] == "call"]
        form_phones = [e["value"] for e in entries if e["kind"] == "form"]
        stored_calls = dict(Call.objects.filter(call_sid__in=call_sids).values_list("call_sid", "status"))
        missing_calls = [sid for sid in call_sids if sid not in stored_calls]
        unfinished = [sid for sid, status in stored_calls.items() if status not in ("completed", "fallback")]
        hashes = {caller_hash(p) for p in form_phones}
        saved_forms = AdmissionRequest.objects.filter(phone_hash__in=hashes).count()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = AdmissionRequest.objects.filter(phone_hash__in=hashes, notified_at__isnull=True).count()
            if waiting == 0:
                break
            time.sleep(2)
        not_notified = AdmissionRequest.objects.filter(phone_hash__in=hashes, notified_at__isnull=True).count()

        # --- figures --------------------------------------------------------------------------------
        rows = list(csv.DictReader((out / "locust_stats.csv").open()))
        scenario = "Redis stopped halfway" if args.redis_outage else "all services up"
        print(f"\nLoad run ({scenario}): {args.users} users, {args.duration}s, "
              f"gunicorn x{args.web_workers}, 1 Celery worker (2 procs)")  # fmt: skip
        print(f"{'request':28} {'count':>6} {'fail':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
        for row in rows:
            print(f"{row['Name'][:28]:28} {row['Request Count']:>6} {row['Failure Count']:>5} "
                  f"{float(row['Requests/s']):7.1f} {row['50%']:>7} {row['99%']:>7} "
                  f"{float(row['Max Response Time']):7.0f}")  # fmt: skip
        total = next(r for r in rows if r["Name"] == "Aggregated")
        summary = {
            "redis_outage": args.redis_outage,
            "users": args.users,
            "seconds": round(elapsed, 1),
            "requests": int(total["Request Count"]),
            "errors": int(total["Failure Count"]),
            "throughput_rps": round(float(total["Requests/s"]), 1),
            "p50_ms": total["50%"],
            "p99_ms": total["99%"],
            "calls_finished": len(call_sids),
            "calls_missing_in_db": len(missing_calls),
            "calls_not_completed": len(unfinished),
            "forms_accepted": len(form_phones),
            "forms_saved": saved_forms,
            "forms_not_handed_to_partner": not_notified,
            "twilio_sms_sent": len(fake.messages()),
            "twilio_calls_placed": len(fake.calls()),
            "worker_restarts_by_supervisor": restarts["worker"],
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        print(json.dumps(summary, indent=2))
        failures = out / "locust_failures.csv"
        if failures.exists() and failures.read_text().count("\n") > 1:
            print("failures:\n" + failures.read_text())
    finally:
        if "supervising" in locals():
            supervising.clear()
            time.sleep(1.5)
        for name in list(procs):
            stop(name)
        fake.stop()


if __name__ == "__main__":
    main()
