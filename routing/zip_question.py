"""Whether to ask a caller for their ZIP: the one rule the IVR, admission requests and the simulator share.

Contract: ``zip_question(*, location, service, now, listing_facility_id=None,
asked_before=False, state_decision_empty=None) -> ZipQuestion``.

Why a rule at all: a location known only by state (Twilio ``FromState``, the
caller-ID area code) matches state-wide service areas only, so a caller whose
local partners serve a ZIP list, a ZIP prefix or a radius is sent elsewhere
unless they are asked. But every question costs a caller seconds, and callers
on this line may be in withdrawal or crisis: ask only when the ZIP could
change who answers, i.e. when the precision is below ZIP and

- some facility offering the service has an area finer than a state that may
  reach into the caller's state (or, with no state, any facility that does
  not serve every state), or
- the state-level decision is empty (nobody to dial without a ZIP), and some
  facility elsewhere offers the service.

Never twice in one call (``asked_before``), never for a listing call whose
facility is open (it answers whatever the ZIP). Cheap: counts precomputed per
(state, service) when the directory is compiled (``selectors.CompiledDirectory``)
and the process's compiled copy, so no database round trip per call; the
"empty" case is checked on the compiled copy (facility-side rules) before
routing, and by the caller on the real decision after it (partner-side:
paused, at a cap), passing ``state_decision_empty``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from routing import selectors
from routing.engine import LocalClock, Location, RouteRequest, facility_check
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
    listing_facility_id: int | None = None,
    asked_before: bool = False,
    state_decision_empty: bool | None = None,
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
    request = RouteRequest(service=service or "unsure", location=location)
    if listing_facility_id is not None:
        listing = directory.static.get(listing_facility_id)
        if listing is not None and not facility_check(listing, request, clock, is_listing=True)[0]:
            return ZipQuestion(False, "listing call: the listing facility answers whatever the ZIP")
    offering = directory.offering.get(key, 0)
    if offering == 0:
        return ZipQuestion(False, f"no facility offers {words}: a ZIP cannot change that")
    if not location.state:
        finer = directory.not_nationwide.get(key, 0)
        if finer:
            return ZipQuestion(
                True, f"location unknown; {finer} facilities offering {words} serve less than every state"
            )
        return ZipQuestion(False, f"location unknown, but every facility offering {words} serves every state")
    finer = directory.finer_in_state.get((location.state, key), 0)
    if finer:
        return ZipQuestion(
            True, f"{finer} facilities offering {words} serve parts of {location.state} (ZIP, prefix or radius)"
        )
    if state_decision_empty is None:
        pool = directory.area_facility_ids(location, key)
        state_decision_empty = not any(not facility_check(directory.static[fid], request, clock)[0] for fid in pool)
        if state_decision_empty and len(pool) >= offering:
            return ZipQuestion(False, f"nobody can take {words} now, in {location.state} or elsewhere")
    if state_decision_empty:
        return ZipQuestion(True, f"nobody in {location.state} can take {words} now without a ZIP")
    return ZipQuestion(False, f"only state-wide areas in {location.state} for {words}: a ZIP cannot change who answers")
