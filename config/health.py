"""``GET /healthz``: the state of the database, and of Redis / the broker when configured."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _check_database() -> dict[str, object]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_redis() -> dict[str, object]:
    import redis

    started = time.monotonic()
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict[str, object]] = {"database": _check_database()}
    if settings.REDIS_URL:
        redis_state = _check_redis()
        checks["redis"] = redis_state
        # The Celery broker is this same Redis.
        checks["celery_broker"] = redis_state
    else:
        checks["celery_broker"] = {"ok": True, "mode": "eager (embedded)"}
    healthy = all(bool(c["ok"]) for c in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)
