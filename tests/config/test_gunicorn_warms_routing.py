"""Each gunicorn worker warms routing before its first request (config/gunicorn.conf.py ``post_worker_init``),
so the first caller after a deploy does not wait for the ZIP tables and the directory compile."""

from __future__ import annotations

import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import DatabaseError
from django.utils import timezone

from routing import location, selectors
from tests.factories import FacilityFactory
from tests.helpline.voice_support import clear_routing_caches

CONF = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"


def _hook():
    return runpy.run_path(str(CONF))["post_worker_init"]


@pytest.mark.django_db(transaction=True)
def test_the_worker_hook_compiles_the_directory_and_loads_the_zip_tables(caplog):
    facility = FacilityFactory()
    clear_routing_caches()
    location.zip_tables.cache_clear()
    assert selectors.directory_cache.peek(now=timezone.now()) is None

    _hook()(SimpleNamespace(log=logging.getLogger("gunicorn.test")))

    warmed = selectors.directory_cache.peek(now=timezone.now())
    assert warmed is not None and facility.pk in warmed.facilities
    assert location.zip_tables.cache_info().currsize == 1
    clear_routing_caches()


def test_a_warm_up_that_fails_is_logged_and_keeps_the_worker(monkeypatch, caplog):
    def broken(*, now):
        raise DatabaseError("the database is not up yet")

    monkeypatch.setattr(selectors, "warm", broken)
    with caplog.at_level(logging.WARNING, logger="gunicorn.test"):
        _hook()(SimpleNamespace(log=logging.getLogger("gunicorn.test")))  # no exception
    assert "routing not warmed" in caplog.text
