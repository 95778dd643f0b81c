"""The routing decision: a pure function.

Plain frozen dataclasses in, a ``Decision`` out. No ORM, clock or network
inside: ``routing.selectors`` loads candidates, ``routing.services`` stores the
decision. This file is the contract the voice and admission code build on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time


@dataclass(frozen=True)
class Location:
    """Where the caller is, as far as we know, and how we know it."""

    zip_code: str = ""
    state: str = ""
    latitude: float | None = None
    longitude: float | None = None
    source: str = "unknown"  # routing.models.LocationSource value
    label: str = ""  # human area for whispers and reports: "Austin, TX" (never the number)
    problem: str = ""  # e.g. "unknown ZIP 00000" when a given ZIP could not be placed

    @property
    def is_known(self) -> bool:
        return bool(self.state)


@dataclass(frozen=True)
class RouteRequest:
    service: str  # a service code, or "unsure" for any service
    location: Location
    language: str = ""  # "" = no preference; narrows but never empties the list
    listing_facility_id: int | None = None  # the call came in on this facility's listing number
    require_open: bool = True
    rotation_key: int = 0  # position in the fair weighted rotation (e.g. calls routed so far today)
    max_choices: int = 5


@dataclass(frozen=True)
class Span:
    weekday: int  # 0 = Monday
    opens: time
    closes: time  # earlier than opens = past midnight


@dataclass(frozen=True)
class Candidate:
    """One facility with what its partner's terms and live counters say."""

    facility_id: int
    facility_name: str
    partner_id: int
    partner_name: str
    phone: str  # E.164 the facility is dialed at
    partner_active: bool
    license_verified: bool
    priority: int
    weight: int
    services: frozenset[str]
    languages: frozenset[str]
    time_zone: str
    open_24_7: bool
    hours: tuple[Span, ...]
    closed_dates: frozenset[date]
    latitude: float
    longitude: float
    service_states: frozenset[str]
    service_zips: frozenset[str]
    service_zip_prefixes: frozenset[str]
    service_radius_miles: int | None
    # Caps (None = no cap) and counters as loaded for this decision.
    daily_cap: int | None = None
    calls_today: int = 0
    monthly_cap: int | None = None
    calls_this_month: int = 0
    concurrent_cap: int | None = None
    active_calls: int = 0
    monthly_budget_cents: int | None = None
    spend_this_month_cents: int = 0


@dataclass(frozen=True)
class Choice:
    facility_id: int
    facility_name: str
    partner_id: int
    partner_name: str
    phone: str
    reason: str


@dataclass(frozen=True)
class Exclusion:
    facility_id: int
    facility_name: str
    partner_id: int
    partner_name: str
    reason: str


@dataclass(frozen=True)
class Decision:
    choices: tuple[Choice, ...]
    excluded: tuple[Exclusion, ...] = ()
    fallback: str = ""  # set when choices is empty, or after them, e.g. "SAMHSA National Helpline +18006624357"
    considered: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def decide(request: RouteRequest, candidates: Sequence[Candidate], now: datetime, *, fallback: str) -> Decision:
    """Order the eligible candidates for ``request`` at ``now`` (aware UTC)."""
    raise NotImplementedError  # implemented by the routing work
