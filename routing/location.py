"""Resolve a caller's location: given ZIP, Twilio FromZip/FromState, caller-ID area code.

Contract: ``resolve_location(*, given_zip="", twilio_zip="", twilio_state="",
caller_number="") -> engine.Location``; ``normalise_zip(raw) -> str | None``.

Order of trust: a ZIP the caller gave (keypad, form) > Twilio's ``FromZip`` /
``FromState`` > the caller-ID area code. Everything is offline (the ``zipcodes``
data and phonenumbers' geocoder): the call path never waits on a network.

Precision: a location places the caller to a ZIP (typed, or Twilio's
``FromZip``), to a state (``FromState``, or the area code) or nowhere
(``Location.precision``). Whether a state-level caller is asked for a ZIP is
decided in ``routing.zip_question``. The phonenumbers geocoder's place of a
caller ID ("Chicago, IL") is kept as ``Location.hint`` for staff: an
approximate hint, never an area.

Never a wrong place: toll-free, withheld, foreign, non-geographic or unknown
numbers resolve to source "unknown"; an unknown ZIP is reported in
``Location.problem`` and the next source is tried, it is never guessed. The
label is a human area for whispers and reports ("Austin, TX", "area code
512, TX"), never the number itself.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import phonenumbers
import zipcodes
from phonenumbers import PhoneNumberType, geocoder

from routing.engine import NATIONWIDE, Location

# Routable states: the 50 states, DC and Puerto Rico (military and other
# territories' ZIPs are real but no partner serves them).
ROUTABLE_STATES: frozenset[str] = NATIONWIDE | {"PR"}

STATE_NAMES: dict[str, str] = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "Washington D.C.": "DC", "District of Columbia": "DC", "Florida": "FL",
    "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
    "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Puerto Rico": "PR",
}  # fmt: skip

# Area code -> state, derived offline from the ``zipcodes`` data (the state
# holding at least 80% of the ZIPs that use the area code; codes phonenumbers
# places outside the US/PR dropped). Used only when phonenumbers' geocoder has
# no description for a number.
AREA_CODE_STATES: dict[str, str] = {
    "201": "NJ", "202": "DC", "203": "CT", "205": "AL", "206": "WA", "207": "ME", "208": "ID", "209": "CA",
    "210": "TX", "212": "NY", "213": "CA", "214": "TX", "215": "PA", "216": "OH", "217": "IL", "218": "MN",
    "219": "IN", "220": "OH", "223": "PA", "224": "IL", "225": "LA", "228": "MS", "229": "GA", "231": "MI",
    "234": "OH", "239": "FL", "240": "MD", "248": "MI", "251": "AL", "252": "NC", "253": "WA", "254": "TX",
    "256": "AL", "260": "IN", "262": "WI", "267": "PA", "269": "MI", "270": "KY", "272": "PA", "279": "CA",
    "281": "TX", "283": "OH", "303": "CO", "304": "WV", "305": "FL", "307": "WY", "308": "NE", "309": "IL",
    "310": "CA", "312": "IL", "313": "MI", "314": "MO", "315": "NY", "316": "KS", "317": "IN", "318": "LA",
    "319": "IA", "320": "MN", "321": "FL", "323": "CA", "325": "TX", "326": "OH", "330": "OH", "331": "IL",
    "332": "NY", "334": "AL", "336": "NC", "337": "LA", "339": "MA", "341": "CA", "346": "TX", "347": "NY",
    "350": "CA", "351": "MA", "352": "FL", "360": "WA", "361": "TX", "363": "NY", "364": "KY", "380": "OH",
    "385": "UT", "386": "FL", "402": "NE", "404": "GA", "405": "OK", "406": "MT", "407": "FL", "408": "CA",
    "409": "TX", "410": "MD", "412": "PA", "413": "MA", "414": "WI", "415": "CA", "417": "MO", "419": "OH",
    "423": "TN", "424": "CA", "425": "WA", "430": "TX", "432": "TX", "434": "VA", "435": "UT", "440": "OH",
    "442": "CA", "443": "MD", "445": "PA", "447": "IL", "448": "FL", "458": "OR", "463": "IN", "464": "IL",
    "469": "TX", "470": "GA", "472": "NC", "475": "CT", "478": "GA", "479": "AR", "480": "AZ", "484": "PA",
    "501": "AR", "502": "KY", "503": "OR", "504": "LA", "505": "NM", "507": "MN", "508": "MA", "509": "WA",
    "510": "CA", "512": "TX", "513": "OH", "515": "IA", "516": "NY", "517": "MI", "518": "NY", "520": "AZ",
    "530": "CA", "531": "NE", "534": "WI", "539": "OK", "540": "VA", "541": "OR", "551": "NJ", "557": "MO",
    "559": "CA", "561": "FL", "562": "CA", "563": "IA", "564": "WA", "567": "OH", "570": "PA", "571": "VA",
    "572": "OK", "573": "MO", "574": "IN", "575": "NM", "580": "OK", "582": "PA", "585": "NY", "586": "MI",
    "601": "MS", "602": "AZ", "603": "NH", "605": "SD", "606": "KY", "607": "NY", "608": "WI", "609": "NJ",
    "610": "PA", "612": "MN", "614": "OH", "615": "TN", "616": "MI", "617": "MA", "618": "IL", "619": "CA",
    "620": "KS", "623": "AZ", "626": "CA", "628": "CA", "629": "TN", "630": "IL", "631": "NY", "636": "MO",
    "640": "NJ", "641": "IA", "646": "NY", "650": "CA", "651": "MN", "656": "FL", "657": "CA", "659": "AL",
    "660": "MO", "661": "CA", "662": "MS", "667": "MD", "669": "CA", "678": "GA", "680": "NY", "681": "WV",
    "682": "TX", "689": "FL", "701": "ND", "702": "NV", "703": "VA", "704": "NC", "706": "GA", "707": "CA",
    "708": "IL", "712": "IA", "713": "TX", "714": "CA", "715": "WI", "716": "NY", "717": "PA", "718": "NY",
    "719": "CO", "720": "CO", "724": "PA", "725": "NV", "726": "TX", "727": "FL", "731": "TN", "732": "NJ",
    "734": "MI", "737": "TX", "740": "OH", "743": "NC", "747": "CA", "754": "FL", "757": "VA", "760": "CA",
    "762": "GA", "763": "MN", "765": "IN", "769": "MS", "770": "GA", "771": "DC", "772": "FL", "773": "IL",
    "774": "MA", "775": "NV", "779": "IL", "781": "MA", "785": "KS", "786": "FL", "787": "PR", "801": "UT",
    "802": "VT", "803": "SC", "804": "VA", "805": "CA", "806": "TX", "808": "HI", "810": "MI", "812": "IN",
    "813": "FL", "814": "PA", "815": "IL", "816": "MO", "817": "TX", "818": "CA", "820": "CA", "826": "VA",
    "828": "NC", "830": "TX", "831": "CA", "832": "TX", "835": "PA", "838": "NY", "839": "SC", "840": "CA",
    "843": "SC", "845": "NY", "847": "IL", "848": "NJ", "850": "FL", "854": "SC", "856": "NJ", "857": "MA",
    "858": "CA", "859": "KY", "860": "CT", "862": "NJ", "863": "FL", "864": "SC", "865": "TN", "870": "AR",
    "872": "IL", "878": "PA", "901": "TN", "903": "TX", "904": "FL", "906": "MI", "907": "AK", "908": "NJ",
    "909": "CA", "910": "NC", "912": "GA", "913": "KS", "914": "NY", "915": "TX", "916": "CA", "917": "NY",
    "918": "OK", "919": "NC", "920": "WI", "925": "CA", "928": "AZ", "929": "NY", "930": "IN", "931": "TN",
    "934": "NY", "936": "TX", "937": "OH", "938": "AL", "939": "PR", "940": "TX", "941": "FL", "943": "GA",
    "945": "TX", "947": "MI", "948": "VA", "949": "CA", "951": "CA", "952": "MN", "954": "FL", "956": "TX",
    "959": "CT", "970": "CO", "971": "OR", "972": "TX", "973": "NJ", "978": "MA", "979": "TX", "980": "NC",
    "983": "CO", "984": "NC", "985": "LA", "989": "MI",
}  # fmt: skip

# What carriers and Twilio send for a hidden caller ID.
WITHHELD = frozenset({"", "anonymous", "restricted", "unknown", "private", "blocked", "unavailable", "+266696687",
                      "266696687", "+7378742833", "+2562533", "+8656696"})  # fmt: skip

_ZIP_RE = re.compile(r"^(\d{4,5})(?:-(\d{4}))?$|^(\d{5})(\d{4})$")
_STATE_SUFFIX_RE = re.compile(r",\s*([A-Z]{2})$")


def normalise_zip(raw: object) -> str | None:
    """The 5-digit ZIP in ``raw``, or None when it is not a ZIP at all.

    Accepts "78701", " 787 01 ", "78701-1234", "787011234" (ZIP+4 is cut to
    the ZIP) and restores the leading zero a number conversion drops
    ("2134" or 2134 -> "02134", "2134-0001" -> "02134"; an int keeps every
    dropped zero: 501 -> "00501"). Whether the ZIP exists is a separate
    question (``zip_info``).
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        if 0 < raw <= 99999:
            return f"{raw:05d}"
        if 99999 < raw <= 999_999_999:
            return f"{raw:09d}"[:5]
        return None
    if not isinstance(raw, str):
        return None
    text = "".join(raw.split())  # spaces anywhere (keypad echo, copy-paste)
    if not text.isascii():
        return None
    m = _ZIP_RE.match(text)
    if m is None:
        return None
    base = m.group(1) or m.group(3)
    return base.zfill(5)


