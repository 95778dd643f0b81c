"""Reads of the routing app: candidates for a decision, at a cost that does not grow with the directory.

Why a compiled directory: a caller matches only the facilities whose service
area holds them, so a decision must not scan the whole directory. Each process
keeps an immutable, area-indexed copy of the facility side of the directory
(services, hours, closed dates, areas, and the partner's priority and weight):
facility ids keyed by state, by ZIP, by 3-digit ZIP prefix, a nationwide list,
and a 1°×1° lat/lon grid in which every radius facility is registered in each
cell its circle touches; each key also per service, so a caller asking for
detox never walks facilities without detox (they are counted, not examined).

``shortlist()`` is what ``routing.services.route`` uses. It walks the area's
facilities for the service in priority order (lower number first), runs the
facility-side rules (``engine.facility_check``) on the compiled copy, and stops
at the end of a priority tier once the facilities that passed belong to enough
partners; only those partners' live state is read. If too many of them turn
out paused or at a cap, the rest of the area is walked and read in a second
query. Stopping at a tier boundary with at least ``max_choices`` eligible
partners gives exactly the decision of the full computation (see
``shortlist``), including the weighted rotation, which needs whole tiers.

Freshness: ``DirectoryVersion`` (one row) is bumped in the same transaction as
any save or delete of a Partner, Facility, OpeningHours or ClosedDate (signals
connected in ``RoutingConfig.ready``), with a new random token. The version and
token ride on the live partner query, and the copy is rebuilt when either moved
or the UTC date changed (the token tells apart two directories that got the
same version number because a transaction rolled back in between). Code that
writes the directory with ``bulk_create``/``update()`` (including a partner's
priority or weight) must call ``routing.services.bump_directory_version()``.

What changes with every call is never taken from the copy: the partner's
status, licence, caps and live counters are read fresh for the candidate
partners with every decision, so a pause (even one written with ``update()``)
or a cap reached a moment ago is seen immediately.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection

from routing import directory as directory_source
from routing.engine import (
    ALREADY_TRIED,
    NATIONWIDE,
    Candidate,
    Exclusion,
    LocalClock,
    Location,
    RouteRequest,
    Span,
    facility_check,
    partner_problem,
)
from routing.location import zip_tables
from routing.models import DirectoryVersion

logger = logging.getLogger(__name__)

MILES_PER_DEGREE_LAT = 69.0
# Closed dates older than this are of no use to a decision.
CLOSED_DATES_LOOKBACK_DAYS = 2
# Facility-side exclusions kept one by one per decision (the rest are counted per reason).
EXCLUDED_SAMPLE = 10
# Partners read beyond max_choices in the first query, for those found paused or at a cap: fewer
# means less work per decision, more means a second query less often.
SPARE_PARTNERS = 3
NOT_EXAMINED_LOWER_TIER = "lower priority tier, not examined (the list was full before it)"

DirectoryKey = tuple[int, int]  # (version, token) of DirectoryVersion
AreaKey = tuple[str, Any]  # ("state", "TX"), ("zip", "78701"), ("prefix", "787"), ("cell", (30, -98)), ("all", "")


def utc_day(now: datetime) -> date:
    """The UTC date: the day of the rotation counters and of the compiled copy (not of caps)."""
    return now.astimezone(UTC).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


# A partner's zone when it names none that this machine knows (the model validates it; a raw
# write could still store junk, and the call path must not fail on it).
FALLBACK_CAPS_ZONE = "America/New_York"


@functools.lru_cache(maxsize=512)
def caps_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or FALLBACK_CAPS_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown caps time zone %r; counting the caps in %s", name, FALLBACK_CAPS_ZONE)
        return ZoneInfo(FALLBACK_CAPS_ZONE)


def local_periods(now: datetime, zone: str) -> tuple[date, date]:
    """(day, first day of the month) at ``now`` on the calendar of ``zone``: the periods of a partner's caps.

    A partner's "20 calls a day" is its own calendar day: in California the day
    turns at 08:00 UTC (07:00 in summer), not at midnight UTC (4 pm there).
    """
    day = now.astimezone(caps_zone(zone)).date()
    return day, day.replace(day=1)


@dataclass(frozen=True)
class FacilityRecord:
    """The facility side of a candidate, as compiled (with its partner's order terms)."""

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
    priority: int = 5
    weight: int = 1


def area_keys(location: Location) -> list[AreaKey]:
    """The index keys under which a facility whose area may hold ``location`` is listed."""
    if not location.state:
        return [("all", "")]
    keys: list[AreaKey] = [("state", location.state)]
    if location.zip_code:
        keys.append(("zip", location.zip_code))
        keys.append(("prefix", location.zip_code[:3]))
    if location.latitude is not None and location.longitude is not None:
        keys.append(("cell", (math.floor(location.latitude), math.floor(location.longitude))))
    return keys


@dataclass
class CompiledDirectory:
    version: int
    built_on: date
    token: int = 0
    facilities: dict[int, FacilityRecord] = field(default_factory=dict)
    partner_names: dict[int, str] = field(default_factory=dict)
    # partner id -> IANA zone whose calendar counts its caps (``local_periods``).
    partner_zones: dict[int, str] = field(default_factory=dict)
    # area key -> facility ids, and (area key, service) -> ids of those offering the service.
    index: dict[AreaKey, list[int]] = field(default_factory=dict)
    service_index: dict[tuple[AreaKey, str], list[int]] = field(default_factory=dict)
    # facility id -> (priority, partner id, facility id): the order facilities are examined in.
    rank: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    build_seconds: float = 0.0
    # facility id -> Candidate with the partner state as compiled (for facility-side exclusions).
    static: dict[int, Candidate] = field(default_factory=dict)
    # facility id -> (partner row it was built from, Candidate): reused while the row is unchanged.
    candidates: dict[int, tuple[Any, Candidate]] = field(default_factory=dict)
    # For the ZIP question (routing.zip_question), per service ("" = any service), ids in the
    # order facilities are ranked (priority first): (state, service) -> facilities whose ZIP,
    # prefix or radius area may reach into the state without serving the whole state (the same
    # keyed ("a312", service) for the ZIPs of an area code);
    # service -> facilities that do not serve every state; service -> how many offer it.
    finer_in_state: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    not_nationwide: dict[str, list[int]] = field(default_factory=dict)
    offering: dict[str, int] = field(default_factory=dict)
    # (place, state, service) -> {the finer-area facilities serving a ZIP: how many of the place's
    # residential ZIPs that set serves}, filled on first use by ``routing.zip_question`` (a copy is
    # never changed once built, so this memo lives and dies with it).
    zip_outcomes: dict[tuple[str, str, str], tuple[dict[frozenset[int], int], int]] = field(default_factory=dict)

    # (area key, service) -> the key's facility ids sorted by rank, made on first use (see ``ranked``).
    _ranked: dict[tuple[AreaKey, str], list[int]] = field(default_factory=dict)

    @property
    def key(self) -> DirectoryKey:
        return (self.version, self.token)

    def ranked(self, location: Location, service: str = "") -> list[list[int]]:
        """The area's facility lists (offering ``service``, if given), each sorted by rank (priority first).

        Sorted once per key and compile, on first use: a decision merges a few
        short sorted lists lazily (``walk_directory``) instead of sorting its
        whole area, so it stops at a tier boundary having looked at little more
        than the tiers it walked.
        """
        lists = []
        for key in area_keys(location):
            cache_key = (key, service)
            ids = self._ranked.get(cache_key)
            if ids is None:
                source = self.service_index.get(cache_key) if service else self.index.get(key)
                if not source:
                    continue
                ids = self._ranked[cache_key] = sorted(source, key=self.rank.__getitem__)
            lists.append(ids)
        return lists

    def area_facility_ids(self, location: Location, service: str = "") -> set[int]:
        """Every facility whose area may hold ``location`` (a superset; the engine checks exactly).

        With ``service``, only those offering it (exactly: services are not approximated).
        """
        ids: set[int] = set()
        if service:
            for key in area_keys(location):
                ids.update(self.service_index.get((key, service), ()))
        else:
            for key in area_keys(location):
                ids.update(self.index.get(key, ()))
        return ids

    def add(self, record: FacilityRecord) -> None:
        fid = record.facility_id
        self.facilities[fid] = record
        self.rank[fid] = (record.priority, record.partner_id, fid)
        keys: list[AreaKey] = [("state", state) for state in record.service_states]
        if record.service_states >= NATIONWIDE:
            keys.append(("all", ""))
        keys.extend(("zip", zip_code) for zip_code in record.service_zips)
        keys.extend(("prefix", prefix) for prefix in record.service_zip_prefixes)
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
                    keys.append(("cell", (cell_lat, cell_lon)))
        for key in keys:
            self.index.setdefault(key, []).append(fid)
            for service in record.services:
                self.service_index.setdefault((key, service), []).append(fid)
        self._count_for_zip_question(record, keys)

    def _count_for_zip_question(self, record: FacilityRecord, keys: list[AreaKey]) -> None:
        """Precompute what ``routing.zip_question`` asks of the directory, once per compile.

        The states an area finer than a state touches are over-approximated (a
        radius counts every state with a ZIP in the 1° cells its circle touches):
        a needless question costs a caller seconds, a missed one the right partner.
        """
        by_zip, by_prefix, by_cell = zip_tables()
        touched: set[str] = set()  # states ("IL") and area codes ("a312")
        for zip_code in record.service_zips:
            touched |= by_zip.get(zip_code, frozenset())
        for prefix in record.service_zip_prefixes:
            touched |= by_prefix.get(prefix, frozenset())
        for kind, value in keys:
            if kind == "cell":
                touched |= by_cell.get(value, frozenset())
        fid = record.facility_id
        for service in ("", *record.services):
            self.offering[service] = self.offering.get(service, 0) + 1
            if not record.service_states >= NATIONWIDE:
                self.not_nationwide.setdefault(service, []).append(fid)
            for state in touched - record.service_states:
                self.finer_in_state.setdefault((state, service), []).append(fid)

    def finish(self) -> None:
        """Sort what ``add`` collected for the ZIP question by rank (priority first), once per compile."""
        for ids in (*self.finer_in_state.values(), *self.not_nationwide.values()):
            ids.sort(key=self.rank.__getitem__)


def directory_key() -> DirectoryKey:
    row = DirectoryVersion.objects.filter(id=1).values_list("version", "token").first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def directory_version() -> int:
    return directory_key()[0]


def compile_directory(*, version: int, today: date, token: int = 0) -> CompiledDirectory:
    """Load the active facilities of the whole directory into an area index."""
    started = time.perf_counter()
    hours: dict[int, list[Span]] = {}
    source = directory_source.source()
    for fid, weekday, opens, closes in source.opening_hours():
        hours.setdefault(fid, []).append(Span(weekday, opens, closes))
    closed: dict[int, set[date]] = {}
    for fid, day in source.closed_dates(since=today - timedelta(days=CLOSED_DATES_LOOKBACK_DAYS)):
        closed.setdefault(fid, set()).add(day)
    compiled = CompiledDirectory(version=version, built_on=today, token=token)
    partner_terms = {row[0]: row for row in source.partner_terms()}
    compiled.partner_names = {pid: row[1] for pid, row in partner_terms.items()}
    compiled.partner_zones = {pid: row[4] or FALLBACK_CAPS_ZONE for pid, row in partner_terms.items()}
    rows = source.active_facilities()
    for fid, name, pid, phone, services, languages, tz, always, lat, lon, states, zips, prefixes, radius in rows:
        terms = partner_terms.get(pid)
        if terms is None:
            continue  # partner deleted between the two reads
        record = FacilityRecord(
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
            priority=terms[2],
            weight=terms[3],
        )
        compiled.add(record)
        # Live fields as compiled: the counters are not loaded here (a static candidate only
        # explains facility-side exclusions, which never look at the partner).
        compiled.static[fid] = _candidate(record, pid, terms[1], terms[5:], today, month_start(today))
    compiled.finish()
    compiled.build_seconds = time.perf_counter() - started
    return compiled


class _DirectoryCache:
    """The process's compiled directory, rebuilt when (version, token) or the UTC date moves.

    One thread rebuilds while others keep using the previous copy (a facility
    edit may take effect a moment later; partner state is read live anyway).
    """

    def __init__(self) -> None:
        self._current: CompiledDirectory | None = None
        self._lock = threading.Lock()

    def peek(self, *, now: datetime) -> CompiledDirectory | None:
        """The current copy if it is for today (its key is checked by the caller)."""
        current = self._current
        if current is not None and current.built_on == utc_day(now):
            return current
        return None

    def get(self, *, now: datetime, key: DirectoryKey | None = None) -> CompiledDirectory:
        if key is None:
            key = directory_key()
        today = utc_day(now)
        current = self._current
        if current is not None and current.key == key and current.built_on == today:
            return current
        if current is not None and not self._lock.acquire(blocking=False):
            return current  # someone else is rebuilding: the previous copy is good enough for now
        if current is None:
            self._lock.acquire()
        try:
            current = self._current
            if current is None or current.key != key or current.built_on != today:
                current = compile_directory(version=key[0], token=key[1], today=today)
                self._current = current
                logger.info(
                    "routing directory compiled: version %s, %s facilities in %.3fs",
                    key[0],
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


def warm(*, now: datetime) -> CompiledDirectory:
    """Load what the first routed call in a process would otherwise wait for: the ZIP tables the
    location and the ZIP question read (0.6-1 s) and the compiled directory (seconds at 10,000
    facilities). Called by each web worker before it takes a request (config/gunicorn.conf.py)."""
    from routing import location

    location.zip_tables()
    location.residential_zips()
    return compiled_directory(now=now)


_LIVE_FIELDS = directory_source.LIVE_FIELDS


def async_commit_sql() -> str:
    """A select/RETURNING item that makes this statement's own commit asynchronous (PostgreSQL).

    Used only for statements that run in autocommit (not inside someone's
    ``atomic()``), so it never changes the durability of a caller's other
    writes. A database crash may lose the last few hundred milliseconds of
    rotation counts or decision log rather than make a caller wait for a disk
    flush; WAL order keeps it consistent with anything committed later.
    """
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return ", set_config('synchronous_commit', 'off', true)"
    return ""


def _partner_rows(
    partner_ids: Iterable[int], *, rotation: tuple[str, date] | None = None
) -> tuple[dict[int, tuple], DirectoryKey, int | None]:
    """Live partner rows (id first, then ``_LIVE_FIELDS``), the directory key and the rotation count: one query.

    The version and token ride along so that checking the compiled copy is
    fresh costs no extra round trip. On PostgreSQL, ``rotation`` (scope, UTC
    day) also counts this decision in ``RotationCounter`` in the same statement
    (a data-modifying WITH) and returns the new count; elsewhere it is None and
    the caller counts separately. The query itself is the directory source's
    (``routing.directory``), which owns the partner table.
    """
    ids = sorted(set(partner_ids))
    if not ids and connection.vendor != "postgresql":
        return {}, directory_key(), None
    rows, key, value = directory_source.source().live_partner_rows(ids, rotation=rotation)
    return rows, (key if key is not None else directory_key()), value


def _live_candidates(
    directory: CompiledDirectory,
    records: list[FacilityRecord],
    now: datetime,
    *,
    rotation: tuple[str, date] | None = None,
    counted: list[int] | None = None,
    caps: dict[int, tuple] | None = None,
) -> tuple[dict[int, Candidate], DirectoryKey]:
    """Candidates with live partner state for ``records`` (one query), and the directory key read with them.

    With ``rotation`` on PostgreSQL the decision is counted in the same query
    and the count appended to ``counted``; ``caps`` collects each partner's caps as read.
    """
    partners, key, value = _partner_rows((r.partner_id for r in records), rotation=rotation)
    if value is not None and counted is not None:
        counted.append(value)
    zones = directory.partner_zones
    if caps is not None:
        for pid, row in partners.items():
            caps[pid] = (*row[1:7], zones.get(pid, FALLBACK_CAPS_ZONE))
    periods: dict[str, tuple[date, date]] = {}  # zone -> the partner's (day, month) at ``now``
    cache = directory.candidates
    out: dict[int, Candidate] = {}
    for r in records:
        p = partners.get(r.partner_id)
        if p is None:
            continue  # partner deleted since the compile
        zone = zones.get(r.partner_id, FALLBACK_CAPS_ZONE)
        period = periods.get(zone)
        if period is None:
            period = periods[zone] = local_periods(now, zone)
        # The same partner state as last time: reuse the Candidate built then.
        cache_key = (p, period[0])
        cached = cache.get(r.facility_id)
        if cached is not None and cached[0] == cache_key:
            out[r.facility_id] = cached[1]
            continue
        candidate = _candidate(
            r, r.partner_id, directory.partner_names.get(r.partner_id, ""), p[1:], period[0], period[1]
        )
        cache[r.facility_id] = (cache_key, candidate)
        out[r.facility_id] = candidate
    return out, key


LiveLoader = Callable[[CompiledDirectory, list[FacilityRecord], datetime], tuple[dict[int, Candidate], DirectoryKey]]


class _Stale(Exception):
    def __init__(self, key: DirectoryKey) -> None:
        super().__init__(key)
        self.key = key


def reason_category(reason: str) -> str:
    """The kind of a reason, without its particulars: "closed now (local Mon 09:00 …)" → "closed now"."""
    cut = len(reason)
    for sep in (" (", ": ", ";"):
        at = reason.find(sep)
        if 0 < at < cut:
            cut = at
    return reason[:cut]


@dataclass
class Shortlist:
    """What ``engine.decide`` needs for one request, and an account of everything else.

    ``candidates``: the examined facilities that passed the facility-side rules,
    with live partner state, plus the listing facility (whatever its state, so
    the decision can say why it was not available). ``excluded``: up to
    ``EXCLUDED_SAMPLE`` examined facilities that failed a facility-side rule,
    with the reason. ``counts``: the number per reason category of every
    facility left out before ``decide`` — the examined ones and those never
    examined (lacking the service, or in a priority tier after the list was full).
    """

    candidates: list[Candidate]
    excluded: list[Exclusion] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    examined: int = 0
    in_area: int = 0
    version: int = 0
    rounds: int = 0  # live partner reads (queries) made
    rotation_key: int | None = None  # counted with the first read (PostgreSQL, when asked)
    # partner id -> (status, licence date, daily, monthly, concurrent caps, budget, caps zone), as read.
    live_caps: dict[int, tuple] = field(default_factory=dict)


def shortlist(
    *, request: RouteRequest, now: datetime, loader: LiveLoader | None = None, rotation_scope: str | None = None
) -> Shortlist:
    """The candidates of ``request`` at ``now``: examined in priority order, enough of them and no more.

    One query for the live partner state in the common case, two when the
    first priority tiers' partners are mostly paused or at a cap; the query
    also carries the directory key, and a stale copy is rebuilt and the
    walk repeated. With ``rotation_scope`` on PostgreSQL the first query also
    counts the decision in the rotation (once, even if the walk is repeated)
    and ``Shortlist.rotation_key`` is the count; otherwise it stays None.
    """
    counted: list[int] = []
    caps: dict[int, tuple] = {}

    def live(
        directory: CompiledDirectory, records: list[FacilityRecord], at: datetime
    ) -> tuple[dict[int, Candidate], DirectoryKey]:
        ask = (rotation_scope, utc_day(at)) if rotation_scope is not None and not counted else None
        return _live_candidates(directory, records, at, rotation=ask, counted=counted, caps=caps)

    load = loader or live
    directory = directory_cache.peek(now=now) or compiled_directory(now=now)
    result: Shortlist | None = None
    for _attempt in range(2):
        try:
            result = walk_directory(directory, request=request, now=now, loader=load, expect=directory.key)
            break
        except _Stale as stale:
            directory = directory_cache.get(now=now, key=stale.key)
    if result is None:
        result = walk_directory(directory, request=request, now=now, loader=load, expect=None)
    result.rotation_key = counted[0] if counted else None
    result.live_caps = caps
    return result


def _union_size(lists: list[list[int]]) -> int:
    if len(lists) == 1:
        return len(lists[0])
    return len(set().union(*lists))


class _RankOrder:
    """The union of sorted id lists in rank order, merged only as far as it is read (``order[i]``).

    ``len()`` is the size of the whole union (given), so a walk that stops early
    still counts what it did not examine.
    """

    def __init__(self, lists: list[list[int]], rank: dict[int, tuple[int, int, int]], size: int) -> None:
        self._size = size
        if len(lists) == 1:
            self._items, self._rest = lists[0], None
        else:
            self._items = []
            merged = heapq.merge(*lists, key=rank.__getitem__)
            self._rest = (fid for fid, _same in itertools.groupby(merged))  # equal ids are adjacent: once each

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: int) -> int:
        rest = self._rest
        if rest is not None:
            items = self._items
            while len(items) <= index:
                items.append(next(rest))
        return self._items[index]


def walk_directory(
    directory: CompiledDirectory,
    *,
    request: RouteRequest,
    now: datetime,
    loader: LiveLoader,
    expect: DirectoryKey | None = None,
) -> Shortlist:
    """Walk the area's facilities for the service in priority order; stop as soon as the result is settled.

    Why stopping early is exact: ``decide`` fills the list tier by tier (lower
    priority number first) and rotates whole tiers, and all facilities of a
    partner share its priority. If the tiers walked completely already hold at
    least ``max_choices`` partners with an eligible facility, no later tier can
    place anyone, so the later tiers do not change the choices. With a language
    preference the list is narrowed to speakers when any eligible facility
    speaks it, so the rule is applied to eligible speakers; when none has been
    found, the whole area is walked (a later tier may hold one).

    ``expect``: the directory key the copy must have; a different key read with
    the live state raises ``_Stale``.
    """
    clock = LocalClock(now)
    location = request.location
    service = request.service
    any_service = service in ("", "unsure")
    max_choices = max(1, request.max_choices)
    target = max_choices + SPARE_PARTNERS  # partners to read at once: spares for paused or capped ones
    listing_id = request.listing_facility_id
    counts: dict[str, int] = {}
    excluded: list[Exclusion] = []

    def count(reason: str, n: int = 1, *, exact: bool = False) -> None:
        if n > 0:
            key = reason if exact else reason_category(reason)
            counts[key] = counts.get(key, 0) + n

    area_lists = directory.ranked(location)
    pool_lists = area_lists if any_service else directory.ranked(location, service)
    in_area = _union_size(area_lists)
    pool_size = in_area if any_service else _union_size(pool_lists)
    if not any_service:
        count(f"does not offer {service} (not examined)", in_area - pool_size, exact=True)
    rank = directory.rank
    order = _RankOrder(pool_lists, rank, pool_size)
    candidates: list[Candidate] = []
    passed: list[FacilityRecord] = []
    examined = 0

    listing_record: FacilityRecord | None = None
    if listing_id is not None and listing_id in directory.static:
        examined += 1
        static = directory.static[listing_id]
        reason, _item = facility_check(static, request, clock, is_listing=True)
        if reason:
            candidates.append(static)  # decide() says why the listing facility is not available
        else:
            listing_record = directory.facilities[listing_id]

    position = 0
    rounds = 0
    live: dict[int, Candidate] = {}
    eligible_partners: set[int] = set()
    speaking_partners: set[int] = set()
    passed_partners: set[int] = set()
    passed_speakers: set[int] = set()

    def walk(*, stop: bool) -> list[FacilityRecord]:
        nonlocal position, examined
        batch: list[FacilityRecord] = []
        tier: int | None = None
        while position < len(order):
            fid = order[position]
            priority = rank[fid][0]
            if stop and priority != tier:
                # A tier boundary: enough partners to read?
                have = passed_speakers if request.language and passed_speakers else passed_partners
                if len(have) >= target:
                    break
                tier = priority
            position += 1
            if fid == listing_id:
                continue
            examined += 1
            static = directory.static[fid]
            reason, _item = facility_check(static, request, clock)
            if not reason and static.partner_id in request.exclude_partner_ids:
                reason = ALREADY_TRIED  # not read, not counted towards the list: a second routing goes further
            if reason:
                count(reason)
                if len(excluded) < EXCLUDED_SAMPLE:
                    excluded.append(
                        Exclusion(fid, static.facility_name, static.partner_id, static.partner_name, reason)
                    )
                continue
            record = directory.facilities[fid]
            batch.append(record)
            passed_partners.add(record.partner_id)
            if request.language and request.language in record.languages:
                passed_speakers.add(record.partner_id)
        return batch

    def read(records: list[FacilityRecord]) -> None:
        nonlocal rounds
        found, key = loader(directory, records, now)
        rounds += 1
        if expect is not None and key != expect:
            raise _Stale(key)
        live.update(found)
        for r in records:
            c = found.get(r.facility_id)
            if c is None:
                count("partner removed since the directory was compiled")
                continue
            if r is not listing_record and not partner_problem(c):
                eligible_partners.add(c.partner_id)
                if request.language and request.language in c.languages:
                    speaking_partners.add(c.partner_id)

    def settled() -> bool:
        if position >= len(order):
            return True
        if request.language:
            return len(speaking_partners) >= max_choices
        return len(eligible_partners) >= max_choices

    first = walk(stop=True)
    passed.extend(first)
    read(first + ([listing_record] if listing_record is not None else []))
    listing_live = live.get(listing_id) if listing_id is not None else None
    if listing_live is not None and not partner_problem(listing_live):
        pass  # a listing call that reaches its facility goes there alone: the pool cannot change that
    elif not settled():
        rest = walk(stop=False)
        passed.extend(rest)
        read(rest)
    skipped = len(order) - position
    count(NOT_EXAMINED_LOWER_TIER, skipped, exact=True)
    if listing_record is not None and listing_id in live:
        candidates.append(live[listing_id])
    candidates.extend(live[r.facility_id] for r in passed if r.facility_id in live)
    return Shortlist(
        candidates=candidates,
        excluded=excluded,
        counts=counts,
        examined=examined,
        in_area=in_area,
        version=directory.version,
        rounds=rounds,
    )


def candidates_for(
    *,
    location: Location,
    now: datetime,
    listing_facility_id: int | None = None,
    service: str = "",
    require_open: bool = True,
) -> list[Candidate]:
    """Every candidate whose area may hold ``location`` (plus the listing facility), none left out.

    For tools and tests that want the whole area (``route`` uses ``shortlist``).
    Facilities that pass the facility-side rules get their partner's live state
    (one query that also carries the directory key); the others are returned
    with the compiled partner state, which ``decide`` never reads for them.
    """
    probe = RouteRequest(service=service, location=location, require_open=require_open)
    clock = LocalClock(now)
    directory = directory_cache.peek(now=now) or compiled_directory(now=now)
    for _attempt in range(2):
        ids = directory.area_facility_ids(location)
        if listing_facility_id is not None and listing_facility_id in directory.facilities:
            ids.add(listing_facility_id)
        settled: list[Candidate] = []
        to_read: list[FacilityRecord] = []
        for fid in sorted(ids):
            static = directory.static[fid]
            reason, _item = facility_check(static, probe, clock, is_listing=fid == listing_facility_id)
            if reason:
                settled.append(static)
            else:
                to_read.append(directory.facilities[fid])
        found, key = _live_candidates(directory, to_read, now)
        if key == directory.key:
            break
        directory = directory_cache.get(now=now, key=key)
    return settled + [found[r.facility_id] for r in to_read if r.facility_id in found]


def _candidate(
    r: FacilityRecord, partner_id: int, partner_name: str, live: tuple, today: date, this_month: date
) -> Candidate:
    (
        status,
        verified_on,
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
    ) = live
    # A counter already in a later period than ``now`` says (rolled by a worker whose clock is
    # ahead of this one) is the current one: claims count into it (``services.claim_leg``).
    same_day = c_day is not None and c_day >= today
    same_month = c_month is not None and c_month >= this_month
    return Candidate(
        facility_id=r.facility_id,
        facility_name=r.facility_name,
        partner_id=partner_id,
        partner_name=partner_name,
        phone=r.phone,
        partner_active=status == directory_source.PARTNER_ACTIVE,
        license_verified=verified_on is not None,
        priority=r.priority,
        weight=r.weight,
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
