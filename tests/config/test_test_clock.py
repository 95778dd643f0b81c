"""The session clock option (``CLEARLINE_TEST_CLOCK``, tests/conftest.py) really moves the clock.

Run the suite with it to prove no test depends on the hour it runs at, e.g.:
    CLEARLINE_TEST_CLOCK=2026-12-02T00:00:30Z pytest -m "not bench" tests   # just after midnight UTC
    CLEARLINE_TEST_CLOCK=2026-12-02T10:00:30Z pytest -m "not bench" tests   # just after midnight in Honolulu
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.utils import timezone

from tests.conftest import TEST_CLOCK_ENV

pytestmark = pytest.mark.skipif(not os.environ.get(TEST_CLOCK_ENV), reason=f"{TEST_CLOCK_ENV} not set")


def test_the_session_clock_starts_where_the_option_puts_it_and_ticks():
    start = dt.datetime.fromisoformat(os.environ[TEST_CLOCK_ENV].replace("Z", "+00:00"))
    first = timezone.now()
    assert start <= first < start + dt.timedelta(hours=3)  # the session started there; runs are shorter
    assert dt.datetime.now(dt.UTC) - first < dt.timedelta(minutes=1)
    time.sleep(0.01)
    assert timezone.now() > first  # ticking: timeouts and leases still work
