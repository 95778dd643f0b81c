"""Guide Markdown reaches a page only as sanitised HTML; citations link to the sources list."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from helpline.site.guides.models import Guide
from helpline.site.guides.rendering import reading_minutes, render_markdown, sanitise, word_count

HOSTILE = """
Hello <script>alert('x')</script> world.

<img src=x onerror="alert(1)">

[click me](javascript:alert(1)) and <a href="javascript:alert(2)">raw</a>

<iframe src="https://evil.example"></iframe><p onclick="steal()">para</p>

[ok](/treatment/detox/) and [tel](tel:911)
"""


class _Elements(HTMLParser):
    """Every element with its attributes, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


def assert_harmless(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag not in {"script", "iframe", "img", "object", "embed", "style"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, value)


def test_markdown_with_script_onerror_and_javascript_links_renders_harmless():
    html = render_markdown(HOSTILE)
    assert_harmless(html)
    assert '<a href="/treatment/detox/"' in html
    assert '<a href="tel:911"' in html


def test_the_sanitiser_alone_strips_raw_markup():
    """The second line of defence, on raw HTML as if the parser had let it through."""
    html = sanitise(
        '<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>'
        '<p onclick="x()">p</p><iframe src="//e"></iframe><strong>kept</strong>'
    )
    assert_harmless(html)
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert "<strong>kept</strong>" in html


def test_citations_become_links_to_the_sources_list():
    html = render_markdown("Seizures can happen [1][2] and more [8, 9].")
    assert '<a href="#source-1" class="cite"' in html
    assert '<a href="#source-2" class="cite"' in html
    assert '<a href="#source-8" class="cite"' in html and '<a href="#source-9" class="cite"' in html


def test_citations_in_code_are_left_alone():
    assert "#source" not in render_markdown("`array[1]`")


def test_reading_time_counts_words_not_markup():
    text = "word " * 401 + "[1] [link](https://example.org/a-very-long-address)"
    assert word_count(text) == 402
    assert reading_minutes(text) == 3


@pytest.mark.django_db
def test_a_hostile_guide_body_never_reaches_the_page(published):
    guide = Guide.objects.get(slug="cocaine", language="en")
    guide.body = guide.body.replace("## Overdose signs", HOSTILE + "\n\n## Overdose signs")
    guide.faq = [*guide.faq, {"q": "x", "a": '<img src=x onerror="alert(1)"> [a](javascript:alert(3))', "sources": []}]
    guide.save()
    body = Client().get("/guides/cocaine/").content.decode()
    main = body.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    assert_harmless(main)
    # The only scripts on the page are the two JSON-LD data blocks in the head.
    scripts = [attrs for tag, attrs in elements(body) if tag == "script"]
    assert scripts == [{"type": "application/ld+json"}] * 2
