"""Whether to ask a caller for their ZIP: the one rule the IVR, admission requests and the simulator share.

Contract: ``zip_question(*, location, service, now, routed=False,
first_facility_id=None, choices=(), rotation_key=None, language="",
max_choices=5, listing_facility_id=None, asked_before=False, area_code="")
-> ZipQuestion``.

Why a rule at all: a location known only by state (Twilio ``FromState``, the
caller-ID area code) matches state-wide service areas only, so a caller whose
local partners serve a ZIP list, a ZIP prefix or a radius is sent elsewhere
unless they are asked. But every question costs a caller seconds (about 7),
and callers on this line may be in withdrawal or crisis: ask only when the ZIP
would change the first dial.

With the state-level decision made (``routed``, its ``choices`` in order and
its ``rotation_key``), the rule computes that first dial for every
residential ZIP of the place the caller is known to be in (the caller ID's
area code within the state, else the state): a ZIP adds the finer-area
facilities (ZIP list, prefix, radius; open, offering the service, speaking
the caller's language where that narrows) that serve it, and the engine's own
ordering (priority tier, one facility per partner with the most specific area,
the weighted rotation at the same key) picks the first. The ZIP is asked when
it changes the first dial for at least ``ASK_SHARE`` (½) of those ZIPs. Why ½:
if the ZIP changes the dial for a share s of the place's ZIPs, asking everyone
there makes (1 − s) of them wait for nothing, and asking nobody sends s of them
to another partner than their ZIP's (still served, by a state-wide partner);
asking exactly when s ≥ ½ makes the fewest of the two together. A finer area in a lower
tier than the first choice, or one serving no ZIP of the place, never asks.
The engine re-routes the answered call at the same rotation key (one call,
one turn of the rotation), so the dial computed here is the dial made.

Without a decision to compare (not routed yet, or no rotation key) the rule
falls back to "some finer area in the first choice's tier reaches the place".
The state-level decision empty (nobody to dial without a ZIP) asks whenever
some facility offers the service somewhere; an unknown place (no state) asks
when some facility offering the service does not serve every state.

Never twice in one call (``asked_before``), never for a listing call whose
facility is open (it answers whatever the ZIP). Cheap: no database round trip.
The finer-area facilities are listed per (place, service) in priority order
when the directory is compiled (``selectors.CompiledDirectory``); which of
them serve which ZIP is worked out once per compiled copy and place (through
the ZIP, prefix and 1° cell indexes: 1–4 ms for an area code, 20–40 ms for
Texas in a 10,000-facility directory; the process's first use also loads the
ZIP table), then each question is a walk over the distinct outcomes (a dozen
for an area code, about a thousand for a large state) with the call's tier and
rotation key.

Partner state is the compiled copy's (paused, licence); caps are not known
here. A finer-area partner at a cap makes the rule ask where the ZIP would in
fact not change the dial (a needless question), never the reverse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from routing import selectors
from routing.engine import (
    Candidate,
    LocalClock,
    Location,
    RouteRequest,
    facility_check,
    haversine_miles,
    open_state,
    partner_problem,
    rotation_pick,
)
from routing.location import residential_zips
from routing.vocabulary import SPOKEN_SERVICE_FULL

# Ask when the ZIP changes the first dial for at least this share of the place's residential ZIPs.
ASK_SHARE = 0.5


@dataclass(frozen=True)
class ZipQuestion:
    ask: bool
    reason: str  # for the call's event log, the simulator and the tests
    # Share of the place's residential ZIPs for which the ZIP changes the first dial (None: not computed).
    share: float | None = None


def _service_words(service: str) -> str:
    return "any service" if service in ("", "unsure") else SPOKEN_SERVICE_FULL["en"].get(service, service)


def zip_question(
    *,
    location: Location,
    service: str,
    now: datetime,
    routed: bool = False,
    first_facility_id: int | None = None,
    choices: Sequence[int] = (),
    rotation_key: int | None = None,
    language: str = "",
    max_choices: int = 5,
    listing_facility_id: int | None = None,
    asked_before: bool = False,
    area_code: str = "",
) -> ZipQuestion:
    """Ask for the ZIP? See the module docstring for the rule.

    ``choices``: the state-level decision's facility ids in order (its first is
    ``first_facility_id`` when that is not given); ``rotation_key`` and
    ``language`` and ``max_choices`` as that decision was made with.
    """
    if asked_before:
        return ZipQuestion(False, "already asked once in this call")
    if location.precision == "zip":
        return ZipQuestion(False, f"ZIP known ({location.source})")
    if first_facility_id is None and choices:
        first_facility_id = choices[0]
    key = "" if service in ("", "unsure") else service
    words = _service_words(service)
    directory = selectors.directory_cache.peek(now=now) or selectors.compiled_directory(now=now)
    clock = LocalClock(now)
    if listing_facility_id is not None:
        listing = directory.static.get(listing_facility_id)
        request = RouteRequest(service=service or "unsure", location=location)
        if listing is not None and not facility_check(listing, request, clock, is_listing=True)[0]:
            return ZipQuestion(False, "listing call: the listing facility answers whatever the ZIP")
    if directory.offering.get(key, 0) == 0:
        return ZipQuestion(False, f"no facility offers {words}: a ZIP cannot change that")
    where = location.state or "an unknown place"
    if routed and first_facility_id is None:
        return ZipQuestion(True, f"nobody in {where} can take {words} now without a ZIP")
    tier: int | None = None  # the priority the known location is dialed at (None: nobody, or not routed yet)
    if routed and first_facility_id is not None:
        rank = directory.rank.get(first_facility_id)
        tier = rank[0] if rank is not None else None
    if location.state and area_code:
        place = f"a{area_code}"
        where = f"area code {area_code}"
    else:
        place = location.state
    if location.state:
        finer = directory.finer_in_state.get((place, key), [])
    else:
        finer = directory.not_nationwide.get(key, [])
    # The finer-area facilities that could take the call: open, partner not paused, not in a lower tier.
    usable: list[int] = []
    for fid in finer:
        if tier is not None and directory.rank[fid][0] > tier:
            break  # sorted by priority: the rest are in lower tiers too
        static = directory.static[fid]
        if open_state(static, clock)[0] and not partner_problem(static):
            usable.append(fid)
    if not usable:
        if finer and tier is not None and directory.rank[finer[0]][0] > tier:
            return ZipQuestion(
                False,
                f"every facility serving part of {where} offering {words} is in a lower tier than the first "
                f"choice (priority {tier}): it cannot be dialed first",
            )
        if finer:
            return ZipQuestion(False, f"no facility serving part of {where} offering {words} could take it now")
        return ZipQuestion(False, f"the ZIP cannot change who answers in {where} for {words}")
    first = f" (the known location is dialed at priority {tier})" if tier is not None else ""
    if not location.state or tier is None or rotation_key is None or first_facility_id is None:
        fid = usable[0]
        return ZipQuestion(
            True, f"facility {fid} offering {words}, priority {directory.rank[fid][0]}, serves part of {where}{first}"
        )
    return _first_dial_question(
        directory=directory,
        location=location,
        place=place,
        where=where,
        key=key,
        words=words,
        usable=usable,
        first_facility_id=first_facility_id,
        choices=list(choices) or [first_facility_id],
        tier=tier,
        rotation_key=rotation_key,
        language=language,
        max_choices=max(1, max_choices),
        clock=clock,
        service=service,
    )


def _first_dial_question(
    *,
    directory: selectors.CompiledDirectory,
    location: Location,
    place: str,
    where: str,
    key: str,
    words: str,
    usable: list[int],
    first_facility_id: int,
    choices: list[int],
    tier: int,
    rotation_key: int,
    language: str,
    max_choices: int,
    clock: LocalClock,
    service: str,
) -> ZipQuestion:
    """Ask when the ZIP changes the first dial for at least ``ASK_SHARE`` of the place's residential ZIPs."""
    outcomes, total = _outcomes(directory, place, location.state, key)
    if total == 0:
        return ZipQuestion(False, f"no residential ZIP in {where}: a ZIP cannot be weighed")
    static = directory.static
    first = static.get(first_facility_id)
    if first is None:
        return ZipQuestion(True, f"the first choice {first_facility_id} is no longer in the directory")
    # The tier the state-level decision dials first: its partners (with their facility) and weights.
    in_tier = [fid for fid in choices if fid in directory.rank and directory.rank[fid][0] == tier]
    tier_partners = {static[fid].partner_id: static[fid].weight for fid in in_tier}
    speaks = bool(language) and language in first.languages  # then the state-level list was narrowed to speakers
    complete = len(choices) < max_choices or directory.rank.get(choices[-1], (tier,))[0] != tier
    if not complete:  # the list was full of this tier: add the tier's other state-wide partners, as compiled
        narrowed_to = language if speaks else ""
        tier_partners.update(_state_tier_partners(directory, location, service, key, tier, narrowed_to, clock))
    usable_set = frozenset(usable)
    changed = 0
    example = ""
    for served, count in outcomes.items():
        added = served & usable_set
        if not added:
            continue
        if _changes_first_dial(
            added=added,
            static=static,
            rank=directory.rank,
            tier=tier,
            tier_partners=tier_partners,
            first=first,
            rotation_key=rotation_key,
            language=language,
            speaks=speaks,
        ):
            changed += count
            example = example or f"facility {min(added)}"
    share = changed / total
    detail = (
        f"the ZIP changes the first dial for {changed} of {total} ZIPs in {where} ({share:.0%}) for {words}, "
        f"first choice {first_facility_id} at priority {tier}"
    )
    if share >= ASK_SHARE:
        return ZipQuestion(True, f"{detail} (e.g. {example})", share)
    return ZipQuestion(False, f"{detail}: below {ASK_SHARE:.0%}, not worth a question", share)


