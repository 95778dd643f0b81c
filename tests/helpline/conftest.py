"""The admission fixtures (``twilio_offline``, ``fake_twilio``, ``fresh_routing_directory``) for every helpline test.

They are defined in ``admission_support``, where tests in other folders import them. Voice test modules import
``voice_support.fresh_routing_directory`` (autouse, it also empties the voice caches), which takes precedence there.
"""

from __future__ import annotations

from tests.helpline.admission_support import (  # noqa: F401 - imported to register the fixtures
    fake_twilio_fixture,
    fresh_routing_directory_fixture,
    twilio_offline_fixture,
)