def _coordinates(row: dict[str, Any]) -> tuple[float, float] | None:
    """A ``zipcodes`` row's (latitude, longitude); None when it has none (missing, not a number, or 0, 0)."""
    try:
        lat, lon = float(row["lat"]), float(row["long"])
    except (KeyError, TypeError, ValueError):
        return None
    return None if lat == 0 and lon == 0 else (lat, lon)


@functools.lru_cache(maxsize=4096)
def zip_info(zip_code: str) -> tuple[str, str, float, float] | None:
    """(city, state, latitude, longitude) of a 5-digit ZIP in a routable state, or None."""
    if len(zip_code) != 5 or not zip_code.isdigit():
        return None
    try:
        rows = zipcodes.matching(zip_code)
    except (TypeError, ValueError):
        return None
    for row in rows:
        state = row.get("state", "")
        if state not in ROUTABLE_STATES or (point := _coordinates(row)) is None:
            continue
        return str(row.get("city", "")).title(), state, *point
    return None


def _zip_location(zip_code: str, source: str, problem: str = "") -> Location | None:
    info = zip_info(zip_code)
    if info is None:
        return None
    city, state, lat, lon = info
    label = f"{city}, {state}" if city else f"ZIP {zip_code}, {state}"
    return Location(
        zip_code=zip_code, state=state, latitude=lat, longitude=lon, source=source, label=label, problem=problem
    )


