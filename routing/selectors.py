"""Reads of the routing app: candidates for a decision, fast at any directory size.

Why a compiled directory: a caller matches only the facilities whose service
area holds them, so a decision must not scan the whole directory. Each process
keeps an immutable, area-indexed copy of the facility side of the directory
(services, hours, closed dates, areas): facility ids keyed by state, by ZIP,
by 3-digit ZIP prefix, a list of nationwide facilities, and a 1°×1° lat/lon
grid in which every radius facility is registered in each cell its circle
touches. A lookup is a handful of dict reads, whatever the directory size;
``engine.decide`` then checks each hit exactly (the index only narrows).

Freshness: ``DirectoryVersion`` (one row) is bumped in the same transaction as
any save or delete of a Partner, Facility, OpeningHours or ClosedDate (signals
connected in ``RoutingConfig.ready``); every lookup reads it (one indexed
primary-key query) and rebuilds the copy when it moved or the UTC date changed.
Code that writes the directory with ``bulk_create``/``update()`` must call
``routing.services.bump_directory_version()``.

What changes with every call is never taken from the copy: the partner's
status, licence, priority, weight, caps and live counters are read fresh for
the matched partners in one query per decision, so a pause (even one written
with ``update()``) or a cap reached a moment ago is seen immediately.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Subquery

from partners.models import ClosedDate, Facility, OpeningHours, Partner
from routing.engine import NATIONWIDE, Candidate, LocalClock, Location, RouteRequest, Span, facility_check
from routing.models import DirectoryVersion

logger = logging.getLogger(__name__)

MILES_PER_DEGREE_LAT = 69.0
# Closed dates older than this are of no use to a decision.
CLOSED_DATES_LOOKBACK_DAYS = 2


def utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


@dataclass(frozen=True)
class FacilityRecord:
    """The facility side of a candidate, as compiled."""

    facility_id: int
    facility_name: str
    partner_id: int
    phone: str
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


@dataclass
class CompiledDirectory:
    version: int
    built_on: date
    facilities: dict[int, FacilityRecord] = field(default_factory=dict)
    partner_names: dict[int, str] = field(default_factory=dict)
    by_state: dict[str, list[int]] = field(default_factory=dict)
    by_zip: dict[str, list[int]] = field(default_factory=dict)
    by_prefix: dict[str, list[int]] = field(default_factory=dict)
    grid: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    nationwide: list[int] = field(default_factory=list)
    build_seconds: float = 0.0
    # facility id -> Candidate with the partner state as compiled (for facility-side exclusions).
    static: dict[int, Candidate] = field(default_factory=dict)
    # facility id -> (partner row it was built from, Candidate): reused while the row is unchanged.
    candidates: dict[int, tuple[Any, Candidate]] = field(default_factory=dict)

    def area_facility_ids(self, location: Location) -> set[int]:
        """Every facility whose area may hold ``location`` (a superset; decide() checks exactly)."""
        ids: set[int] = set()
        if not location.state:
            ids.update(self.nationwide)
            return ids
        ids.update(self.by_state.get(location.state, ()))
        if location.zip_code:
            ids.update(self.by_zip.get(location.zip_code, ()))
            ids.update(self.by_prefix.get(location.zip_code[:3], ()))
        if location.latitude is not None and location.longitude is not None:
            ids.update(self.grid.get((math.floor(location.latitude), math.floor(location.longitude)), ()))
        return ids

    def add(self, record: FacilityRecord) -> None:
        fid = record.facility_id
        self.facilities[fid] = record
        for state in record.service_states:
            self.by_state.setdefault(state, []).append(fid)
        if record.service_states >= NATIONWIDE:
            self.nationwide.append(fid)
        for zip_code in record.service_zips:
            self.by_zip.setdefault(zip_code, []).append(fid)
        for prefix in record.service_zip_prefixes:
            self.by_prefix.setdefault(prefix, []).append(fid)
        radius = record.service_radius_miles
        if radius:
            dlat = radius / MILES_PER_DEGREE_LAT
            lat_lo, lat_hi = max(-90.0, record.latitude - dlat), min(90.0, record.latitude + dlat)
            # Widest longitude span is at the latitude farthest from the equator.
            widest = max(abs(lat_lo), abs(lat_hi))
            cos_lat = math.cos(math.radians(min(widest, 89.0)))
            dlon = min(180.0, radius / (MILES_PER_DEGREE_LAT * cos_lat))
            for cell_lat in range(math.floor(lat_lo), math.floor(lat_hi) + 1):
                for cell_lon in range(math.floor(record.longitude - dlon), math.floor(record.longitude + dlon) + 1):
                    self.grid.setdefault((cell_lat, cell_lon), []).append(fid)


def directory_version() -> int:
    value = DirectoryVersion.objects.filter(id=1).values_list("version", flat=True).first()
    return int(value or 0)


def compile_directory(*, version: int, today: date) -> CompiledDirectory:
    """Load the active facilities of the whole directory into an area index."""
    started = time.perf_counter()
    hours: dict[int, list[Span]] = {}
    for fid, weekday, opens, closes in OpeningHours.objects.filter(facility__is_active=True).values_list(
        "facility_id", "weekday", "opens", "closes"
    ):
        hours.setdefault(fid, []).append(Span(weekday, opens, closes))
    closed: dict[int, set[date]] = {}
    for fid, day in ClosedDate.objects.filter(
        facility__is_active=True, date__gte=today - timedelta(days=CLOSED_DATES_LOOKBACK_DAYS)
    ).values_list("facility_id", "date"):
        closed.setdefault(fid, set()).add(day)
    compiled = CompiledDirectory(version=version, built_on=today)
    partner_rows = {
        row[0]: (*row, None, None, None, None, None, None, version)
        for row in Partner.objects.values_list(*_PARTNER_FIELDS[:10])
    }
    compiled.partner_names = {pid: row[1] for pid, row in partner_rows.items()}
    rows = Facility.objects.filter(is_active=True).values_list(
        "id",
        "name",
        "partner_id",
        "phone",
        "services",
        "languages",
        "time_zone",
        "open_24_7",
        "latitude",
        "longitude",
        "service_states",
        "service_zips",
        "service_zip_prefixes",
        "service_radius_miles",
    )
    for fid, name, pid, phone, services, languages, tz, always, lat, lon, states, zips, prefixes, radius in rows:
        compiled.add(
            FacilityRecord(
                facility_id=fid,
                facility_name=name,
                partner_id=pid,
                phone=str(phone),
                services=frozenset(services or ()),
                languages=frozenset(languages or ()),
                time_zone=tz,
                open_24_7=always,
                hours=tuple(sorted(hours.get(fid, ()), key=lambda s: (s.weekday, s.opens))),
                closed_dates=frozenset(closed.get(fid, ())),
                latitude=float(lat),
                longitude=float(lon),
                service_states=frozenset(states or ()),
                service_zips=frozenset(zips or ()),
                service_zip_prefixes=frozenset(prefixes or ()),
                service_radius_miles=radius or None,
            )
        )
    for fid, record in compiled.facilities.items():
        row = partner_rows.get(record.partner_id)
        if row is not None:
            compiled.static[fid] = _candidate(record, row, today, month_start(today))
    compiled.facilities = {fid: r for fid, r in compiled.facilities.items() if fid in compiled.static}
    compiled.build_seconds = time.perf_counter() - started
    return compiled


class _DirectoryCache:
    """The process's compiled directory, rebuilt when the version or UTC date moves.

    One thread rebuilds while others keep using the previous copy (a facility
    edit may take effect a moment later; partner state is read live anyway).
    """

    def __init__(self) -> None:
        self._current: CompiledDirectory | None = None
        self._lock = threading.Lock()

    def peek(self, *, now: datetime) -> CompiledDirectory | None:
        """The current copy if it is for today (its version is checked by the caller)."""
        current = self._current
        if current is not None and current.built_on == utc_day(now):
            return current
        return None

    def get(self, *, now: datetime, version: int | None = None) -> CompiledDirectory:
        if version is None:
            version = directory_version()
        today = utc_day(now)
        current = self._current
        if current is not None and current.version == version and current.built_on == today:
            return current
        if current is not None and not self._lock.acquire(blocking=False):
            return current  # someone else is rebuilding: the previous copy is good enough for now
        if current is None:
            self._lock.acquire()
        try:
            current = self._current
            if current is None or current.version != version or current.built_on != today:
                current = compile_directory(version=version, today=today)
                self._current = current
                logger.info(
                    "routing directory compiled: version %s, %s facilities in %.3fs",
                    version,
                    len(current.facilities),
                    current.build_seconds,
                )
            return current
        finally:
            self._lock.release()

    def clear(self) -> None:
        self._current = None

    def current_version(self) -> int:
        current = self._current
        return current.version if current is not None else 0


directory_cache = _DirectoryCache()


def compiled_directory(*, now: datetime) -> CompiledDirectory:
    return directory_cache.get(now=now)


_PARTNER_FIELDS = (
    "id",
    "display_name",
    "status",
    "license_verified_on",
    "priority",
    "weight",
    "daily_call_cap",
    "monthly_call_cap",
    "concurrent_call_cap",
    "monthly_budget_cents",
    "routing_counter__active_calls",
    "routing_counter__day",
    "routing_counter__calls_today",
    "routing_counter__month",
    "routing_counter__calls_this_month",
    "routing_counter__spend_this_month_cents",
    "directory_version",
)


def _partner_rows(partner_ids: Iterable[int]) -> tuple[dict[int, tuple], int | None]:
    """Live partner rows with counters, and the directory version, in one query.

    The version rides along (a scalar subquery) so that checking the compiled
    copy is fresh costs no extra round trip. None when no partner matched.
    """
    ids = list(partner_ids)
    if not ids:
        return {}, None
    version = Subquery(DirectoryVersion.objects.filter(id=1).values("version")[:1])
    rows = Partner.objects.filter(id__in=ids).annotate(directory_version=version).values_list(*_PARTNER_FIELDS)
    out = {row[0]: row for row in rows}
    seen = next(iter(out.values()))[-1] if out else None
    return out, int(seen or 0) if out else None


def candidates_for(
    *,
    location: Location,
    now: datetime,
    listing_facility_id: int | None = None,
    service: str = "",
    require_open: bool = True,
) -> list[Candidate]:
    """Candidates whose area may hold ``location`` (plus the listing facility).

    The facility-side rules (service, exact area, hours: ``engine.facility_check``)
    are run here on the compiled copy; only facilities that pass them get their
    partner's live state (status, licence, order, caps, counters), in one query
    that also carries the directory version. The others are returned with the
    compiled partner state: ``decide`` excludes them for the same facility-side
    reason before it looks at the partner. So the query grows with the
    facilities that can actually take the call, not with the directory.
    When the version is not the compiled one, the copy is rebuilt and the lookup
    repeated. Facilities of a partner deleted since the compile are left out.
    """
    probe = RouteRequest(service=service, location=location, require_open=require_open)
    clock = LocalClock(now)
    directory = directory_cache.peek(now=now)
    if directory is None:
        directory = compiled_directory(now=now)
    for _attempt in range(2):
        ids = directory.area_facility_ids(location)
        if listing_facility_id is not None and listing_facility_id in directory.facilities:
            ids.add(listing_facility_id)
        settled: list[Candidate] = []
        live: list[FacilityRecord] = []
        for fid in sorted(ids):
            static = directory.static.get(fid)
            if static is None:
                continue
            reason, _item = facility_check(static, probe, clock, is_listing=fid == listing_facility_id)
            if reason:
                settled.append(static)
            else:
                live.append(directory.facilities[fid])
        partners, version = _partner_rows({r.partner_id for r in live})
        if version is None:
            version = directory_version()
        if version == directory.version:
            break
        directory = directory_cache.get(now=now, version=version)
    today = utc_day(now)
    this_month = month_start(today)
    cache = directory.candidates
    out = [c for c in settled if c.partner_id in directory.partner_names]
    for r in live:
        p = partners.get(r.partner_id)
        if p is None:
            continue
        # The same partner state as last time: reuse the Candidate built then.
        key = (p[:-1], today)
        cached = cache.get(r.facility_id)
        if cached is not None and cached[0] == key:
            out.append(cached[1])
            continue
        candidate = _candidate(r, p, today, this_month)
        cache[r.facility_id] = (key, candidate)
        out.append(candidate)
    return out


def _candidate(r: FacilityRecord, p: tuple, today: date, this_month: date) -> Candidate:
    (
        _pid,
        pname,
        status,
        verified_on,
        priority,
        weight,
        daily_cap,
        monthly_cap,
        concurrent_cap,
        budget,
        active,
        c_day,
        c_today,
        c_month,
        c_month_calls,
        c_spend,
        _version,
    ) = p
    same_day = c_day == today
    same_month = c_month == this_month
    return Candidate(
        facility_id=r.facility_id,
        facility_name=r.facility_name,
        partner_id=r.partner_id,
        partner_name=pname,
        phone=r.phone,
        partner_active=status == Partner.Status.ACTIVE,
        license_verified=verified_on is not None,
        priority=priority,
        weight=weight,
        services=r.services,
        languages=r.languages,
        time_zone=r.time_zone,
        open_24_7=r.open_24_7,
        hours=r.hours,
        closed_dates=r.closed_dates,
        latitude=r.latitude,
        longitude=r.longitude,
        service_states=r.service_states,
        service_zips=r.service_zips,
        service_zip_prefixes=r.service_zip_prefixes,
        service_radius_miles=r.service_radius_miles,
        daily_cap=daily_cap,
        calls_today=(c_today or 0) if same_day else 0,
        monthly_cap=monthly_cap,
        calls_this_month=(c_month_calls or 0) if same_month else 0,
        concurrent_cap=concurrent_cap,
        active_calls=active or 0,
        monthly_budget_cents=budget,
        spend_this_month_cents=(c_spend or 0) if same_month else 0,
    )
