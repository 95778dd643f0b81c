"""Guide Markdown to safe HTML.

markdown-it-py parses (raw HTML in the source is not passed through), inline
``[1]`` citations become links to the sources list, and nh3 sanitises the
result against a short allow-list, so a ``<script>``, an ``onerror=`` or a
``javascript:`` link written into a guide never reaches a page.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

CITATION_RE = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")
WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
WORDS_PER_MINUTE = 200

ALLOWED_TAGS = {
    "p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "a", "blockquote", "sup", "br", "hr",
    "code", "table", "thead", "tbody", "tr", "th", "td", "abbr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "class"}, "sup": {"class"}, "abbr": {"title"}, "th": {"scope"}}
URL_SCHEMES = {"http", "https", "tel", "mailto"}


def _citations(state: StateCore) -> None:
    """Split text tokens at ``[n]`` / ``[n, m]`` into text plus a superscript link per source id."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        for token in block.children:
            if token.type != "text" or not CITATION_RE.search(token.content):
                children.append(token)
                continue
            position = 0
            for match in CITATION_RE.finditer(token.content):
                if match.start() > position:
                    children.append(_text(token.content[position : match.start()]))
                ids = [int(part) for part in match.group(1).split(",")]
                links = ", ".join(f'<a href="#source-{i}" class="cite">{i}</a>' for i in ids)
                html = Token("html_inline", "", 0)
                html.content = f'<sup class="cite">[{links}]</sup>'
                children.append(html)
                position = match.end()
            if position < len(token.content):
                children.append(_text(token.content[position:]))
        block.children = children


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _parser() -> MarkdownIt:
    # "html": False - raw HTML in a guide is shown as text, never as markup; nh3 is the second line.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    md.core.ruler.push("citations", _citations)
    return md


_MD = _parser()


def sanitise(html: str) -> SafeString:
    """nh3 against the allow-list; what comes out is safe to put in a template unescaped."""
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener",
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above


def render_markdown(text: str) -> SafeString:
    """Markdown (with ``[n]`` citations) to sanitised HTML."""
    return sanitise(_MD.render(text or ""))


def render_inline(text: str) -> SafeString:
    """One line (a key fact, an FAQ answer) without a wrapping paragraph."""
    return sanitise(_MD.renderInline(text or ""))


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    anchor: str
    html: SafeString


SECTION_KEYS = ("what", "misuse", "withdrawal", "overdose", "treatment", "families")
HEADINGS: dict[str, tuple[str, ...]] = {
    "en": (
        "What it is and its medical use",
        "Signs of misuse and addiction",
        "Withdrawal and its timeline",
        "Overdose signs",
        "Treatment options",
        "For families and friends",
    ),
    "es": (
        "Qué es y su uso médico",
        "Señales de mal uso y adicción",
        "Abstinencia y su cronología",
        "Señales de sobredosis",
        "Opciones de tratamiento",
        "Para familiares y amigos",
    ),
}
ANCHORS = dict(
    zip(SECTION_KEYS, ("what-it-is", "signs", "withdrawal", "overdose", "treatment", "families"), strict=True)
)


def split_sections(body: str) -> list[tuple[str, str]]:
    """``## `` headings and the Markdown under each (text before the first heading is dropped)."""
    parts: list[tuple[str, str]] = []
    heading: str | None = None
    lines: list[str] = []
    for line in (body or "").splitlines():
        if line.startswith("## "):
            if heading is not None:
                parts.append((heading, "\n".join(lines).strip()))
            heading, lines = line[3:].strip(), []
        elif heading is not None:
            lines.append(line)
    if heading is not None:
        parts.append((heading, "\n".join(lines).strip()))
    return parts


def render_sections(body: str) -> list[Section]:
    sections = []
    for index, (heading, text) in enumerate(split_sections(body)):
        key = SECTION_KEYS[index] if index < len(SECTION_KEYS) else f"extra-{index}"
        sections.append(Section(key, heading, ANCHORS.get(key, key), render_markdown(text)))
    return sections


def word_count(text: str) -> int:
    """Words of the Markdown body as a reader sees them (citation markers and link targets not counted)."""
    plain = re.sub(r"\]\([^)]*\)", "]", text or "")
    plain = CITATION_RE.sub(" ", plain)
    return len(WORD_RE.findall(plain))


def reading_minutes(text: str) -> int:
    return max(1, math.ceil(word_count(text) / WORDS_PER_MINUTE))