@functools.lru_cache(maxsize=4096)
def approximate_place(caller_number: str) -> str:
    """The geocoder's city for a US/PR geographic caller ID ("Chicago, IL"), or "".

    Approximate by nature (a mobile number keeps its place when its owner
    moves): shown to staff as a hint, never used to route.
    """
    if area_code_state(caller_number) is None:
        return ""
    try:
        number = phonenumbers.parse((caller_number or "").strip(), "US")
    except phonenumbers.NumberParseException:
        return ""
    description = geocoder.description_for_number(number, "en")
    return description if _STATE_SUFFIX_RE.search(description) else ""


Places = frozenset[str]  # states ("IL") and area codes ("a312") a ZIP, prefix or 1° cell holds


@functools.lru_cache(maxsize=1)
def zip_tables() -> tuple[dict[str, Places], dict[str, Places], dict[tuple[int, int], Places]]:
    """(ZIP, 3-digit prefix, 1° lat/lon cell) -> the states and area codes ("a312") of their routable ZIPs.

    Built once per process from the ``zipcodes`` data, for the directory
    compile (``routing.selectors``): which states and area codes a ZIP-list,
    prefix or radius area touches, without a lookup per ZIP.
    """
    by_zip: dict[str, set[str]] = {}
    by_prefix: dict[str, set[str]] = {}
    by_cell: dict[tuple[int, int], set[str]] = {}
    for row in zipcodes.list_all():
        state = row.get("state", "")
        code = str(row.get("zip_code", ""))
        if state not in ROUTABLE_STATES or len(code) != 5:
            continue
        places = {state, *(f"a{ac}" for ac in row.get("area_codes") or ())}
        by_zip.setdefault(code, set()).update(places)
        by_prefix.setdefault(code[:3], set()).update(places)
        if (point := _coordinates(row)) is not None:
            by_cell.setdefault((math.floor(point[0]), math.floor(point[1])), set()).update(places)
    return (
        {k: frozenset(v) for k, v in by_zip.items()},
        {k: frozenset(v) for k, v in by_prefix.items()},
        {k: frozenset(v) for k, v in by_cell.items()},
    )


