"""Shared fixtures. The test factories live in tests/factories/, a module per room."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
import time_machine
from django.core.cache import cache

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


# CLEARLINE_TEST_CLOCK=2026-12-02T00:00:30Z runs the whole session with the clock travelled
# there (and ticking), to prove no test depends on the hour it runs at: run the suite just
# after midnight UTC and just after midnight in Honolulu (10:00:30Z). Tests that need a
# particular time freeze it themselves (time_machine), which nests inside this.
TEST_CLOCK_ENV = "CLEARLINE_TEST_CLOCK"


def pytest_configure(config: pytest.Config) -> None:
    value = os.environ.get(TEST_CLOCK_ENV, "").strip()
    if not value:
        return
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return  # the xdist controller runs no test, and a travelled clock stalls its start of the workers
    try:
        destination = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise pytest.UsageError(f"{TEST_CLOCK_ENV}={value!r} is not an ISO 8601 date and time") from exc
    if destination.tzinfo is None:
        raise pytest.UsageError(f"{TEST_CLOCK_ENV}={value!r} needs a zone (Z or +hh:mm)")
    traveller = time_machine.travel(destination, tick=True)
    traveller.start()
    config.stash[_clock_key] = (traveller, destination)


def pytest_unconfigure(config: pytest.Config) -> None:
    travelled = config.stash.get(_clock_key, None)
    if travelled is not None:
        travelled[0].stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    travelled = config.stash.get(_clock_key, None)
    return f"clock travelled to {travelled[1].isoformat()} ({TEST_CLOCK_ENV})" if travelled else None


_clock_key = pytest.StashKey[tuple]()


def _clear() -> None:
    try:
        cache.clear()
    except Exception:  # noqa: BLE001, S110 - fault tests stop Redis; the cache is then simply unavailable
        pass


# A Wednesday in mid-November, 18:00 UTC: noon in Chicago, 10:00 in California, 08:00 in Honolulu,
# far from any day or month boundary in every US zone. Tests that make rows "minutes/hours ago"
# and then count by day or month use it, so they do not depend on the hour the suite runs at.
QUIET_HOUR = dt.datetime(2026, 11, 18, 18, 0, tzinfo=dt.UTC)


@pytest.fixture
def quiet_clock() -> Iterator[dt.datetime]:
    """The clock at ``QUIET_HOUR``, ticking (leases and timeouts still work)."""
    with time_machine.travel(QUIET_HOUR, tick=True):
        yield QUIET_HOUR


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
