"""Template filters of the public site."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext, gettext_noop, pgettext

from helpline import phones
from helpline.attribution import TrackingSource, current_visit, page_number
from helpline.models import DialAttempt
from helpline.public_urls import absolute_url as _absolute_url
from routing.vocabulary import time_zone_words, written_label

register = template.Library()


@register.filter
def phone_display(value: object) -> str:
    """``+18885550100`` → ``1-888-555-0100`` (see ``helpline.phones``)."""
    return phones.phone_display(value)


@register.filter
def tel_href(value: object) -> str:
    """The ``tel:`` target of a number (see ``helpline.phones``)."""
    return phones.tel_href(value)


@register.filter
def sms_href(value: object) -> str:
    """The ``sms:`` target of a number (see ``helpline.phones``)."""
    return phones.sms_href(value)


@register.simple_tag
def absolute_url(path: str) -> str:
    """``{% absolute_url path %}``: the path on the public address (see ``helpline.public_urls``)."""
    return _absolute_url(path)


@register.filter
def get_item(mapping: dict[str, str], key: str) -> str:
    """Look a key up in a dict from a template (label of a state or service code)."""
    return mapping.get(key, key)


@register.simple_tag(takes_context=True)
def tracking_number(context: template.Context) -> Any:
    """The number this page shows: its visit's campaign's or its own source's tracking number, else the general one.

    A view names its page's source with ``tracking_source`` in its context (``helpline.attribution``).
    ``templates/base.html`` stores the answer as ``helpline_number`` for the whole page.
    """
    general = context.get("helpline_number")
    request = context.get("request")
    source = context.get("tracking_source")
    if request is None:
        return general
    number = page_number(
        page_source=source if isinstance(source, TrackingSource) else None,
        visit=current_visit(request),
    )
    return number or general


# The words of routing.vocabulary.TIME_ZONE_WORDS, marked so the Spanish catalogue keeps them.
_ZONE_WORDS = (
    gettext_noop("Eastern time"),
    gettext_noop("Central time"),
    gettext_noop("Mountain time"),
    gettext_noop("Arizona time"),
    gettext_noop("Pacific time"),
    gettext_noop("Alaska time"),
    gettext_noop("Hawaii time"),
    gettext_noop("Puerto Rico time"),
)


@register.filter
def zone_words(name: str) -> str:
    """``America/Phoenix`` → ``Arizona time`` (see ``routing.vocabulary.time_zone_words``), in the page's language."""
    return gettext(time_zone_words(str(name or "")))


def clock(value: dt.time) -> str:
    """12-hour clock as people write it: ``9:00 am``, ``12:30 pm``; midnight is ``midnight`` (``9:00 a. m.`` in es)."""
    if value == dt.time(0, 0):
        return gettext("midnight")
    hour = value.hour % 12 or 12
    half = pgettext("clock", "am") if value.hour < 12 else pgettext("clock", "pm")
    return f"{hour}:{value.minute:02d} {half}"


@register.filter
def opening_hours(spans: Iterable[Any]) -> list[str]:
    """Opening spans (``weekday``, ``opens``, ``closes``) as lines, with runs of days alike merged.

    ``Mon–Fri 9:00 am – 5:00 pm``, ``Sat 10:00 am – 2:00 pm``: a day with two spans lists both.
    """
    days = [str(WEEKDAYS_ABBR[day]) for day in range(7)]  # Django's own abbreviations, in the page's language
    by_day: dict[int, list[str]] = {}
    for span in spans:
        by_day.setdefault(span.weekday, []).append(f"{clock(span.opens)} – {clock(span.closes)}")
    lines: list[str] = []
    weekday = 0
    while weekday < 7:
        hours = by_day.get(weekday)
        if not hours:
            weekday += 1
            continue
        last = weekday
        while last + 1 < 7 and by_day.get(last + 1) == hours:
            last += 1
        label = days[weekday] if last == weekday else f"{days[weekday]}–{days[last]}"
        lines.append(f"{label} {', '.join(hours)}")
        weekday = last + 1
    return lines


@register.filter
def service_label(code: str) -> str:
    """``dual_diagnosis`` → ``Dual diagnosis …``: the written label of a service code (one vocabulary)."""
    return written_label(code) if code else "–"


_OUTCOMES = dict(DialAttempt.Outcome.choices)


@register.filter
def outcome_label(code: str) -> str:
    """``no-answer`` → ``No answer``: how a dialled leg ended, in words."""
    return _OUTCOMES.get(code, code) if code else "–"
