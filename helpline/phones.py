"""How a phone number is shown to people, and whether a number we dial is real: one helper for each.

``1-888-555-0100`` is how US callers write and read a number; the template
filters ``phone_display`` and ``tel_href`` (``helpline.templatetags.clearline``)
and every text or message built in Python use these functions, so a number
looks the same wherever a person meets it. ``validate_e164_number`` is the one
check of a number we dial or publish (helpline numbers, partners' facility
lines), shared by the staff admin and the partner importer.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


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


def validate_e164_number(value: str) -> None:
    """A callable number written in E.164 (``+15125550100``): shape and numbering plan."""
    text = str(value or "")
    if not E164_RE.match(text):
        raise ValidationError(f"{text!r} is not an E.164 number; write it like +15125550100.")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{text!r} is not a phone number.") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{text!r} is not a valid phone number (no such area code or number range).")
