"""Template filters of the public site."""

from __future__ import annotations

import phonenumbers
from django import template

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
