"""Staff read times in ``STAFF_TIME_ZONE`` (default America/New_York), always with the zone's abbreviation.

Everything is stored and computed in UTC. The middleware switches the current
time zone for the staff admin and the staff tools only, so Django's own
rendering of date-times there (lists, read-only fields, filters) uses it; the
format (config/formats/en) ends in the abbreviation, "Dec 1, 2026, 9:05 AM EST".
The public site and the partner portal are untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateformat import format as date_format

STAFF_PREFIXES = ("/staff/",)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def staff_zone() -> ZoneInfo:
    return _zone(settings.STAFF_TIME_ZONE)


def staff_local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(staff_zone())


def staff_datetime(value: dt.datetime | None, *, date: bool = True) -> str:
    """ "Dec 1, 2026, 9:05 AM EST" (or "9:05 AM EST" with ``date=False``); "" for None."""
    if value is None:
        return ""
    return date_format(staff_local(value), "M j, Y, g:i A T" if date else "g:i A T")


def start_of_staff_day(now: dt.datetime) -> dt.datetime:
    """Midnight of ``now``'s day in the staff time zone ("today" on every staff page)."""
    return staff_local(now).replace(hour=0, minute=0, second=0, microsecond=0)


class StaffTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        admin_prefix = "/" + settings.ADMIN_URL.lstrip("/")
        if not request.path.startswith((admin_prefix, *STAFF_PREFIXES)):
            return self.get_response(request)
        timezone.activate(staff_zone())
        try:
            return self.get_response(request)  # a TemplateResponse is rendered inside this call
        finally:
            timezone.deactivate()
