"""Production settings: `check --deploy` is clean, and the headers and cookies are what it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "Zq8v2Lr5Xw1Nc7Hb3Tk9Pm4Yd6Fg0Js2Qa8Ue5Io1Wz7Rt3Vx9By4Cn6Dl2Mh0Kp",
    "DJANGO_ALLOWED_HOSTS": "helpline.example.org",
    "TWILIO_AUTH_TOKEN": "f3a9c1d27be04e5a8c6d9e0f1a2b3c4d",
    "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "PUBLIC_BASE_URL": "https://helpline.example.org",
    "FIELD_ENCRYPTION_SALT_KEYS": "pV7yJ2kQ9sLw4Xe1Rb6Tn0Hc",
    "CALLER_HASH_KEY": "mD3fG8hK1jL5zX9cV2bN7qW4",
    "DATABASE_URL": "sqlite:////tmp/clearline-security-deploy-check.sqlite3",
}


def _run(args: list[str], **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "STAFF_"))}
    env.update(PRODUCTION_ENV, PYTHONPATH=str(ROOT), **overrides)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_reports_no_warnings_in_production():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_catches_weak_settings():
    """The same check fails when HSTS is off, OTP is off and the hash key is a placeholder."""
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECURE_HSTS_SECONDS="0",
        STAFF_REQUIRE_OTP="false",
        CALLER_HASH_KEY="local-dev-caller-hash-key",
    )

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "security.W004" in output
    assert "clearline.W001" in output and "CALLER_HASH_KEY" in output
    assert "clearline.W002" in output


PROBE = """
import json, django
django.setup()
from django.test import Client
proxied = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="helpline.example.org")
r = proxied.get("/portal/login/")
plain = Client(HTTP_HOST="helpline.example.org").get("/portal/login/")
print(json.dumps({
    "status": r.status_code,
    "headers": dict(r.headers),
    "cookies": {k: {"secure": bool(v["secure"]), "httponly": bool(v["httponly"]), "samesite": v["samesite"]}
                for k, v in r.cookies.items()},
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location"),
    "session_cookie_secure": __import__("django.conf").conf.settings.SESSION_COOKIE_SECURE,
}))
"""


def test_production_sends_security_headers_and_secure_cookies():
    result = _run(["-c", PROBE])
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["status"] == 200
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert seen["cookies"]["csrftoken"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert seen["session_cookie_secure"] is True
    # Plain HTTP is redirected to HTTPS.
    assert seen["plain_status"] == 301
    assert seen["plain_location"] == "https://helpline.example.org/portal/login/"


@pytest.mark.django_db
def test_every_page_carries_csp_and_frame_headers(client):
    for url in ["/", "/portal/login/", f"/{settings.ADMIN_URL}login/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["Referrer-Policy"] == "same-origin", url
