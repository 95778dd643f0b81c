"""Real services for the fault tests: our own Redis, gunicorn and Celery workers as subprocesses.

These tests stop and start services, so they never touch the shared Redis
(6379): each test gets a private ``redis-server`` on a free port, and the app
(gunicorn) and workers under test are started with ``REDIS_URL`` pointing at
it and ``DATABASE_URL`` at pytest's test database. Skipped unless
``DATABASE_URL`` and ``REDIS_URL`` are set (they name the real PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SERVICES = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    skip = pytest.mark.skip(reason="fault tests need DATABASE_URL (PostgreSQL) and REDIS_URL")
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
            if not SERVICES or not shutil.which("redis-server"):
                item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - keep polling until the deadline
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_until_quiet(*, redis_url: str, snapshot: Callable[[], Any], settle: float = 5.0, timeout: float = 90) -> Any:
    """Wait until nothing more can happen, then return the last ``snapshot()``.

    Quiet means, for ``settle`` seconds on end: no task message waiting in a
    queue, none held unacknowledged by a worker (tasks acknowledge late, so a
    task being run, waiting for a retry countdown or lost with a killed worker
    stays in Redis' ``unacked`` hash), and ``snapshot()`` (the rows and
    outbound requests the test counts) unchanged. "Exactly one" asserted after
    this would see a late duplicate; asserted after a fixed sleep it might not.
    """
    import redis

    broker = redis.Redis.from_url(redis_url, socket_timeout=2)
    deadline = time.monotonic() + timeout
    last: Any = None
    quiet_since: float | None = None
    while True:
        queues = [key for key in broker.scan_iter("celery*") if broker.type(key) == b"list"]
        pending = sum(int(broker.llen(key)) for key in queues) + int(broker.hlen("unacked"))
        state = snapshot()
        now = time.monotonic()
        if pending or state != last or quiet_since is None:
            last, quiet_since = state, now
        elif now - quiet_since >= settle:
            return state
        if now > deadline:
            raise AssertionError(f"not quiet after {timeout}s: {pending} task messages pending; last state {state}")
        time.sleep(0.2)


class RedisServer:
    """A private redis-server we may stop and start at will."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log_dir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.port != 6379, "never the shared Redis"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        wait_for(lambda: redis.Redis(port=self.port, socket_timeout=0.2).ping(), timeout=10, what="redis up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Service:
    """A subprocess in its own process group, so kill() takes its children (workers) too."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Service:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=20)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def database_url_for_subprocesses() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_env(redis_server: RedisServer, transactional_db: None) -> dict[str, str]:
    """Environment of the app and workers under test: test settings, real broker, the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url_for_subprocesses(),
        REDIS_URL=redis_server.url,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_VISIBILITY_TIMEOUT_SECONDS="4",
        DATABASE_CONN_MAX_AGE="0",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def start_gunicorn(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(env: dict[str, str], *, workers: int = 2) -> Service:
        port = free_port()
        service = Service(
            "gunicorn",
            [str(VENV_BIN / "gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{port}",
             "-w", str(workers), "--timeout", "30", "--graceful-timeout", "2"],
            env, tmp_path / f"gunicorn-{port}.log",
        ).start()  # fmt: skip
        service.extra["base"] = f"http://127.0.0.1:{port}"
        # Any answer will do (healthz is 503 when a test has broken the database on purpose).
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code, timeout=30, what="gunicorn"
        )
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill(signal.SIGTERM)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(env: dict[str, str], *, name: str = "w1") -> Service:
        service = Service(
            f"worker-{name}",
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "-l", "INFO", "-c", "1", "-n", f"{name}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env, tmp_path / f"celery-{name}.log",
        ).start()  # fmt: skip
        wait_for(lambda: "ready." in service.output(), timeout=40, what=f"celery worker {name} ready")
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill(signal.SIGKILL)


def run_manage(env: dict[str, str], code: str, *, timeout: float = 60) -> str:
    """Run Python code in a fresh process with the app's environment (as beat would run a task)."""
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class LiveClient:
    """Just enough of Django's test Client for the voice test driver, over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.timings: list[tuple[str, float]] = []

    def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None, **_: Any) -> Any:
        started = time.monotonic()
        response = self.session.post(self.base + path, data=data, headers=headers or {}, timeout=30)
        self.timings.append((urlsplit(path).path, time.monotonic() - started))
        return _Response(response)


class _Response:
    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.content = response.content
        self._headers = response.headers

    def __getitem__(self, key: str) -> str:
        return self._headers[key]
