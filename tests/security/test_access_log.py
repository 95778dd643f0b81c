"""gunicorn's access log, as really configured, writes no caller number (issue 11, finding 2).

A staff search by phone is a GET with the number in the query string; gunicorn's default
format wrote it (and the referrer carrying it) to stdout, past the redacting log filter.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+15125550199"
QUERY = "q=%2B15125550199"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # an answer (503: a service is down) is enough
        except OSError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not answer")


def test_gunicorn_access_log_has_no_query_string_or_referrer(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'access-log.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "1",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(f"{base}/healthz", proc)
            request = urllib.request.Request(
                f"{base}/healthz?{QUERY}",
                headers={"Referer": f"{base}/admin/helpline/admissionrequest/?{QUERY}&_changelist_filters={QUERY}"},
            )
            try:
                urllib.request.urlopen(request, timeout=5)
            except urllib.error.HTTPError:
                pass  # the status does not matter, only the log line
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    lines = log.read_text().splitlines()
    # The request is logged (path, method, status), so this test sees the real log...
    access = [line for line in lines if '"GET /healthz HTTP/1.1"' in line]
    assert len(access) >= 2, lines
    # ...and no line carries any form of the number.
    digits = NUMBER.lstrip("+")
    for line in lines:
        squeezed = "".join(ch for ch in line if ch.isdigit())
        for needle in (digits, digits[1:], "5550199", "%2B1"):
            assert needle not in line, line
        assert digits[1:] not in squeezed, line
