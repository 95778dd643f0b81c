"""Plain Candidate builders for the pure engine tests (no database)."""

from __future__ import annotations

import datetime as dt
import itertools

from routing.engine import Candidate, Location, RouteRequest, Span

_ids = itertools.count(1)

# Monday 23 Nov 2026, 15:00 UTC = 09:00 in Austin (America/Chicago, CST).
MONDAY_9AM_AUSTIN = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
AUSTIN = Location(zip_code="78701", state="TX", latitude=30.2713, longitude=-97.7426, source="zip", label="Austin, TX")
FALLBACK = "SAMHSA National Helpline +18006624357"


def candidate(**overrides) -> Candidate:
    n = next(_ids)
    values: dict = dict(
        facility_id=n,
        facility_name=f"Facility {n}",
        partner_id=n,
        partner_name=f"Partner {n}",
        phone=f"+1512555{n % 10000:04d}",
        partner_active=True,
        license_verified=True,
        priority=5,
        weight=1,
        services=frozenset({"detox", "residential", "outpatient", "mat"}),
        languages=frozenset({"en"}),
        time_zone="America/Chicago",
        open_24_7=True,
        hours=(),
        closed_dates=frozenset(),
        latitude=30.2711,
        longitude=-97.7437,
        service_states=frozenset({"TX"}),
        service_zips=frozenset(),
        service_zip_prefixes=frozenset(),
        service_radius_miles=None,
    )
    values.update(overrides)
    return Candidate(**values)


def weekday_hours(opens: dt.time = dt.time(8), closes: dt.time = dt.time(18), days=range(7)) -> tuple[Span, ...]:
    return tuple(Span(d, opens, closes) for d in days)


def request(**overrides) -> RouteRequest:
    values: dict = dict(service="detox", location=AUSTIN)
    values.update(overrides)
    return RouteRequest(**values)
