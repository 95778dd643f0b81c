"""Caller privacy helpers: keyed hashing, masking and log redaction."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

import phonenumbers
from django.conf import settings
from encrypted_fields.fields import EncryptedTextField

from routing.location import WITHHELD


def normalise_phone(raw: str) -> str:
    """E.164 form of a US/international number, or the stripped input if unparsable."""
    try:
        parsed = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return raw.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def caller_hash(raw: str) -> str:
    """Keyed HMAC-SHA256 of a phone number: lookups without storing the number in clear.

    "" for no number and for Twilio's forms of a withheld one ("anonymous", "+266696687" ...):
    those are different, unknown people, never one repeat caller.
    """
    if not raw or raw.strip().lower() in WITHHELD:
        return ""
    key = settings.CALLER_HASH_KEY.encode()
    return hmac.new(key, normalise_phone(raw).encode(), hashlib.sha256).hexdigest()


def mask_phone(raw: str) -> str:
    """Only the last four digits: ``•••-•••-1234``."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) < 4:
        return "unknown"
    return f"•••-•••-{digits[-4:]}"


# Phone numbers as people and Twilio write them, and nothing else. A North American number:
# optional +1/1, a 3-digit area code (in parentheses or not), 3 digits, 4 digits, each group
# optionally separated by one space, dot or dash ("+1 (512) 555-0199", "512.555.0199",
# "15125550199", "%2B15125550199"); or any number written with a leading + (or %2B).
# A match must be a whole run: not glued to a word (a Twilio SID such as CA0123..., which
# helps debugging) nor part of a dotted or colon-separated run, so user agents
# ("Chrome/120.0.6099.109"), IP addresses, dates, clock times and durations stay readable.
_NANP = r"(?:(?:\+|%2[Bb])?1[ .-]?)?(?:\([2-9]\d\d\)[ .-]?|[2-9]\d\d[ .-]?)\d{3}[ .-]?\d{4}"
_INTERNATIONAL = r"(?:\+|%2[Bb])[1-9]\d(?:[ .-]?\d){5,13}"
_PHONE_RE = re.compile(rf"(?<![\w.+])(?:{_NANP}|{_INTERNATIONAL})(?![\w]|[.:,]\d)")
# "token=abc", "password: abc", "X-Twilio-Signature: abc", "sessionid=abc" ...
_SECRET_RE = re.compile(
    r"(?i)(token|password|passwd|secret|authorization|signature|sessionid|csrftoken|api[_-]?key)"
    r"([\"':= ]+)((?:token |bearer |basic )?[^\s\"',&]+)"
)
# "Token 9944b09199c6..." / "Bearer eyJ..." on their own.
_AUTH_SCHEME_RE = re.compile(r"(?i)\b(token|bearer|basic) [A-Za-z0-9._~+/=-]{16,}")


def redact(text: str) -> str:
    """Remove phone numbers, credentials and tokens from free text bound for a log."""
    text = _PHONE_RE.sub("[redacted-number]", text)
    text = _SECRET_RE.sub(r"\1\2[redacted]", text)
    return _AUTH_SCHEME_RE.sub(r"\1 [redacted]", text)


class RedactingFilter(logging.Filter):
    """Strips phone numbers and tokens from every log record before it is written.

    The message *and* the traceback text are redacted: an exception message
    can carry a value (``IntegrityError: Key (phone)=(...)``). The raw
    ``exc_info`` is dropped once rendered, so no later handler or formatter can
    print the unredacted traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the log line
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            if not record.exc_text:
                record.exc_text = _FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER_RE = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas in exported cells (CSV injection).

    A cell starting with ``= + - @``, a tab or a carriage return is read as
    a formula by spreadsheet programs; prefixing ``'`` makes it text. Plain
    numbers (a credit of ``-45.00``) are left alone: they cannot be formulas
    and must stay numbers for the partner's accounts.
    """
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    text = str(value)
    if _PLAIN_NUMBER_RE.fullmatch(text):
        return text
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


class EncryptedNoteField(EncryptedTextField):
    """Encrypted free text (staff notes) that keeps ``""`` as ``""``.

    Staff write notes about callers ("her mother asked us to call after 6"),
    so notes are health information and are encrypted at rest like names and
    numbers. The library's fields store an empty value as NULL, which would
    break NOT NULL text columns that default to blank; this variant stores the
    empty string as is (it identifies nobody), so ``filter(note="")`` still works.
    """

    def get_prep_value(self, value: object) -> object:
        if value == "":
            return ""
        return super().get_prep_value(value)