def _changes_first_dial(
    *,
    added: frozenset[int],
    static: dict[int, Candidate],
    rank: dict[int, tuple[int, int, int]],
    tier: int,
    tier_partners: dict[int, int],
    first: Candidate,
    rotation_key: int,
    language: str,
    speaks: bool,
) -> bool:
    """Whether a ZIP whose finer areas add ``added`` to the state-level pool moves the first dial."""
    if language:
        speakers = {fid for fid in added if language in static[fid].languages}
        if not speaks and speakers:
            return True  # nobody eligible spoke the language; now someone does, and the list narrows to them
        if speaks:
            added = frozenset(speakers)  # the list is narrowed to speakers: the others are left out
    if not added:
        return False
    if any(rank[fid][0] < tier for fid in added):
        return True  # a higher tier than the first choice's: it is dialed first
    new_partners = {static[fid].partner_id: static[fid].weight for fid in added}
    partners = {**tier_partners, **new_partners}
    ordered = sorted(partners)
    picked = ordered[rotation_pick([partners[pid] for pid in ordered], rotation_key, 0)]
    # A partner with a facility serving the ZIP is dialed there (the more specific area wins).
    return picked in new_partners or picked != first.partner_id


def _state_tier_partners(
    directory: selectors.CompiledDirectory,
    location: Location,
    service: str,
    key: str,
    tier: int,
    language: str,
    clock: LocalClock,
) -> dict[int, int]:
    """Partners with a facility eligible at state level in ``tier`` (compiled state): partner id -> weight.

    ``language``: the language the state-level list was narrowed to ("" when it was not).
    """
    area = ("state", location.state)
    ids = directory.service_index.get((area, key), []) if key else directory.index.get(area, [])
    request = RouteRequest(service=service or "unsure", location=location)
    out: dict[int, int] = {}
    for fid in ids:
        c = directory.static[fid]
        if directory.rank[fid][0] != tier or (language and language not in c.languages):
            continue
        if not facility_check(c, request, clock)[0] and not partner_problem(c):
            out[c.partner_id] = c.weight
    return out


