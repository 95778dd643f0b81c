"""Checks the model validators cannot make alone: the staff admin and the importer share them.

The model validators check shapes (5 digits, a parseable number). Onboarding
needs more: a ZIP that really exists (offline ``zipcodes`` data), a ZIP in the
state the address claims, a time zone from the IANA list and opening spans
that do not overlap (a real E.164 number: ``helpline.phones``, which the
helpline's number admin shares). Each check raises a ``ValidationError`` whose
message names the bad value, so staff and import files get the same clear words.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from datetime import time
from functools import lru_cache
from typing import Any

import zipcodes
from django.core.exceptions import ValidationError

WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


@lru_cache(maxsize=1)
def _zip_index() -> dict[str, dict[str, Any]]:
    # zipcodes ships its data offline; one dict makes every later lookup O(1).
    return {z["zip_code"]: z for z in zipcodes.list_all()}


@lru_cache(maxsize=1)
def _zip_prefixes() -> frozenset[str]:
    return frozenset(code[:3] for code in _zip_index())


def zip_details(zip_code: str) -> dict[str, Any] | None:
    """The offline record of a US ZIP (state, city, lat/long, time zone), or None if unknown."""
    return _zip_index().get(str(zip_code))


def validate_real_zip(value: str) -> None:
    text = str(value or "")
    if not (len(text) == 5 and text.isdigit()):
        raise ValidationError(f"{text!r} is not a 5-digit ZIP code.")
    if zip_details(text) is None:
        raise ValidationError(f"ZIP code {text} does not exist.")


def validate_real_zips(values: Iterable[str]) -> None:
    bad = [v for v in values if zip_details(str(v)) is None]
    if bad:
        raise ValidationError(f"These ZIP codes do not exist: {', '.join(map(str, bad))}.")


def validate_real_zip_prefixes(values: Iterable[str]) -> None:
    bad = [v for v in values if str(v) not in _zip_prefixes()]
    if bad:
        raise ValidationError(f"No US ZIP code starts with: {', '.join(map(str, bad))}.")


def validate_zip_in_state(*, zip_code: str, state: str) -> None:
    details = zip_details(zip_code)
    if details is not None and state and details["state"] != state:
        raise ValidationError(f"ZIP code {zip_code} is in {details['state']}, not {state}.")


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    # Location zones only: legacy names such as "EST" or "Etc/GMT+5" ignore daylight
    # saving time, so a facility's opening hours would be an hour off half the year.
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/"))
    )


def validate_iana_timezone(value: str) -> None:
    """A location name from the IANA database such as ``America/Chicago`` (not an offset or abbreviation)."""
    if str(value or "") not in _iana_zones():
        raise ValidationError(f"{value!r} is not an IANA time zone; use a name like America/Chicago.")


def parse_hhmm(value: object) -> time:
    """``"08:00"`` → ``time(8, 0)``; anything else is a clear error. ``24:00`` means midnight."""
    text = str(value)
    match = re.fullmatch(r"([01]\d|2[0-4]):([0-5]\d)", text)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValidationError(f"{text!r} is not a time of day; write HH:MM in 24-hour form, like 08:30.")
    hour = int(match.group(1)) % 24
    return time(hour, int(match.group(2)))


def _week_minutes(weekday: int, opens: time, closes: time) -> list[tuple[int, int]]:
    """The span as minute ranges within the week; past midnight spills into the next day."""
    start = weekday * MINUTES_PER_DAY + opens.hour * 60 + opens.minute
    length = (closes.hour * 60 + closes.minute) - (opens.hour * 60 + opens.minute)
    if length <= 0:
        length += MINUTES_PER_DAY
    end = start + length
    if end <= MINUTES_PER_WEEK:
        return [(start, end)]
    # Sunday night into Monday morning wraps to the start of the week.
    return [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]


def validate_opening_spans(spans: Iterable[tuple[int, time, time]]) -> None:
    """Spans (weekday, opens, closes) must be real, non-empty and must not overlap each other."""
    errors: list[str] = []
    ranges: list[tuple[int, int, int, str]] = []
    for index, (weekday, opens, closes) in enumerate(spans):
        label = f"{WEEKDAY_NAMES[weekday]} {opens:%H:%M}-{closes:%H:%M}"
        if opens == closes:
            errors.append(f"{label}: opening and closing times are the same; mark the facility 24/7 instead.")
            continue
        ranges.extend((start, end, index, label) for start, end in _week_minutes(weekday, opens, closes))
    ranges.sort()
    for (_, end_a, index_a, label_a), (start_b, _, index_b, label_b) in zip(ranges, ranges[1:], strict=False):
        if start_b < end_a and index_a != index_b:
            errors.append(f"{label_a} overlaps {label_b}.")
    if errors:
        raise ValidationError(errors)
