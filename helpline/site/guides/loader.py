"""Guide files (``content/guides/<slug>.<lang>.md``) into the database.

``load_guides`` validates every file first and names the file and field of
each problem; if any file is wrong nothing is written. A guide is created or
updated by (slug, language). Files carry no reviewer: a new guide starts
``in_review`` and a clinician publishes it in the admin. A guide staff have
edited since the last load is left alone unless ``force``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpline.admission.forms import SUBSTANCE_CHOICES
from helpline.site.guides.models import Guide
from helpline.site.guides.rendering import CITATION_RE
from helpline.site.guides.safety import safety_problems
from helpline.site.service_content import PAGES

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FILE_RE = re.compile(r"^(?P<slug>[a-z0-9-]+)\.(?P<lang>[a-z]{2})\.md$")
CONTENT_FIELDS = (
    "title", "substance", "names", "drug_class", "class_group", "summary", "meta_description",
    "form_substance", "key_facts", "body", "faq", "sources", "services", "related",
)  # fmt: skip
REQUIRED = ("slug", "language", "title", "substance", "drug_class", "class_group", "summary", "meta_description")
FORM_SUBSTANCES = {code for code, _ in SUBSTANCE_CHOICES}


def default_directory() -> Path:
    return Path(getattr(settings, "GUIDES_DIR", settings.BASE_DIR / "content" / "guides"))


class GuideFileError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_staff_edits: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.kept_staff_edits)} kept (edited by staff since the last load; --force overwrites)"
        )
        if self.kept_staff_edits:
            text += ": " + ", ".join(self.kept_staff_edits)
        return text


def content_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps({name: values[name] for name in CONTENT_FIELDS}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _split_front_matter(text: str) -> tuple[str, str]:
    if not text.startswith("---\n"):
        raise ValueError("the file must start with '---' and YAML front matter")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ValueError("the front matter has no closing '---' line")
    return text[4:end], text[end + 5 :]


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value)


def parse_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The guide's field values from one file, and its problems (each ``file: field: what``)."""
    name = path.name
    problems: list[str] = []

    def bad(where: str, what: str) -> None:
        problems.append(f"{name}: {where}: {what}")

    try:
        front, body = _split_front_matter(path.read_text(encoding="utf-8"))
        meta = yaml.safe_load(front)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        bad("front matter", str(exc).replace("\n", " "))
        return {}, problems
    if not isinstance(meta, dict):
        bad("front matter", "must be a YAML mapping")
        return {}, problems

    for key in REQUIRED:
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            bad(key, "required text is missing")
    if problems:
        return {}, problems
    slug, language = meta["slug"], meta["language"]
    named = FILE_RE.match(name)
    if not SLUG_RE.match(slug):
        bad("slug", f"{slug!r} must be lowercase words joined by hyphens")
    if language not in Guide.Language.values:
        bad("language", f"{language!r} must be one of {Guide.Language.values}")
    if named is None or (named["slug"], named["lang"]) != (slug, language):
        bad("slug", f"the file must be named {slug}.{language}.md")
    if meta["class_group"] not in Guide.ClassGroup.values:
        bad("class_group", f"{meta['class_group']!r} must be one of {Guide.ClassGroup.values}")
    if len(meta["meta_description"]) > 155:
        bad("meta_description", f"{len(meta['meta_description'])} characters; at most 155")
    if len(meta["title"]) > 200:
        bad("title", "at most 200 characters")
    form_substance = meta.get("substances_form_value")
    if form_substance not in FORM_SUBSTANCES:
        bad("substances_form_value", f"{form_substance!r} must be one of {sorted(FORM_SUBSTANCES)}")

    names = meta.get("names") or {}
    if not isinstance(names, dict) or set(names) - {"brand", "generic", "street"}:
        bad("names", "a mapping with brand, generic and street lists")
        names = {}
    for kind in ("brand", "generic", "street"):
        names.setdefault(kind, [])
        if names[kind] and not _strings(names[kind]):
            bad(f"names.{kind}", "a list of names")
    services = meta.get("services") or []
    if not _strings(services) or set(services) - set(PAGES):
        bad("services", f"types-of-care codes only: {sorted(PAGES)}")
    related = meta.get("related") or []
    if not _strings(related) or any(not SLUG_RE.match(s) for s in related):
        bad("related", "a list of guide slugs")

    sources = []
    source_ids: set[int] = set()
    for index, source in enumerate(meta.get("sources") or []):
        where = f"sources[{index}]"
        if not isinstance(source, dict):
            bad(where, "must be a mapping")
            continue
        sid = source.get("id")
        if not isinstance(sid, int) or sid in source_ids:
            bad(f"{where}.id", "a unique whole number")
        for key in ("title", "publisher", "url"):
            if not isinstance(source.get(key), str) or not source[key].strip():
                bad(f"{where}.{key}", "required")
        if isinstance(source.get("url"), str) and not re.match(r"^https?://", source["url"]):
            bad(f"{where}.url", "must be an http(s) address")
        accessed = source.get("accessed")
        if not isinstance(accessed, dt.date):
            bad(f"{where}.accessed", "a date like 2026-12-01")
        if isinstance(sid, int):
            source_ids.add(sid)
        sources.append(
            {
                "id": sid,
                "title": str(source.get("title", "")).strip(),
                "publisher": str(source.get("publisher", "")).strip(),
                "url": str(source.get("url", "")).strip(),
                "accessed": accessed.isoformat() if isinstance(accessed, dt.date) else "",
            }
        )

    def check_ids(where: str, ids: Any) -> list[int]:
        ids = ids if isinstance(ids, list) else [ids]
        unknown = [i for i in ids if i not in source_ids]
        if unknown:
            bad(where, f"cites {unknown}, which are not in sources")
        return [i for i in ids if isinstance(i, int)]

    key_facts = []
    for index, fact in enumerate(meta.get("key_facts") or []):
        if not isinstance(fact, dict) or not fact.get("label") or not fact.get("value"):
            bad(f"key_facts[{index}]", "needs a label and a value")
            continue
        ids = check_ids(f"key_facts[{index}].source", fact.get("source"))
        key_facts.append({"label": str(fact["label"]), "value": str(fact["value"]), "source": ids[0] if ids else None})
    if not 3 <= len(key_facts) <= 8:
        bad("key_facts", f"3 to 8 facts (found {len(key_facts)})")
    faq = []
    for index, item in enumerate(meta.get("faq") or []):
        if not isinstance(item, dict) or not item.get("q") or not item.get("a"):
            bad(f"faq[{index}]", "needs q and a")
            continue
        ids = check_ids(f"faq[{index}].sources", item.get("sources") or [])
        faq.append({"q": str(item["q"]).strip(), "a": str(item["a"]).strip(), "sources": ids})
    if not faq:
        bad("faq", "at least one question")
    for match in CITATION_RE.finditer(body):
        for part in match.group(1).split(","):
            if int(part) not in source_ids:
                bad("body", f"cites [{part.strip()}], which is not in sources")

    values: dict[str, Any] = {
        "slug": slug,
        "language": language,
        "title": meta["title"].strip(),
        "substance": meta["substance"].strip(),
        "names": names,
        "drug_class": meta["drug_class"].strip(),
        "class_group": meta["class_group"],
        "summary": " ".join(meta["summary"].split()),
        "meta_description": meta["meta_description"].strip(),
        "form_substance": form_substance or "",
        "key_facts": key_facts,
        "body": body.strip() + "\n",
        "faq": faq,
        "sources": sources,
        "services": services,
        "related": related,
    }
    problems.extend(f"{name}: {problem}" for problem in safety_problems(values))
    return values, problems


