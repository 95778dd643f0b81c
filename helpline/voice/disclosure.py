"""The spoken disclosure: what every caller hears about who answers, from the versioned record staff edit.

``DisclosureVersion.spoken`` / ``spoken_es`` (the newest version) are the
words; a blank field, no version yet, or a database that cannot be read fall
back to the prompts module's "disclosure" line, so the truth is always spoken.

Read on every incoming call, so each process keeps the words for a short
while: a version saved in this process clears them at once (signals below),
other processes speak the new words within ``SPOKEN_TTL_SECONDS``. The
greeting's TwiML is cached by these words (``inbound._greeting_xml``), so new
words make a new greeting, never a stale one.
"""

from __future__ import annotations

import time

from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save

from helpline.models import DisclosureVersion
from helpline.voice.prompts import PROMPTS

SPOKEN_TTL_SECONDS = 30.0
# The longest spoken disclosure (seconds at 150 words a minute) that keeps every path of the greeting
# within its time-to-a-human target (README; tests/helpline/test_time_to_human.py proves it at these
# lengths): English 13 words (the caller who presses 1 at "detox" has 0.4 s to spare over today's
# 12, after the greeting's 1 s between its two parts), Spanish 16 (1.0 s over today's 14). The admin
# refuses longer words.
SPOKEN_BUDGET_SECONDS = {"en": 5.2, "es": 6.4}
_spoken: list[tuple[float, dict[str, str]]] = []


def forget_spoken_disclosure(**_kwargs: object) -> None:
    _spoken.clear()


post_save.connect(forget_spoken_disclosure, sender=DisclosureVersion, dispatch_uid="voice-forget-disclosure-save")
post_delete.connect(forget_spoken_disclosure, sender=DisclosureVersion, dispatch_uid="voice-forget-disclosure-del")


def default_spoken_disclosure() -> dict[str, str]:
    return {language: lines["disclosure"] for language, lines in PROMPTS.items()}


def spoken_disclosure() -> dict[str, str]:
    """The disclosure the greeting speaks, per language (``{"en": …, "es": …}``)."""
    now = time.monotonic()
    if _spoken and _spoken[0][0] > now:
        return _spoken[0][1]
    try:
        row = DisclosureVersion.objects.order_by("-created_at", "-id").values_list("spoken", "spoken_es").first()
    except DatabaseError:
        return default_spoken_disclosure()  # not kept: the next call tries the database again
    en, es = row if row is not None else ("", "")
    default = default_spoken_disclosure()
    value = {"en": en.strip() or default["en"], "es": es.strip() or default["es"]}
    _spoken[:] = [(now + SPOKEN_TTL_SECONDS, value)]
    return value
