"""Whether to ask a caller for their ZIP: the one rule the IVR, admission requests and the simulator share.

Contract: ``zip_question(*, location, service, now, routed=False,
first_facility_id=None, listing_facility_id=None, asked_before=False,
area_code="") -> ZipQuestion``.

Why a rule at all: a location known only by state (Twilio ``FromState``, the
caller-ID area code) matches state-wide service areas only, so a caller whose
local partners serve a ZIP list, a ZIP prefix or a radius is sent elsewhere
unless they are asked. But every question costs a caller seconds, and callers
on this line may be in withdrawal or crisis: ask only when the ZIP could
change who answers, i.e. when the precision is below ZIP and

- some facility offering the service, open now, has an area finer than a
  state that may reach into the caller's state (with no state: any facility
  that does not serve every state), and it is not in a lower priority tier
  than the partner the location already known would be sent to (a lower tier
  is only dialed when the tiers before it are used up, so knowing it serves
  the caller cannot change the first dial); or
- the state-level decision is empty (nobody to dial without a ZIP) and some
  facility offers the service somewhere.

``area_code``: the caller ID's area code, when it places the caller in the
location's state. Then only finer areas reaching the ZIPs of that area code
count (the Chicago caller of 312 is asked about Chicago's partners, not about
a radius around Carbondale). It decides whether to ask, never where to route:
a caller whose number comes from elsewhere in the state is at worst not asked,
and routed by state as before (a state-wide partner serves them; an empty
state-level decision still asks).

``routed``/``first_facility_id``: the engine's first choice for the location
already known (None: nobody). With it, the tier of that choice bounds the
facilities that matter; not routed yet, every tier counts, which asks more
often, never less.

Never twice in one call (``asked_before``), never for a listing call whose
facility is open (it answers whatever the ZIP). Cheap: the facilities with a
finer area are listed per (state, service) in priority order when the
directory is compiled (``selectors.CompiledDirectory``), so a question is a
walk down a short list on the process's copy with no database round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from routing import selectors
from routing.engine import LocalClock, Location, RouteRequest, facility_check, open_state
from routing.vocabulary import SPOKEN_SERVICE_FULL


@dataclass(frozen=True)
class ZipQuestion:
    ask: bool
    reason: str  # for the call's event log, the simulator and the tests


def _service_words(service: str) -> str:
    return "any service" if service in ("", "unsure") else SPOKEN_SERVICE_FULL["en"].get(service, service)


def zip_question(
    *,
    location: Location,
    service: str,
    now: datetime,
    routed: bool = False,
    first_facility_id: int | None = None,
    listing_facility_id: int | None = None,
    asked_before: bool = False,
    area_code: str = "",
) -> ZipQuestion:
    """Ask for the ZIP? See the module docstring for the rule."""
    if asked_before:
        return ZipQuestion(False, "already asked once in this call")
    if location.precision == "zip":
        return ZipQuestion(False, f"ZIP known ({location.source})")
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
    tier: int | None = None  # the priority the known location is dialed at (None: nobody, or not routed yet)
    if routed and first_facility_id is not None:
        rank = directory.rank.get(first_facility_id)
        tier = rank[0] if rank is not None else None
    where = location.state or "an unknown place"
    if location.state and area_code:
        where = f"area code {area_code}"
        finer = directory.finer_in_state.get((f"a{area_code}", key), [])
    elif location.state:
        finer = directory.finer_in_state.get((location.state, key), [])
    else:
        finer = directory.not_nationwide.get(key, [])
    for fid in finer:
        priority = directory.rank[fid][0]
        if tier is not None and priority > tier:
            break  # sorted by priority: the rest are in lower tiers too
        if open_state(directory.static[fid], clock)[0]:
            first = f" (the known location is dialed at priority {tier})" if tier is not None else ""
            return ZipQuestion(
                True, f"facility {fid} offering {words}, priority {priority}, serves part of {where}{first}"
            )
    if routed and first_facility_id is None:
        return ZipQuestion(True, f"nobody in {where} can take {words} now without a ZIP")
    if not routed and finer:
        return ZipQuestion(False, f"no facility serving part of {where} offering {words} is open now")
    return ZipQuestion(False, f"the ZIP cannot change who answers in {where} for {words}")
