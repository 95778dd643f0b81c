"""Production settings refuse to start without their secrets; the embedded default needs none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-grade-secret-key-with-enough-entropy-0123456789",
    "DJANGO_ALLOWED_HOSTS": "helpline.example.org",
    "TWILIO_AUTH_TOKEN": "prod-token",
    "TWILIO_ACCOUNT_SID": "ACprod",
    "PUBLIC_BASE_URL": "https://helpline.example.org",
    "FIELD_ENCRYPTION_SALT_KEYS": "salt-one",
    "CALLER_HASH_KEY": "hash-key",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TWILIO_", "DATABASE_", "REDIS_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "TWILIO_AUTH_TOKEN", "CALLER_HASH_KEY"]
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_starts_with_every_secret_set():
    result = _manage("check", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr


def test_embedded_default_needs_no_environment():
    result = _manage("check", env={"DJANGO_SETTINGS_MODULE": "config.settings.local"})
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs PostgreSQL")
def test_web_statement_timeout_reaches_postgresql():
    code = (
        "import django; django.setup();"
        "from django.db import connection;"
        "c = connection.cursor(); c.execute('SHOW statement_timeout'); print(c.fetchone()[0])"
    )
    env = {k: v for k, v in os.environ.items()}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_STATEMENT_TIMEOUT_MS": "4000"})
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "4s"