@functools.lru_cache(maxsize=1)
def residential_zips() -> dict[str, tuple[tuple[str, str, float, float], ...]]:
    """Place ("IL", or "a312" for an area code) -> its active STANDARD ZIPs as (ZIP, state, latitude, longitude).

    Where people live and call from (not PO boxes, single-firm or military ZIPs):
    ``routing.zip_question`` weighs how many of a place's ZIPs a question could
    change. Built once per process from the ``zipcodes`` data.
    """
    out: dict[str, list[tuple[str, str, float, float]]] = {}
    for row in zipcodes.list_all():
        state = row.get("state", "")
        code = str(row.get("zip_code", ""))
        if state not in ROUTABLE_STATES or len(code) != 5 or row.get("zip_code_type") != "STANDARD":
            continue
        if not row.get("active") or (point := _coordinates(row)) is None:
            continue
        entry = (code, state, *point)
        for place in {state, *(f"a{ac}" for ac in row.get("area_codes") or ())}:
            out.setdefault(place, []).append(entry)
    return {place: tuple(entries) for place, entries in out.items()}


def area_code_state(caller_number: str) -> tuple[str, str] | None:
    """(area code, state) of a US/PR geographic caller ID, or None.

    Toll-free, premium, personal and other non-geographic numbers, foreign
    numbers and anything unparseable give None: they say nothing about where
    the caller is.
    """
    raw = (caller_number or "").strip()
    if raw.lower() in WITHHELD or raw.replace(" ", "") in WITHHELD:
        return None
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 1 or phonenumbers.region_code_for_number(number) not in ("US", "PR"):
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in (
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None  # toll-free, premium rate, personal (5XX), VoIP, UAN ...
    national = str(number.national_number)
    area_code = national[:3]
    description = geocoder.description_for_number(number, "en")
    state = STATE_NAMES.get(description, "")
    if not state:
        m = _STATE_SUFFIX_RE.search(description)
        state = m.group(1) if m else ""
    if not state:
        state = AREA_CODE_STATES.get(area_code, "")
    if state not in ROUTABLE_STATES:
        return None
    return area_code, state


def resolve_location(
    *, given_zip: str = "", twilio_zip: str = "", twilio_state: str = "", caller_number: str = ""
) -> Location:
    """Where the caller is, from the most trusted source that places them.

    A given ZIP that cannot be placed is reported in ``problem`` (so the voice
    flow can say so or ask again) and the lower-trust sources are still tried.
    """
    problems: list[str] = []
    if given_zip and str(given_zip).strip():
        zip_code = normalise_zip(given_zip)
        if zip_code is None:
            problems.append(f"not a ZIP code: {str(given_zip).strip()[:12]!r}")
        else:
            loc = _zip_location(zip_code, "zip")
            if loc is not None:
                return loc
            problems.append(f"unknown ZIP {zip_code}")
    problem = "; ".join(problems)

    if twilio_zip:
        zip_code = normalise_zip(twilio_zip)
        loc = _zip_location(zip_code, "twilio", problem) if zip_code else None
        if loc is not None:
            return loc
    state = (twilio_state or "").strip().upper()

    hint = approximate_place(caller_number) if caller_number else ""
    if state in ROUTABLE_STATES:
        return Location(state=state, source="twilio", label=state, problem=problem, hint=hint)

    placed = area_code_state(caller_number)
    if placed is not None:
        area_code, state = placed
        return Location(
            state=state, source="area_code", label=f"area code {area_code}, {state}", problem=problem, hint=hint
        )

    return Location(source="unknown", label="unknown location", problem=problem)
