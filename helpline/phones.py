"""How a phone number is shown to people: one helper for pages, texts and messages.

``1-888-555-0100`` is how US callers write and read a number; the template
filters ``phone_display`` and ``tel_href`` (``helpline.templatetags.clearline``)
and every text or message built in Python use these functions, so a number
looks the same wherever a person meets it.
"""

from __future__ import annotations

import phonenumbers


def _is_short_code(text: str) -> bool:
    """911, 988, a 5- or 6-digit SMS short code: dialled as written, never given a country code."""
    return text.isdigit() and len(text) <= 6


def phone_display(value: object) -> str:
    """``+18885550100`` → ``1-888-555-0100``; other countries in international form; junk as given."""
    text = str(value or "")
    if _is_short_code(text):
        return text
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return text
    if parsed.country_code == 1:
        national = str(parsed.national_number)
        if len(national) == 10:
            return f"1-{national[:3]}-{national[3:6]}-{national[6:]}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def tel_href(value: object) -> str:
    """The ``tel:`` target: E.164 when the number parses, else the digits as given."""
    text = str(value or "")
    if _is_short_code(text):
        return "tel:" + text
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return "tel:" + "".join(ch for ch in text if ch.isdigit() or ch == "+")
    return "tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def sms_href(value: object) -> str:
    """The ``sms:`` target of a number (a short code such as 988 stays as it is)."""
    return "sms:" + tel_href(value).removeprefix("tel:")
