"""The routing decision: a pure function.

Plain frozen dataclasses in, a ``Decision`` out. No ORM, clock or network
inside: ``routing.selectors`` loads candidates, ``routing.services`` stores the
decision. This file is the contract the voice and admission code build on.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta


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
    # Approximate place of the caller-ID number ("Chicago, IL"), for staff only. Never an area:
    # the engine does not read it, so it cannot widen where a caller is sent.
    hint: str = ""

    @property
    def is_known(self) -> bool:
        return bool(self.state)

    @property
    def precision(self) -> str:
        """How precisely the caller is placed: "zip", "state" or "none" (routing.models.LocationPrecision)."""
        if self.zip_code:
            return "zip"
        return "state" if self.state else "none"


@dataclass(frozen=True)
class RouteRequest:
    service: str  # a service code, or "unsure" for any service
    location: Location
    language: str = ""  # "" = no preference; narrows but never empties the list
    listing_facility_id: int | None = None  # the call came in on this facility's listing number
    require_open: bool = True
    rotation_key: int = 0  # position in the fair weighted rotation (e.g. calls routed so far today)
    max_choices: int = 5
    # Partners this call already tried (a second routing when its first plan ran out): never chosen again.
    exclude_partner_ids: frozenset[int] = frozenset()


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


# --- Rules ------------------------------------------------------------------
#
# Eligibility, checked in this order (the first failure is the reason given):
#   service offered → caller inside service area → open now (the facility
#   side), then partner active → licence verified → daily cap → monthly cap →
#   budget → concurrent cap (the partner side, read live for every decision).
# A listing call skips the service and area checks for the listing facility
# (the caller dialled that facility's own advertised number), never the others.
#
# Unknown location (no state): a facility is inside its area only when it
# serves every state (50 states + DC). Anything else would send the caller to
# a place that may not serve them; the voice flow asks for a ZIP instead, and
# with nobody eligible the caller still reaches the national fallback line.
# A location known only by state (Twilio FromState, caller-ID area code)
# matches state-wide areas only: ZIP, ZIP-prefix and radius areas cannot be
# confirmed without a ZIP, and out-of-area is never guessed.
#
# Closed dates close the spans that *start* on that local date (and the whole
# local day of a 24/7 facility); a span running past midnight belongs to the
# day it opened.

NATIONWIDE: frozenset[str] = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VA WA WV WI WY".split()
)
EARTH_RADIUS_MILES = 3958.7613
# Irrational steps of the rotation (one per failover position): fractional
# parts of the golden ratio and of square roots of primes. Consecutive
# rotation keys walk each of them with very low discrepancy, which is what
# keeps a weight-3 partner within a small tolerance of 3x a weight-1 partner.
_ROTATION_STEPS = (
    0.6180339887498949,
    0.4142135623730951,  # √2
    0.7320508075688772,  # √3
    0.2360679774997898,  # √5
    0.6457513110645907,  # √7
    0.3166247903554,  # √11
    0.6055512754639891,  # √13
    0.1231056256176606,  # √17
)
# Why a partner is left out of a second routing of the same call (``RouteRequest.exclude_partner_ids``).
ALREADY_TRIED = "already tried in this call"
_AREA_ZIP, _AREA_RADIUS, _AREA_PREFIX, _AREA_STATE, _AREA_NATIONWIDE, _AREA_LISTING = range(6)


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in miles."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def area_match(candidate: Candidate, location: Location) -> tuple[int, float, str] | None:
    """How ``location`` falls inside the candidate's service area, or None.

    Returns (specificity rank, distance in miles or inf, description); a lower
    rank is a more specific match and wins when a partner has several facilities.
    """
    distance = math.inf
    if location.latitude is not None and location.longitude is not None:
        distance = haversine_miles(location.latitude, location.longitude, candidate.latitude, candidate.longitude)
    zip_code = location.zip_code
    if zip_code and zip_code in candidate.service_zips:
        return _AREA_ZIP, distance, f"serves ZIP {zip_code}"
    radius = candidate.service_radius_miles
    if radius and distance <= radius:
        return _AREA_RADIUS, distance, f"{distance:.0f} mi away, within its {radius}-mile radius"
    if zip_code and zip_code[:3] in candidate.service_zip_prefixes:
        return _AREA_PREFIX, distance, f"serves ZIP prefix {zip_code[:3]}"
    if location.state:
        if location.state in candidate.service_states:
            return _AREA_STATE, distance, f"serves {location.state}"
        return None
    if candidate.service_states >= NATIONWIDE:
        return _AREA_NATIONWIDE, distance, "serves every state (caller's location unknown)"
    return None


def _describe_area(candidate: Candidate, location: Location) -> str:
    parts: list[str] = []
    if candidate.service_states:
        states = sorted(candidate.service_states)
        parts.append("states " + ", ".join(states[:6]) + (" …" if len(states) > 6 else ""))
    if candidate.service_zip_prefixes:
        prefixes = sorted(candidate.service_zip_prefixes)
        parts.append("ZIP prefixes " + ", ".join(prefixes[:6]) + (" …" if len(prefixes) > 6 else ""))
    if candidate.service_zips:
        parts.append(f"{len(candidate.service_zips)} ZIP code(s)")
    if candidate.service_radius_miles:
        if location.latitude is not None and location.longitude is not None:
            d = haversine_miles(location.latitude, location.longitude, candidate.latitude, candidate.longitude)
            parts.append(f"{candidate.service_radius_miles}-mile radius ({d:.0f} mi away)")
        else:
            parts.append(f"{candidate.service_radius_miles}-mile radius")
    serves = "; ".join(parts) or "no area"
    if not location.is_known:
        return f"caller's location unknown and the facility does not serve every state (serves {serves})"
    where = f"{location.state} {location.zip_code}".strip()
    if not location.zip_code:
        where += " (no ZIP: only state-wide areas can match)"
    return f"outside service area (caller in {where}; serves {serves})"


_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class _Local:
    """``now`` in one time zone, with what opening-hours checks need."""

    today: date
    yesterday: date
    weekday: int
    at: time
    stamp: str  # "Mon 09:00 America/Chicago", for reasons


class LocalClock:
    """Local times of ``now`` per time zone, computed once per decision."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._local: dict[str, _Local | None] = {}

    def local(self, tz_name: str) -> _Local | None:
        try:
            return self._local[tz_name]
        except KeyError:
            pass
        value: _Local | None
        try:
            dt_local = self.now.astimezone(zoneinfo.ZoneInfo(tz_name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            value = None
        else:
            value = _Local(
                today=dt_local.date(),
                yesterday=dt_local.date() - timedelta(days=1),
                weekday=dt_local.weekday(),
                at=dt_local.time(),
                stamp=f"{_WEEKDAY_NAMES[dt_local.weekday()]} {dt_local:%H:%M} {tz_name}",
            )
        self._local[tz_name] = value
        return value


def open_state(candidate: Candidate, clock: LocalClock) -> tuple[bool, str]:
    """Whether the facility is open at the clock's instant in its own time zone, and why."""
    local = clock.local(candidate.time_zone)
    if local is None:
        return False, f"closed: unknown time zone {candidate.time_zone!r}"
    today = local.today
    if candidate.open_24_7:
        if today in candidate.closed_dates:
            return False, f"closed today ({today.isoformat()} is a closed date; local {local.stamp})"
        return True, "open 24/7"
    weekday = local.weekday
    yesterday_wd = (weekday - 1) % 7
    t = local.at
    for span in candidate.hours:
        overnight = span.closes <= span.opens
        if span.weekday == weekday and t >= span.opens and (overnight or t < span.closes):
            if today in candidate.closed_dates:
                return False, f"closed today ({today.isoformat()} is a closed date; local {local.stamp})"
            return (
                True,
                f"open now ({_WEEKDAY_NAMES[weekday]} {span.opens:%H:%M}–{span.closes:%H:%M}, local {local.stamp})",
            )
        if overnight and span.weekday == yesterday_wd and t < span.closes:
            if local.yesterday in candidate.closed_dates:
                return False, f"closed ({local.yesterday.isoformat()} is a closed date; local {local.stamp})"
            return True, (
                f"open now ({_WEEKDAY_NAMES[yesterday_wd]} {span.opens:%H:%M}–{span.closes:%H:%M}, local {local.stamp})"
            )
    return False, f"closed now (local {local.stamp})"


def _cap_problem(c: Candidate) -> str:
    if c.daily_cap is not None and c.calls_today >= c.daily_cap:
        return f"daily cap reached ({c.calls_today}/{c.daily_cap} calls today)"
    if c.monthly_cap is not None and c.calls_this_month >= c.monthly_cap:
        return f"monthly cap reached ({c.calls_this_month}/{c.monthly_cap} calls this month)"
    if c.monthly_budget_cents is not None and c.spend_this_month_cents >= c.monthly_budget_cents:
        return (
            f"monthly budget reached (${c.spend_this_month_cents / 100:,.2f} of "
            f"${c.monthly_budget_cents / 100:,.2f} billed this month)"
        )
    if c.concurrent_cap is not None and c.active_calls >= c.concurrent_cap:
        return f"at concurrent-call cap ({c.active_calls}/{c.concurrent_cap} calls in progress)"
    return ""


def partner_problem(c: Candidate) -> str:
    """Why the candidate's partner cannot take a call now ("" when it can)."""
    if not c.partner_active:
        return "partner paused"
    if not c.license_verified:
        return "partner licence not verified"
    return _cap_problem(c)


def facility_check(
    c: Candidate, request: RouteRequest, clock: LocalClock, *, is_listing: bool = False
) -> tuple[str, _Eligible | None]:
    """The facility-side rules (service, area, hours): (reason, None) when one fails, else ("", eligible).

    They come before the partner-side rules so that they never depend on live
    partner state: ``routing.selectors`` runs them on its compiled copy to
    load live partner rows only for facilities that pass.
    """
    if is_listing:
        rank, distance, area_text = _AREA_LISTING, 0.0, "this call came in on its listing number"
    else:
        service = request.service
        if service not in ("", "unsure") and service not in c.services:
            return f"does not offer {service}", None
        match = area_match(c, request.location)
        if match is None:
            return _describe_area(c, request.location), None
        rank, distance, area_text = match
    is_open, open_text = open_state(c, clock)
    if not is_open:
        if request.require_open:
            return open_text, None
        open_text += " (opening hours not required for this request)"
    return "", _Eligible(c, rank, distance, area_text, open_text)


def rotation_pick(weights: Sequence[int], key: int, position: int) -> int:
    """The index in ``weights`` (the remaining partners of a tier, by partner id) the rotation takes next.

    Position ``position`` takes the point frac(key·step + position/2) on the line of
    the weights; the partner whose segment holds the point comes next. Shared by the
    engine and by ``routing.zip_question``, which asks what the first pick would be.
    """
    if len(weights) == 1:
        return 0
    step = _ROTATION_STEPS[position % len(_ROTATION_STEPS)]
    # Keys are ints of any size: reduce exactly before mixing in the float step.
    point = math.fmod((key % 1_000_000_007) * step + 0.5 * position, 1.0)
    total = sum(max(1, w) for w in weights)
    target = point * total
    acc = 0.0
    for i, w in enumerate(weights):
        acc += max(1, w)
        if target < acc:
            return i
    return len(weights) - 1


def _rotation_order(items: list[_Eligible], key: int, needed: int) -> list[tuple[_Eligible, int]]:
    """Deterministic weighted rotation of one priority tier (one item per partner).

    Position j takes the point frac(key·step_j) on the line of the remaining
    partners' weights (sorted by partner id, so the line is stable); the partner
    whose segment holds the point comes next. Over consecutive keys each point
    sweeps the line evenly, so a partner is first in proportion to its weight.
    """
    remaining = sorted(items, key=lambda e: e.candidate.partner_id)
    ordered: list[tuple[_Eligible, int]] = []
    position = 0
    while remaining and len(ordered) < needed:
        if len(remaining) == 1:
            ordered.append((remaining.pop(), position))
            break
        index = rotation_pick([e.candidate.weight for e in remaining], key, position)
        ordered.append((remaining.pop(index), position))
        position += 1
    return ordered


@dataclass
class _Eligible:
    candidate: Candidate
    area_rank: int
    distance: float
    area_text: str
    open_text: str


def _exclusion(c: Candidate, reason: str) -> Exclusion:
    return Exclusion(c.facility_id, c.facility_name, c.partner_id, c.partner_name, reason)


def decide(request: RouteRequest, candidates: Sequence[Candidate], now: datetime, *, fallback: str) -> Decision:
    """Order the eligible candidates for ``request`` at ``now`` (aware UTC).

    Pure: the same arguments give the same decision. Every candidate ends up in
    ``choices`` or ``excluded``, each with a reason. ``fallback`` is always
    returned so the caller can be sent there after (or instead of) the choices.
    Price is not an input, so it cannot change the order.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("decide() needs an aware datetime for now")
    clock = LocalClock(now)
    location = request.location
    service = request.service
    any_service = service in ("", "unsure")
    notes: list[str] = []
    excluded: list[Exclusion] = []
    eligible: list[_Eligible] = []
    listing: _Eligible | None = None
    listing_id = request.listing_facility_id
    listing_seen = False

    for c in candidates:
        is_listing = listing_id is not None and c.facility_id == listing_id
        listing_seen = listing_seen or is_listing
        reason, item = facility_check(c, request, clock, is_listing=is_listing)
        if not reason and c.partner_id in request.exclude_partner_ids:
            reason = ALREADY_TRIED
        if not reason:
            reason = partner_problem(c)
        if reason or item is None:
            excluded.append(_exclusion(c, reason))
        elif is_listing:
            listing = item
        else:
            eligible.append(item)

    if listing_id is not None:
        if listing is not None:
            lc = listing.candidate
            notes.append(f"listing call: routed to {lc.facility_name} alone ({listing.open_text})")
            choice = Choice(
                lc.facility_id,
                lc.facility_name,
                lc.partner_id,
                lc.partner_name,
                lc.phone,
                f"#1 listing facility: {listing.area_text}; {listing.open_text}",
            )
            for e in eligible:
                excluded.append(_exclusion(e.candidate, f"listing call for {lc.facility_name}: goes to it alone"))
            return Decision((choice,), tuple(excluded), fallback, len(candidates), tuple(notes))
        if listing_seen:
            why = next((x.reason for x in excluded if x.facility_id == listing_id), "not available")
            notes.append(f"listing facility {listing_id} not available ({why}); general pool follows")
        else:
            notes.append(f"listing facility {listing_id} not in the directory (inactive or removed); general pool")

    if not location.is_known:
        notes.append("caller's location unknown: only facilities serving every state are eligible")

    # Language narrows, never empties.
    if request.language and eligible:
        speakers = [e for e in eligible if request.language in e.candidate.languages]
        if speakers and len(speakers) < len(eligible):
            for e in eligible:
                if request.language not in e.candidate.languages:
                    excluded.append(
                        _exclusion(e.candidate, f"does not speak {request.language} ({len(speakers)} eligible do)")
                    )
            notes.append(f"language {request.language}: narrowed to {len(speakers)} facilities that speak it")
            eligible = speakers
        elif not speakers:
            notes.append(f"language {request.language}: no eligible facility speaks it; list not narrowed")

    # One facility per partner: the most specific area match, then the nearest.
    best: dict[int, _Eligible] = {}
    for e in eligible:
        cur = best.get(e.candidate.partner_id)
        if cur is None or (e.area_rank, e.distance, e.candidate.facility_id) < (
            cur.area_rank,
            cur.distance,
            cur.candidate.facility_id,
        ):
            best[e.candidate.partner_id] = e
    for e in eligible:
        chosen = best[e.candidate.partner_id]
        if chosen is not e:
            excluded.append(
                _exclusion(
                    e.candidate,
                    f"same partner as {chosen.candidate.facility_name} (one facility per partner; "
                    f"that one is nearer or more specific)",
                )
            )

    tiers: dict[int, list[_Eligible]] = {}
    for e in best.values():
        tiers.setdefault(e.candidate.priority, []).append(e)
    choices: list[Choice] = []
    max_choices = max(1, request.max_choices)
    for priority in sorted(tiers):
        tier = tiers[priority]
        needed = max_choices - len(choices)
        ordered = _rotation_order(tier, request.rotation_key, needed) if needed > 0 else []
        placed = {id(e) for e, _ in ordered}
        for e, pos in ordered:
            c = e.candidate
            rank = len(choices) + 1
            lang = f"; speaks {request.language}" if request.language and request.language in c.languages else ""
            offers = "any service (caller unsure)" if any_service else f"offers {service}"
            choices.append(
                Choice(
                    c.facility_id,
                    c.facility_name,
                    c.partner_id,
                    c.partner_name,
                    c.phone,
                    f"#{rank} priority {c.priority}, weight {c.weight} (rotation pick {pos + 1} of {len(tier)} "
                    f"in tier): {e.area_text}; {offers}; {e.open_text}{lang}",
                )
            )
        for e in tier:
            if id(e) not in placed:
                excluded.append(
                    _exclusion(e.candidate, f"eligible, but the list is full ({max_choices} choices) before it")
                )

    if not choices:
        notes.append(f"nobody eligible: fallback {fallback}")
    return Decision(tuple(choices), tuple(excluded), fallback, len(candidates), tuple(notes))
