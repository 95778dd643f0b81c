"""Template filters of the public site."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django import template

from helpline.attribution import TrackingSource, current_visit, page_number

register = template.Library()


@register.filter
def phone_display(value: object) -> str:
    """``+18885550100`` → ``1-888-555-0100`` (how US callers write it); other numbers in international form."""
    text = str(value or "")
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return text
    if parsed.country_code == 1:
        national = str(parsed.national_number)
        if len(national) == 10:
            return f"1-{national[:3]}-{national[3:6]}-{national[6:]}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter
def tel_href(value: object) -> str:
    """The ``tel:`` target: E.164 when the number parses, else the digits as given."""
    text = str(value or "")
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return "tel:" + "".join(ch for ch in text if ch.isdigit() or ch == "+")
    return "tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


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
