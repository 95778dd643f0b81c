"""Fixtures for every helpline test: the routing caches emptied around each test (autouse), Twilio kept offline.

They are defined in ``voice_support`` and ``admission_support``, where tests in other folders import them.
"""

from __future__ import annotations

from tests.helpline.admission_support import fake_twilio_fixture, twilio_offline_fixture  # noqa: F401
from tests.helpline.voice_support import fresh_routing_directory  # noqa: F401 - autouse: every helpline test
