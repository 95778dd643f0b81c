"""The medical safety rules of docs/content-guidelines.md, as checks the loader and the tests share.

Each check returns plain problems ("field: what is wrong"); an empty list means the guide follows the rules.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from helpline.site.guides.rendering import HEADINGS, split_sections, word_count

# Publishers' own sites: FDA, NIH (NIDA, NIAAA, NLM: MedlinePlus, DailyMed, PubMed Central), SAMHSA, CDC.
ALLOWED_SOURCE_DOMAINS = ("fda.gov", "nih.gov", "drugabuse.gov", "medlineplus.gov", "samhsa.gov", "cdc.gov")
# Government web archives, accepted when the archived address is on an allowed domain.
ARCHIVE_HOSTS = ("webarchive.library.unt.edu",)
MIN_SOURCES = 4
ENGLISH_WORDS = (800, 1500)
POISON_CONTROL = "1-800-222-1222"

# "quit cold turkey", "stop suddenly", "stop taking it suddenly": allowed only as a warning in the same sentence.
ABRUPT_RE = re.compile(
    r"cold[ -]turkey|\bstop\w*\s+(?:\w+\s+){0,3}(?:suddenly|abruptly|all at once)"
    r"|\b(?:suddenly|abruptly)\s+stop\w*"
    r"|dejar de golpe|de golpe|repentinamente|bruscamente|de repente",
    re.I,
)
WARNING_RE = re.compile(
    r"\b(?:not|never|don't|do not|can cause|can be|could|may cause|dangerous|life-threatening|seizure|"
    r"without medical|withdrawal|no\b|"
    r"nunca|abstinencia|puede causar|puede ser|peligros|convulsion|sin consejo|sin supervisi)",
    re.I,
)
SEIZURE_RE = re.compile(r"seizure|convulsi", re.I)
LIFE_RE = re.compile(r"life-threatening|potencialmente mortal|vida en peligro|peligro la vida|mortal", re.I)
TAPER_RE = re.compile(r"taper|gradual|reducción gradual|disminu\w* gradual", re.I)
DOCTOR_RE = re.compile(r"doctor|médic|physician", re.I)
DOSING_RE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:mg|milligrams?|miligramos?|mcg|ml)\b|how much is safe", re.I)
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")


def source_domain_allowed(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ARCHIVE_HOSTS:
        archived = re.search(r"https?:/+([^/]+)", parts.path)
        host = archived.group(1).lower() if archived else ""
    return any(host == domain or host.endswith("." + domain) for domain in ALLOWED_SOURCE_DOMAINS)


def _all_text(data: dict) -> str:
    pieces = [str(data.get("summary", "")), str(data.get("body", ""))]
    pieces += [f"{f.get('label', '')}: {f.get('value', '')}." for f in data.get("key_facts") or []]
    pieces += [f"{f.get('q', '')} {f.get('a', '')}" for f in data.get("faq") or []]
    return "\n".join(pieces)


def safety_problems(data: dict) -> list[str]:
    """Problems with a guide's content against the medical safety rules (``data`` as the loader reads it)."""
    problems: list[str] = []
    language = data.get("language", "en")
    text = _all_text(data)
    body = str(data.get("body", ""))

    for sentence in SENTENCE_RE.split(text):
        if ABRUPT_RE.search(sentence) and not WARNING_RE.search(sentence):
            problems.append(f"body: reads as advice to stop suddenly: {sentence.strip()[:120]!r}")
    dosing = DOSING_RE.search(text)
    if dosing:
        problems.append(f"body: no dosing advice or amounts ({dosing.group(0)!r})")

    if data.get("class_group") in ("benzodiazepines", "alcohol"):
        withdrawal = dict(zip(range(6), split_sections(body), strict=False)).get(2, ("", ""))[1]
        if not SEIZURE_RE.search(withdrawal) or not LIFE_RE.search(withdrawal):
            problems.append(
                "body: the withdrawal section must say stopping suddenly can cause seizures and be life-threatening"
            )
        if not (
            TAPER_RE.search(withdrawal) or re.search(r"detox|supervised|desintoxicaci|supervisi", withdrawal, re.I)
        ) or not DOCTOR_RE.search(withdrawal):
            problems.append(
                "body: the withdrawal section must say to talk to a doctor about tapering or supervised detox"
            )

    sections = split_sections(body)
    expected = HEADINGS.get(language, HEADINGS["en"])
    headings = tuple(heading for heading, _ in sections)
    if headings != expected:
        problems.append(f"body: sections must be exactly {list(expected)} in this order (found {list(headings)})")
    else:
        overdose = sections[3][1]
        first = overdose.lstrip().splitlines()[0] if overdose.strip() else ""
        if not (first.startswith(">") and "911" in first):
            problems.append("body: the overdose section must begin with a blockquote telling to call 911 first")
        positions = [overdose.find(x) for x in ("911", POISON_CONTROL, "988")]
        if -1 in positions or positions != sorted(positions):
            problems.append(
                f"body: the overdose section must give 911 first, then Poison Control {POISON_CONTROL}, then 988"
            )

    sources = data.get("sources") or []
    if len(sources) < MIN_SOURCES:
        problems.append(f"sources: at least {MIN_SOURCES} sources (found {len(sources)})")
    for index, source in enumerate(sources):
        if not source_domain_allowed(str(source.get("url", ""))):
            url = source.get("url")
            problems.append(
                f"sources[{index}].url: not an allowed publisher (FDA, NIH, SAMHSA, MedlinePlus, CDC): {url}"
            )

    if language == "en":
        words = word_count(body)
        low, high = ENGLISH_WORDS
        if not low <= words <= high:
            problems.append(f"body: {words} words; an English guide has {low}-{high}")
    return problems
