"""The one vocabulary of Clearline: service codes and their labels, languages, US states.

Every label of a service, written or spoken, English or Spanish, lives in
``SERVICES``; the site, the IVR, the callback flow, texts, the admin and the
portal all read it from here. The codes are a contract with partners' import
files and the API (see docs/architecture.md), so they never change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    """One kind of care. ``written`` is for pages and forms; ``spoken`` for the IVR and whispers;
    ``spoken_full`` for the bridged callback and texts (it says "medical detox")."""

    code: str
    written: dict[str, str]
    spoken: dict[str, str]
    spoken_full: dict[str, str]


SERVICES: tuple[Service, ...] = (
    Service(
        "detox",
        {"en": "Medical detox", "es": "Desintoxicación médica"},
        {"en": "detox", "es": "desintoxicación"},
        {"en": "medical detox", "es": "desintoxicación médica"},
    ),
    Service(
        "residential",
        {"en": "Residential treatment", "es": "Tratamiento residencial"},
        {"en": "residential treatment", "es": "tratamiento residencial"},
        {"en": "residential treatment", "es": "tratamiento residencial"},
    ),
    Service(
        "outpatient",
        {"en": "Outpatient", "es": "Tratamiento ambulatorio"},
        {"en": "outpatient treatment", "es": "tratamiento ambulatorio"},
        {"en": "outpatient treatment", "es": "tratamiento ambulatorio"},
    ),
    Service(
        "iop",
        {"en": "Intensive outpatient (IOP)", "es": "Tratamiento ambulatorio intensivo (IOP)"},
        {"en": "intensive outpatient treatment", "es": "tratamiento ambulatorio intensivo"},
        {"en": "intensive outpatient treatment", "es": "tratamiento ambulatorio intensivo"},
    ),
    Service(
        "php",
        {"en": "Partial hospitalization (PHP)", "es": "Hospitalización parcial (PHP)"},
        {"en": "partial hospitalization", "es": "hospitalización parcial"},
        {"en": "partial hospitalization", "es": "hospitalización parcial"},
    ),
    Service(
        "mat",
        {"en": "Medication-assisted treatment (MAT)", "es": "Tratamiento asistido con medicamentos (MAT)"},
        {"en": "medication-assisted treatment", "es": "tratamiento asistido con medicamentos"},
        {"en": "medication-assisted treatment", "es": "tratamiento asistido con medicamentos"},
    ),
    Service(
        "dual_diagnosis",
        {"en": "Dual diagnosis", "es": "Diagnóstico dual"},
        {"en": "dual diagnosis treatment", "es": "tratamiento de diagnóstico dual"},
        {"en": "dual diagnosis treatment", "es": "tratamiento de diagnóstico dual"},
    ),
)
# "Not sure" is a caller's answer, not a service a facility offers.
UNSURE = Service(
    "unsure",
    {"en": "Not sure", "es": "No estoy seguro"},
    {"en": "help choosing a treatment", "es": "ayuda para elegir un tratamiento"},
    {"en": "treatment options", "es": "opciones de tratamiento"},
)

SERVICE_CHOICES: list[tuple[str, str]] = [(s.code, s.written["en"]) for s in SERVICES]
SERVICE_CODES: list[str] = [s.code for s in SERVICES]
_BY_CODE = {s.code: s for s in (*SERVICES, UNSURE)}

LANGUAGES = ("en", "es")
LANGUAGE_CHOICES = [("en", "English"), ("es", "Spanish")]

US_STATES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR",
]  # fmt: skip


def service(code: str) -> Service | None:
    return _BY_CODE.get(code)


def spoken_label(code: str, *, language: str = "en", full: bool = False, default: str = "treatment") -> str:
    """How the IVR (``full=False``) or the callback flow and texts (``full=True``) say a service."""
    s = _BY_CODE.get(code)
    if s is None:
        return default
    table = s.spoken_full if full else s.spoken
    return table.get(language) or table["en"]


def written_label(code: str, *, language: str = "en") -> str:
    s = _BY_CODE.get(code)
    if s is None:
        return code
    return s.written.get(language) or s.written["en"]


# The IVR's and the callback flow's tables, as they were keyed before (language → code → words).
SPOKEN_SERVICE: dict[str, dict[str, str]] = {
    lang: {s.code: s.spoken[lang] for s in (*SERVICES, UNSURE)} for lang in LANGUAGES
}
SPOKEN_SERVICE_FULL: dict[str, dict[str, str]] = {
    lang: {s.code: s.spoken_full[lang] for s in (*SERVICES, UNSURE)} for lang in LANGUAGES
}


def language_label(code: str) -> str:
    """ "es" → "Spanish"; an empty code is "Any language" (routing's "no preference")."""
    if not code:
        return "Any language"
    return dict(LANGUAGE_CHOICES).get(code, code)


# Where a caller's location came from, as staff read it after the place ("Austin, TX · from …").
LOCATION_SOURCE_WORDS = {
    "zip": "ZIP code the caller gave",
    "twilio": "from the phone network",
    "area_code": "from the caller-ID area code",
    "unknown": "source not recorded",
}


def readable_location(area: str, source: str) -> str:
    """ "Portland, OR" + "unknown" → "Portland, OR (source not recorded)"; nothing known → "Location unknown"."""
    words = LOCATION_SOURCE_WORDS.get(source, source)
    if not area or area == "unknown location":
        return "Location unknown"
    return f"{area} ({words})"


# Time zones as people say them ("Arizona time"), not as the tz database names them.
TIME_ZONE_WORDS: dict[str, str] = {
    "America/New_York": "Eastern time",
    "America/Detroit": "Eastern time",
    "America/Indiana/Indianapolis": "Eastern time",
    "America/Kentucky/Louisville": "Eastern time",
    "America/Chicago": "Central time",
    "America/Indiana/Knox": "Central time",
    "America/Menominee": "Central time",
    "America/Denver": "Mountain time",
    "America/Boise": "Mountain time",
    "America/Phoenix": "Arizona time",
    "America/Los_Angeles": "Pacific time",
    "America/Anchorage": "Alaska time",
    "Pacific/Honolulu": "Hawaii time",
    "America/Puerto_Rico": "Puerto Rico time",
    "UTC": "UTC",
}


def time_zone_words(name: str) -> str:
    """``America/Phoenix`` → ``Arizona time``; an unlisted zone by its city (``Europe/Paris`` → ``Paris time``)."""
    if name in TIME_ZONE_WORDS:
        return TIME_ZONE_WORDS[name]
    city = name.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} time" if city else ""