def read_directory(directory: Path) -> list[dict[str, Any]]:
    """Every guide file of ``directory``, validated; raises ``GuideFileError`` listing all problems."""
    paths = sorted(p for p in directory.glob("*.md") if p.name.upper() != "README.MD")
    if not paths:
        raise GuideFileError([f"{directory}: no guide files (*.md)"])
    guides, problems = [], []
    for path in paths:
        values, found = parse_file(path)
        problems.extend(found)
        if values:
            guides.append(values)
    keys = {(g["slug"], g["language"]) for g in guides}
    slugs = {g["slug"] for g in guides} | set(Guide.objects.values_list("slug", flat=True))
    for g in guides:
        for other in g["related"]:
            if other not in slugs:
                problems.append(f"{g['slug']}.{g['language']}.md: related: no guide {other!r}")
    if len(keys) != len(guides):
        problems.append(f"{directory}: two files for the same slug and language")
    if problems:
        raise GuideFileError(problems)
    return guides


@transaction.atomic
def load_guides(*, directory: Path | None = None, force: bool = False, by: Any = None) -> LoadReport:
    """Create or update guides from their files, all or nothing (see the module docstring)."""
    guides = read_directory(directory or default_directory())
    report = LoadReport()
    today = timezone.now().date()
    for values in guides:
        key = f"{values['slug']}.{values['language']}"
        file_hash = content_hash(values)
        guide = Guide.objects.select_for_update().filter(slug=values["slug"], language=values["language"]).first()
        if guide is None:
            guide = Guide(
                slug=values["slug"],
                language=values["language"],
                status=Guide.Status.IN_REVIEW,
                last_updated=today,
            )
            _apply(guide, values, file_hash)
            guide._change_reason = "Loaded from file"  # type: ignore[attr-defined]
            guide._history_user = by  # type: ignore[attr-defined]
            guide.save()
            report.created.append(key)
            continue
        current = content_hash({name: getattr(guide, name) for name in CONTENT_FIELDS})
        if current == file_hash:
            report.unchanged.append(key)
            continue
        if current != guide.loaded_hash and not force:
            report.kept_staff_edits.append(key)
            continue
        _apply(guide, values, file_hash)
        guide.last_updated = today
        reason = "Updated from file"
        if guide.status == Guide.Status.PUBLISHED:
            # The page stays up, but the reviewed text changed: it is due for review now (flagged to staff).
            guide.next_review_due = today
            reason += "; due for clinical review"
        guide._change_reason = reason  # type: ignore[attr-defined]
        guide._history_user = by  # type: ignore[attr-defined]
        guide.save()
        report.updated.append(key)
    return report


def _apply(guide: Guide, values: dict[str, Any], file_hash: str) -> None:
    for name in CONTENT_FIELDS:
        setattr(guide, name, values[name])
    guide.loaded_hash = file_hash
