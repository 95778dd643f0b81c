"""One intake policy for the web form and the API: what stops the callback service being aimed at strangers.

A callback request makes us ring a number someone typed. Without limits the
service could be pointed at people who never asked. So, for the form and the
API alike:

* one budget per client address (``CLIENT_LIMIT``), shared by both doors, and
  one per phone number (``PHONE_LIMIT``);
* a signed "form shown at" stamp that is used once: too fast is a bot, a
  second submission with the same stamp is refused (the API fetches its stamp
  from ``GET /api/v1/admission-requests/stamp/``, like the form page carries one);
* a system-wide breaker: when more than ``ADMISSION_NEW_NUMBERS_PER_HOUR``
  numbers we have never called ask for a callback within an hour, each further
  new number is saved as *held*: nobody is called until staff approve it in
  the admin, and staff are e-mailed (``STAFF_ALERT_EMAILS``) once per hour.

Counters live in the cache and fail open (a form that saves beats a limit that
crashes); the breaker counts rows in the database, so it holds when Redis is down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging

from django.conf import settings
from django.core.cache import cache

from helpline.models import AdmissionRequest

logger = logging.getLogger(__name__)

CLIENT_LIMIT = (10, 60 * 60)  # requests per client address per hour, form and API together
PHONE_LIMIT = (3, 24 * 60 * 60)  # requests per phone number per day
BREAKER_WINDOW = dt.timedelta(hours=1)


def _limit_key(kind: str, value: str) -> str:
    digest = hmac.new(settings.CALLER_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]
    return f"admission-limit:{kind}:{digest}"


def over_limit(kind: str, value: str, *, limit: tuple[int, int], count: bool = True) -> bool:
    """Cache-based counter. If the cache (Redis) is down, say "not over": the form must keep working."""
    maximum, period = limit
    key = _limit_key(kind, value)
    try:
        if not count:
            return int(cache.get(key) or 0) >= maximum
        if cache.add(key, 1, timeout=period):
            return False
        return int(cache.incr(key)) > maximum
    except Exception:  # noqa: BLE001 - no rate limit beats no form
        logger.warning("Rate-limit cache unavailable; admission request allowed without a limit")
        return False


def client_over_budget(address: str) -> bool:
    """Counts this request against the client's one budget (form and API share it)."""
    return over_limit("client", address, limit=CLIENT_LIMIT)


def stamp_spend(stamp: str, *, max_age_seconds: int) -> bool:
    """True the first time a form stamp is used; False for a replay. Fails open without a cache."""
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:40]
    try:
        return bool(cache.add(f"admission-stamp:{digest}", 1, timeout=max_age_seconds))
    except Exception:  # noqa: BLE001
        logger.warning("Stamp cache unavailable; admission stamp not checked for reuse")
        return True


def new_numbers_per_hour() -> int:
    return int(getattr(settings, "ADMISSION_NEW_NUMBERS_PER_HOUR", 30))


def breaker_holds(*, phone_hash: str, now: dt.datetime) -> bool:
    """True if this request must wait for staff: its number is new and too many new numbers came this hour.

    A number is new if no earlier request has it. Numbers we already called are
    never held, so a person who asks again is not delayed by someone else's flood.
    """
    if AdmissionRequest.objects.filter(phone_hash=phone_hash).exists():
        return False
    since = now - BREAKER_WINDOW
    recent = AdmissionRequest.objects.filter(created_at__gte=since)
    older = AdmissionRequest.objects.filter(created_at__lt=since).values("phone_hash")
    new_numbers = recent.exclude(phone_hash__in=older).values("phone_hash").distinct().count()
    return new_numbers >= new_numbers_per_hour()


def breaker_alert_due(*, now: dt.datetime) -> bool:
    """One staff alert per breaker window (without a cache, each held request alerts: better loud than silent)."""
    try:
        return bool(cache.add("admission-breaker-alert", now.isoformat(), timeout=int(BREAKER_WINDOW.total_seconds())))
    except Exception:  # noqa: BLE001
        return True
