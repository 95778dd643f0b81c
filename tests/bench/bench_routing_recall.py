"""Benchmark: does every caller reach a partner that serves them? Routing recall through the real voice views.

Run either way (SQLite in memory by default; PostgreSQL with DATABASE_URL, a
throwaway database ``<name>_bench`` is created and dropped):

    .venv/bin/python tests/bench/bench_routing_recall.py
    .venv/bin/pytest -m bench tests/bench/bench_routing_recall.py -s

The file name does not match ``test_*.py``, so ``pytest tests`` never runs it.
``BENCH_CALLERS`` (default 5,000) and ``BENCH_FACILITIES`` (default 1,000) change the size.

The directory is ``bench_routing.seed_directory``'s: facilities at real ZIPs
weighted like the ZIP map, with radius, ZIP-prefix, state, ZIP-list and
combined areas, chains, caps, opening hours in the facility's own time zone
and closed dates. Each synthetic caller stands at a real ZIP (its true ZIP),
wants one of the menu's services, and has one caller-ID situation:

- landline with ``FromZip`` (and ``FromState``), 30%;
- mobile with only ``FromState``, 35%;
- area code only (no FromZip/FromState), 25%;
- toll-free, withheld or foreign caller ID, 10%.

Every call is played through the voice views with signed requests (the
``twilio`` RequestValidator, the Django test client), following the TwiML it
gets: the caller takes the service menu, and types the true ZIP when asked.
At the first ``<Dial>`` the caller hangs up (the leg is released, so
concurrent caps do not pile up; daily and monthly counts stay, as they would).

The oracle is the pure engine (``routing.engine``) given the true ZIP, on the
same directory and live partner state just before the call. Printed:

- recall: of callers for whom the oracle finds an eligible facility, the share
  whose first dial is one of the oracle's eligible facilities (target >= 99%);
- out of area: first dials to a facility whose area does not hold the true ZIP
  (target 0);
- asked: the share of calls asked for a ZIP, and asked needlessly (the pure
  engine with the location known before the question, at the same rotation
  key, would have made the same first dial), target < 10% of calls;
- missed (for information): callers below ZIP precision not asked whose first
  dial the ZIP would have changed (still served: a state-wide partner).

Geographic callers' numbers carry an area code of their own ZIP four times in
five, another area code of their state otherwise (moved, a work phone).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.bench_routing import NOW, _zip_pool, seed_directory, wipe_directory  # noqa: E402

CALLERS = int(os.environ.get("BENCH_CALLERS", "5000"))
FACILITIES = int(os.environ.get("BENCH_FACILITIES", "1000"))
MENU_SERVICES = ["detox", "residential", "outpatient", "mat", "unsure"]
SITUATIONS = (("landline", 0.30), ("mobile", 0.35), ("area_code", 0.25), ("no_place", 0.10))
NO_PLACE_NUMBERS = ("+18005550100", "anonymous", "+266696687", "+442071838750", "+18885550177", "+525512345678")
HELPLINE = "+18885550100"
MOVED_SHARE = 0.8  # share of geographic callers whose area code is one of their own ZIP's


def _area_codes_by_state() -> dict[str, list[str]]:
    from routing.location import AREA_CODE_STATES

    out: dict[str, list[str]] = {}
    for code, state in AREA_CODE_STATES.items():
        out.setdefault(state, []).append(code)
    return out


def caller_number(z: dict[str, Any], rng: random.Random, codes: dict[str, list[str]]) -> str:
    """A geographic number of the ZIP's state, 555-01XX style: usually an area code of the ZIP itself,
    one time in five another area code of the state (the caller moved, or uses a work phone)."""
    from routing.location import area_code_state

    state = z["state"]
    options = list(codes.get(state, []))
    rng.shuffle(options)
    own = [ac for ac in z.get("area_codes") or () if ac in options]
    if own and rng.random() < MOVED_SHARE:
        options = own + options
    for code in options:
        number = f"+1{code}555{rng.randint(100, 199):04d}"
        placed = area_code_state(number)
        if placed is not None and placed[1] == state:
            return number
    return f"+1{options[0]}5550100" if options else "anonymous"


def make_callers(rng: random.Random, pool: list[dict[str, Any]]) -> list[dict[str, str]]:
    codes = _area_codes_by_state()
    callers = []
    for _ in range(CALLERS):
        z = rng.choice(pool)
        roll, acc, situation = rng.random(), 0.0, SITUATIONS[-1][0]
        for name, share in SITUATIONS:
            acc += share
            if roll < acc:
                situation = name
                break
        caller = {"zip": z["zip_code"], "state": z["state"], "service": rng.choice(MENU_SERVICES)}
        caller["situation"] = situation
        if situation == "no_place":
            caller["from"] = rng.choice(NO_PLACE_NUMBERS)
        else:
            caller["from"] = caller_number(z, rng, codes)
        callers.append(caller)
    return callers


class SignedCaller:
    """One call through the voice views, signed as Twilio signs, following the TwiML."""

    def __init__(self, client: Any, caller: dict[str, str], service_keys: dict[str, str]) -> None:
        from tests.helpline.voice_support import new_sid

        self.client = client
        self.caller = caller
        self.keys = service_keys
        self.sid = new_sid()
        self.asked = False
        self.first_dial: str | None = None  # the partner number, or "" for the fallback/crisis line
        self.params = {
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "From": caller["from"],
            "Caller": caller["from"],
            "To": HELPLINE,
            "Called": HELPLINE,
            "FromCountry": "US",
        }
        if caller["situation"] == "landline":
            self.params.update(FromZip=caller["zip"], CallerZip=caller["zip"])
        if caller["situation"] in ("landline", "mobile"):
            self.params.update(FromState=caller["state"], CallerState=caller["state"])

    def post_raw(self, url: str, extra: dict[str, str] | None = None) -> Any:
        from tests.helpline.voice_support import post

        return post(self.client, url, {**self.params, **(extra or {})})

    def post(self, url: str, extra: dict[str, str] | None = None) -> Any:
        from defusedxml import ElementTree as SafeET

        response = self.post_raw(url, extra)
        assert response.status_code == 200, (url, response.status_code)
        root = SafeET.fromstring(response.content)
        assert root.tag == "Response", url
        return root

    def run(self) -> None:
        root = self.post("/twilio/voice/incoming", {"CallStatus": "ringing"})
        for _ in range(10):
            number = root.find("Dial/Number")
            if number is not None:
                self.first_dial = (number.text or "").strip()
                action = root.find("Dial").get("action")
                self.post(action, {"CallStatus": "completed", "DialCallStatus": "canceled"})
                return
            if root.find("Dial") is not None:
                self.first_dial = ""
                status = self.post_raw("/twilio/voice/status", {"CallStatus": "completed", "CallDuration": "30"})
                assert status.status_code == 204, status.status_code
                return
            gather = root.find("Gather")
            if gather is None:
                redirect = root.find("Redirect")
                assert redirect is not None and redirect.text
                root = self.post(redirect.text)
                continue
            action = gather.get("action") or ""
            path = urlsplit(action).path
            if path.endswith("/voice/zip"):
                self.asked = True
                root = self.post(action, {"Digits": self.caller["zip"], "FinishedOnKey": ""})
            elif path.endswith("/voice/service"):
                root = self.post(action, {"Digits": self.keys[self.caller["service"]]})
            else:  # the greeting: English
                root = self.post(action, {"Digits": self.keys.get("greeting", "1")})
        raise AssertionError(f"no <Dial> after 10 steps for {self.caller}")


def oracle(caller: dict[str, str]) -> tuple[set[int], Any]:
    """Facilities eligible for the caller at the true ZIP (the pure engine's rules), and that location."""
    from routing import selectors
    from routing.engine import LocalClock, RouteRequest, facility_check, partner_problem
    from routing.location import resolve_location

    location = resolve_location(given_zip=caller["zip"])
    request = RouteRequest(service=caller["service"], location=location)
    clock = LocalClock(NOW)
    eligible = set()
    for c in selectors.candidates_for(location=location, now=NOW, service=caller["service"]):
        if not facility_check(c, request, clock)[0] and not partner_problem(c):
            eligible.add(c.facility_id)
    return eligible, location


def first_dial_without_zip(call: Any, caller: dict[str, str]) -> int | None:
    """The pure engine's first choice with the location known before the ZIP question, at the same rotation key."""
    from django.conf import settings

    from routing import selectors
    from routing.engine import RouteRequest, decide
    from routing.location import resolve_location

    p = {"landline": (caller["zip"], caller["state"]), "mobile": ("", caller["state"])}.get(
        caller["situation"], ("", "")
    )
    location = resolve_location(twilio_zip=p[0], twilio_state=p[1], caller_number=caller["from"])
    decision_row = call.routing_decision
    request = RouteRequest(
        service=caller["service"],
        location=location,
        rotation_key=decision_row.rotation_key if decision_row is not None else 1,
        max_choices=max(1, settings.DIAL_MAX_ATTEMPTS + 2),
    )
    candidates = selectors.candidates_for(location=location, now=NOW, service=caller["service"])
    decision = decide(request, candidates, NOW, fallback="")
    return decision.choices[0].facility_id if decision.choices else None


def oracle_first(call: Any, caller: dict[str, str]) -> int | None:
    """The pure engine's first choice at the true ZIP, at the rotation key the call was routed with."""
    from django.conf import settings

    from routing import selectors
    from routing.engine import RouteRequest, decide
    from routing.location import resolve_location

    location = resolve_location(given_zip=caller["zip"])
    decision_row = call.routing_decision
    request = RouteRequest(
        service=caller["service"],
        location=location,
        rotation_key=decision_row.rotation_key if decision_row is not None else 1,
        max_choices=max(1, settings.DIAL_MAX_ATTEMPTS + 2),
    )
    candidates = selectors.candidates_for(location=location, now=NOW, service=caller["service"])
    decision = decide(request, candidates, NOW, fallback="")
    return decision.choices[0].facility_id if decision.choices else None


def run() -> dict[str, Any]:
    import time_machine
    from django.test import Client

    from helpline.models import Call, HelplineNumber
    from helpline.voice import inbound
    from partners.models import Facility
    from routing import selectors
    from routing.engine import area_match
    from routing.services import bump_directory_version

    rng = random.Random(20261201)  # noqa: S311 - reproducible data, not security
    pool = _zip_pool()
    wipe_directory()
    seed_directory(FACILITIES, rng, pool)
    HelplineNumber.objects.get_or_create(number=HELPLINE, defaults={"kind": HelplineNumber.Kind.GENERAL})
    bump_directory_version()
    selectors.directory_cache.clear()
    by_phone = {str(phone): fid for fid, phone in Facility.objects.values_list("id", "phone")}
    keys = {code: digit for digit, code in inbound.SERVICE_DIGITS.items()}
    callers = make_callers(rng, pool)
    client = Client()
    stats: Counter[str] = Counter()
    per_situation: dict[str, Counter[str]] = {name: Counter() for name, _ in SITUATIONS}
    started = time.perf_counter()
    with time_machine.travel(NOW, tick=False):
        directory = selectors.compiled_directory(now=NOW)
        for caller in callers:
            eligible, true_location = oracle(caller)
            sim = SignedCaller(client, caller, keys)
            sim.run()
            call = Call.objects.select_related("routing_decision").get(call_sid=sim.sid)
            dialed = by_phone.get(sim.first_dial or "")
            s = per_situation[caller["situation"]]
            for counter in (stats, s):
                counter["calls"] += 1
                counter["asked"] += sim.asked
                if eligible:
                    counter["servable"] += 1
                    counter["recalled"] += dialed in eligible
                if dialed is not None:
                    counter["dialed"] += 1
                    if area_match(directory.static[dialed], true_location) is None:
                        counter["out_of_area"] += 1
            if sim.asked and first_dial_without_zip(call, caller) == dialed:
                stats["needless"] += 1
                s["needless"] += 1
            elif not sim.asked and caller["situation"] != "landline" and dialed != oracle_first(call, caller):
                stats["missed"] += 1
                s["missed"] += 1
            if stats["calls"] % 500 == 0:
                print(
                    f"  {stats['calls']} callers: recall {stats['recalled']}/{stats['servable']}, out of area "
                    f"{stats['out_of_area']}, asked {stats['asked']}, needless {stats['needless']}",
                    flush=True,
                )
    elapsed = time.perf_counter() - started  # the throwaway database (or the test's flush) clears the rows

    def share(n: int, d: int) -> str:
        return f"{n / d:.1%}" if d else "n/a"

    print()
    print(
        f"routing recall through the voice views: {len(directory.facilities):,} facilities, {stats['calls']:,} "
        f"callers ({elapsed:.0f} s, load average {Path('/proc/loadavg').read_text().split()[0]})"
    )
    print(
        f"{'caller ID':<12} {'calls':>6} {'servable':>9} {'recall':>8} {'out of area':>12} {'asked':>7} "
        f"{'needless':>9} {'missed':>7}"
    )
    for name, s in [*per_situation.items(), ("all", stats)]:
        print(
            f"{name:<12} {s['calls']:>6} {s['servable']:>9} {share(s['recalled'], s['servable']):>8} "
            f"{s['out_of_area']:>12} {share(s['asked'], s['calls']):>7} {share(s['needless'], s['calls']):>9} "
            f"{share(s['missed'], s['calls']):>7}"
        )
    result = {
        "recall": stats["recalled"] / stats["servable"] if stats["servable"] else 1.0,
        "out_of_area": stats["out_of_area"],
        "asked": stats["asked"] / stats["calls"],
        "needless": stats["needless"] / stats["calls"],
    }
    result["needless_of_asked"] = stats["needless"] / stats["asked"] if stats["asked"] else 0.0
    print(
        f"recall {result['recall']:.2%} (target >= 99%), out of area {result['out_of_area']} (target 0), "
        f"asked {result['asked']:.1%}, needlessly {result['needless']:.1%} of calls (target < 10%), "
        f"{result['needless_of_asked']:.1%} of those asked"
    )
    return result


def _setup_django_with_bench_database() -> Any:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django
    from django.conf import settings

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.db import connection

    if connection.vendor == "postgresql":
        settings.DATABASES["default"]["TEST"]["NAME"] = f"{settings.DATABASES['default']['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return connection, old_name


@pytest.mark.bench
@pytest.mark.django_db(transaction=True)
def test_every_caller_reaches_a_partner_that_serves_them():
    result = run()
    assert result["recall"] >= 0.99
    assert result["out_of_area"] == 0
    assert result["needless"] < 0.10


if __name__ == "__main__":
    conn, old = _setup_django_with_bench_database()
    try:
        run()
    finally:
        conn.creation.destroy_test_db(old, verbosity=0)