def _outcomes(
    directory: selectors.CompiledDirectory, place: str, state: str, key: str
) -> tuple[dict[frozenset[int], int], int]:
    """{set of finer-area facilities serving a ZIP: number of the place's residential ZIPs}, and that number.

    Over every finer-area facility listed for (place, service), whatever its
    hours or tier (those are applied per question); kept on the compiled copy.
    """
    memo_key = (place, state, key)
    memo = directory.zip_outcomes.get(memo_key)
    if memo is not None:
        return memo
    zips = [z for z in residential_zips().get(place, ()) if z[1] == state]
    finer = directory.finer_in_state.get((place, key), [])
    static = directory.static
    by_zip: dict[str, list[int]] = {}
    by_prefix: dict[str, list[int]] = {}
    for fid in finer:
        for zip_code in static[fid].service_zips:
            by_zip.setdefault(zip_code, []).append(fid)
        for prefix in static[fid].service_zip_prefixes:
            by_prefix.setdefault(prefix, []).append(fid)
    with_radius = {fid for fid in finer if static[fid].service_radius_miles}
    counts: dict[frozenset[int], int] = {}
    for zip_code, _state, lat, lon in zips:
        served = set(by_zip.get(zip_code, ()))
        served.update(by_prefix.get(zip_code[:3], ()))
        # A radius facility is registered in every 1° cell its circle touches (selectors.CompiledDirectory.add).
        for fid in directory.index.get(("cell", (math.floor(lat), math.floor(lon))), ()):
            if fid in with_radius and fid not in served:
                c = static[fid]
                if haversine_miles(lat, lon, c.latitude, c.longitude) <= (c.service_radius_miles or 0):
                    served.add(fid)
        subset = frozenset(served)
        counts[subset] = counts.get(subset, 0) + 1
    result = (counts, len(zips))
    directory.zip_outcomes[memo_key] = result
    return result
