"""The embedded mode (no Redis, eager Celery) publishes tasks without kombu warnings in the log."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings

from config.celery_app import app


@app.task(name="tests.config.noop")
def noop(value: int) -> int:
    return value


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the embedded mode only")
def test_eager_publish_logs_no_no_hostname_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert app.conf.task_always_eager
    with caplog.at_level(logging.WARNING):
        noop.apply_async(args=[1], retry=False)
        noop.delay(2)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("kombu")] == []
