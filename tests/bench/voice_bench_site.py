"""Settings used only by ``tests/bench/bench_voice.py`` (never by production): the real app plus the
bench-only URLconf ``tests/bench/voice_bench_urls.py`` with the two baseline views.
"""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "tests.bench.voice_bench_urls"
DEBUG = False
