"""Shared fixtures. App-specific factories live in tests/<app>/factories.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.core.cache import cache

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _clear() -> None:
    try:
        cache.clear()
    except Exception:  # noqa: BLE001, S110 - fault tests stop Redis; the cache is then simply unavailable
        pass


@pytest.fixture(autouse=True)
def _clear_cache():
    _clear()
    yield
    _clear()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Debian chromium for the whole run, driven by Playwright's sync API.

    Playwright's sync API runs an event loop in this thread, so only one may be
    alive at a time: every browser test uses this fixture rather than its own.
    The same loop makes Django think it is in async code, hence ALLOW_ASYNC_UNSAFE.
    """
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    playwright_api = pytest.importorskip("playwright.sync_api")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
