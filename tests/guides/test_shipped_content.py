"""Every shipped guide file follows the medical safety rules of docs/content-guidelines.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpline.site.guides.loader import default_directory, parse_file
from helpline.site.guides.rendering import split_sections, word_count
from helpline.site.guides.safety import ABRUPT_RE, ALLOWED_SOURCE_DOMAINS, safety_problems, source_domain_allowed

FILES = sorted(default_directory().glob("*.md"))


def _id(path: Path) -> str:
    return path.name


def test_the_shipped_set_has_eight_english_and_the_three_required_spanish_guides():
    names = {p.name for p in FILES}
    english = {n for n in names if n.endswith(".en.md")}
    assert len(english) >= 8
    assert {"klonopin.es.md", "alcohol.es.md", "opioids.es.md"} <= names
    for spanish in (n for n in names if n.endswith(".es.md")):
        assert spanish.replace(".es.md", ".en.md") in english, f"{spanish} has no English original"


@pytest.mark.django_db
@pytest.mark.parametrize("path", FILES, ids=_id)
def test_file_loads_cleanly_and_follows_the_safety_rules(path):
    values, problems = parse_file(path)
    assert problems == []
    assert safety_problems(values) == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", FILES, ids=_id)
def test_rules_checked_one_by_one(path):
    """The same rules, spelled out, so a failure says which one."""
    values, _ = parse_file(path)
    body = values["body"]
    sections = dict(
        zip(("what", "misuse", "withdrawal", "overdose", "treatment", "families"), split_sections(body), strict=True)
    )

    # No "cold turkey" anywhere, in any sense.
    assert "cold turkey" not in body.lower()
    # Every "stop suddenly" sentence is a warning against it.
    for sentence in re.split(r"(?<=[.!?])\s+", body):
        if ABRUPT_RE.search(sentence):
            assert re.search(
                r"not|never|can cause|can be|dangerous|withdrawal|no |puede|abstinencia", sentence, re.I
            ), sentence

    if values["class_group"] in ("benzodiazepines", "alcohol"):
        withdrawal = sections["withdrawal"][1]
        assert re.search(r"seizure|convulsi", withdrawal, re.I)
        assert re.search(r"life-threatening|vida en peligro|peligro la vida", withdrawal, re.I)
        assert re.search(r"doctor|médico", withdrawal, re.I)
        assert re.search(r"taper|reducción gradual|supervised|supervisión", withdrawal, re.I)

    overdose = sections["overdose"][1]
    assert overdose.lstrip().startswith(">") and "911" in overdose.splitlines()[0]
    assert overdose.index("911") < overdose.index("1-800-222-1222") < overdose.index("988")

    assert len(values["sources"]) >= 4
    for source in values["sources"]:
        assert source_domain_allowed(source["url"]), source["url"]
        assert source["accessed"]
    if values["language"] == "en":
        assert 800 <= word_count(body) <= 1500
    assert not re.search(r"\b\d+\s?mg\b", body), "no dosing amounts"


def test_the_publisher_check_accepts_only_the_allowed_domains():
    assert ALLOWED_SOURCE_DOMAINS
    assert source_domain_allowed("https://www.fda.gov/drugs/x")
    assert source_domain_allowed("https://nida.nih.gov/x")
    assert source_domain_allowed("https://medlineplus.gov/druginfo/x.html")
    assert source_domain_allowed("https://webarchive.library.unt.edu/eot2008/2009/http:/www.nida.nih.gov/x.html")
    assert not source_domain_allowed("https://webarchive.library.unt.edu/eot2008/2009/http:/www.example.com/x")
    assert not source_domain_allowed("https://fda.gov.example.com/x")
    assert not source_domain_allowed("https://www.drugs.com/klonopin.html")
    assert not source_domain_allowed("https://en.wikipedia.org/wiki/Clonazepam")


def test_the_safety_check_catches_advice_to_stop_suddenly():
    values, _ = parse_file(default_directory() / "xanax.en.md")
    values = {**values, "body": values["body"] + "\nIf it bothers you, just quit cold turkey.\n"}
    assert any("stop suddenly" in p for p in safety_problems(values))
    values["body"] = values["body"].replace("just quit cold turkey", "stop taking it suddenly")
    assert any("stop suddenly" in p for p in safety_problems(values))


def test_the_safety_check_requires_seizure_and_taper_words_for_benzodiazepines():
    values, _ = parse_file(default_directory() / "klonopin.en.md")
    withdrawal = split_sections(values["body"])[2][1]
    values = {**values, "body": values["body"].replace(withdrawal, "It is hard to stop. [1]")}
    problems = safety_problems(values)
    assert any("seizures" in p for p in problems)
    assert any("taper" in p for p in problems)
