"""Shared fixtures. App-specific factories live in tests/<app>/factories.py."""

from __future__ import annotations

import pytest
from django.core.cache import cache


def _clear() -> None:
    try:
        cache.clear()
    except Exception:  # noqa: BLE001 - fault tests stop Redis; the cache is then simply unavailable
        pass


@pytest.fixture(autouse=True)
def _clear_cache():
    _clear()
    yield
    _clear()
