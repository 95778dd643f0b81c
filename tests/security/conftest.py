"""Fixtures of the security tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_twilio import FakeTwilio, running_fake_twilio


@pytest.fixture
def fake_twilio(settings: Any) -> Iterator[FakeTwilio]:
    """Outbound Twilio REST calls (notifications, callbacks) go to a local fake, never the network."""
    with running_fake_twilio() as fake:
        settings.TWILIO_API_BASE_URL = fake.base_url
        yield fake
