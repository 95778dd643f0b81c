"""The guide pages: who sees what, what search engines read, the inline callback form."""

from __future__ import annotations

import json
import re

import pytest
from defusedxml import ElementTree as ET  # noqa: N817
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from helpline.site.guides import services
from helpline.site.guides.demo import DEMO_REVIEWER
from helpline.site.guides.models import Guide

from .conftest import publish

pytestmark = pytest.mark.django_db
LD_RE = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


@pytest.fixture
def staff_client() -> Client:
    user = get_user_model().objects.create_user("editor", password="x-long-password-123", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_an_in_review_guide_is_404_to_visitors_and_a_marked_preview_for_staff(loaded, staff_client):
    assert Client().get("/guides/klonopin/").status_code == 404
    response = staff_client.get("/guides/klonopin/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="preview-banner"' in body and "Staff preview: In review" in body
    assert response["X-Robots-Tag"] == "noindex"
    assert "Not yet clinically reviewed." in body


def test_a_draft_is_404_to_visitors_and_previewed_for_staff(loaded, staff_client):
    guide = Guide.objects.get(slug="cocaine", language="en")
    services.guide_transition(guide=guide, to="draft")
    assert Client().get("/guides/cocaine/").status_code == 404
    assert "Staff preview: Draft" in staff_client.get("/guides/cocaine/").content.decode()


def test_a_retired_guide_is_gone_for_visitors(published, staff_client):
    guide = Guide.objects.get(slug="cocaine", language="en")
    services.guide_transition(guide=guide, to="retired")
    response = Client().get("/guides/cocaine/")
    assert response.status_code == 410
    assert "This guide has been retired" in response.content.decode()
    assert 'id="where-do-calls-go"' in response.content.decode()
    assert "Staff preview: Retired" in staff_client.get("/guides/cocaine/").content.decode()


def test_an_unknown_guide_is_404():
    assert Client().get("/guides/no-such-drug/").status_code == 404


def test_published_page_shows_review_number_overdose_box_faq_sources_and_disclosure(published):
    body = Client().get("/guides/klonopin/").content.decode()
    assert f"Reviewed by <strong>{DEMO_REVIEWER}, demo data</strong> on" in body
    assert "minute read" in body
    assert "This page is information, not medical advice." in body
    assert 'data-testid="who-answers"' in body and 'href="#where-do-calls-go"' in body
    assert 'data-testid="key-facts"' in body
    box = body.split('data-testid="overdose-box"', 1)[1].split("</section>", 1)[0]
    assert box.index("tel:911") < box.index("tel:+18002221222") < box.index("tel:988")
    assert 'id="source-1"' in body and 'href="#source-1"' in body
    assert "Is it safe to stop taking Klonopin on my own?" in body
    assert 'href="/treatment/detox/"' in body
    assert 'href="/guides/xanax/"' in body  # related guide
    assert 'id="where-do-calls-go"' in body
    # The sanitised Markdown is rendered as markup, not shown as escaped text.
    assert "&lt;p&gt;" not in body and "&lt;sup" not in body and "&lt;strong&gt;" not in body
    withdrawal = body.split('id="withdrawal"', 1)[1].split("</section>", 1)[0]
    assert "<p><strong>Do not stop taking Klonopin suddenly." in withdrawal
    assert '<sup class="cite">[<a href="#source-1" class="cite"' in withdrawal


def test_inline_form_is_the_callback_form_with_the_substance_chosen_posting_to_its_view(published):
    body = Client().get("/guides/klonopin/").content.decode()
    form = body.split('data-testid="admission-form"', 1)[1].split("</form>", 1)[0]
    assert 'action="/request-a-callback/"' in body.split('data-testid="admission-form"', 1)[0][-200:]
    assert re.search(r'<input type="checkbox" name="substances" value="benzodiazepines"[^>]*checked', form)
    assert not re.search(r'value="alcohol"[^>]*checked', form)
    for name in ("for_whom", "first_name", "phone", "zip_code", "service", "consent", "started", "website"):
        assert f'name="{name}"' in form, name
    spanish = Client().get("/es/guides/alcohol/").content.decode()
    assert re.search(r'<option value="es" selected>', spanish)


def test_json_ld_parses_and_carries_the_review(published):
    guide = Guide.objects.get(slug="opioids", language="en")
    body = Client().get("/guides/opioids/").content.decode()
    blocks = [json.loads(text) for text in LD_RE.findall(body)]
    page = next(b for b in blocks if b["@type"] == "MedicalWebPage")
    assert page["lastReviewed"] == guide.reviewed_on.isoformat()
    assert page["reviewedBy"] == {"@type": "Person", "name": DEMO_REVIEWER, "honorificSuffix": "demo data"}
    assert page["url"] == "https://helpline.example.org/guides/opioids/"
    assert page["inLanguage"] == "en"
    faq = next(b for b in blocks if b["@type"] == "FAQPage")
    assert [q["name"] for q in faq["mainEntity"]] == [item["q"] for item in guide.faq]


def test_json_ld_cannot_be_broken_out_of(published):
    guide = Guide.objects.get(slug="opioids", language="en")
    guide.faq = [{"q": "</script><script>alert(1)</script>", "a": "a & b", "sources": []}]
    guide.save()
    body = Client().get("/guides/opioids/").content.decode()
    assert "<script>alert(1)" not in body
    blocks = [json.loads(text) for text in LD_RE.findall(body)]
    faq = next(b for b in blocks if b["@type"] == "FAQPage")
    assert faq["mainEntity"][0]["name"] == "</script><script>alert(1)</script>"


def test_csp_still_allows_only_own_scripts(published):
    response = Client().get("/guides/opioids/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]


def test_meta_canonical_open_graph_and_hreflang(published):
    body = Client().get("/guides/klonopin/").content.decode()
    assert '<link rel="canonical" href="https://helpline.example.org/guides/klonopin/">' in body
    assert '<link rel="alternate" hreflang="es" href="https://helpline.example.org/es/guides/klonopin/">' in body
    assert '<link rel="alternate" hreflang="x-default" href="https://helpline.example.org/guides/klonopin/">' in body
    assert '<meta property="og:title" content="Klonopin (clonazepam)' in body
    description = Guide.objects.get(slug="klonopin", language="en").meta_description
    assert f'<meta name="description" content="{description}' in body
    assert 'href="/es/guides/klonopin/"' in body  # link to the translation
    spanish = Client().get("/es/guides/klonopin/").content.decode()
    assert '<html lang="es">' in spanish
    assert 'href="/guides/klonopin/"' in spanish


def test_a_guide_without_translation_has_no_alternate(published):
    body = Client().get("/guides/cocaine/").content.decode()
    assert 'hreflang="es"' not in body.split("</head>", 1)[0]
    assert Client().get("/es/guides/cocaine/").status_code == 404


def test_sitemap_lists_every_published_guide_in_both_languages_and_no_draft(published):
    services.guide_transition(guide=Guide.objects.get(slug="cocaine", language="en"), to="retired")
    response = Client().get("/sitemap.xml")
    assert response.status_code == 200
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = {el.text for el in ET.fromstring(response.content).findall("s:url/s:loc", ns)}
    expected = {
        f"https://helpline.example.org{'/es' if g.language == 'es' else ''}/guides/{g.slug}/"
        for g in Guide.objects.filter(status="published")
    }
    assert expected <= urls
    assert "https://helpline.example.org/es/guides/klonopin/" in urls
    assert "https://helpline.example.org/guides/cocaine/" not in urls
    guide_urls = {u for u in urls if "/guides/" in u and not u.endswith("/guides/")}
    assert guide_urls == expected
    for page in ("/", "/es/", "/treatment/detox/", "/es/treatment/detox/", "/guides/", "/es/guides/", "/providers/"):
        assert f"https://helpline.example.org{page}" in urls, page


def test_sitemap_has_no_guide_that_is_only_in_review(loaded):
    body = Client().get("/sitemap.xml").content.decode()
    assert "/guides/klonopin/" not in body


def test_robots_txt_keeps_crawlers_out_of_staff_areas_and_points_to_the_sitemap():
    response = Client().get("/robots.txt")
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    for path in ("/admin/", "/portal/", "/api/", "/staff/"):
        assert f"Disallow: {path}" in text
    assert "Sitemap: https://helpline.example.org/sitemap.xml" in text


def test_index_lists_published_guides_by_class(published):
    services.guide_transition(guide=Guide.objects.get(slug="cocaine", language="en"), to="retired")
    body = Client().get("/guides/").content.decode()
    for heading in ("Benzodiazepines", "Alcohol", "Opioids", "Stimulants"):
        assert f">{heading}</h2>" in body
    assert 'href="/guides/klonopin/"' in body
    assert 'href="/guides/cocaine/"' not in body
    spanish = Client().get("/es/guides/").content.decode()
    assert 'href="/es/guides/klonopin/"' in spanish and 'href="/es/guides/xanax/"' not in spanish


@pytest.mark.parametrize(
    ("query", "found", "absent"), [("fentanyl", "opioids", "xanax"), ("clonazepam", "klonopin", "cocaine")]
)
def test_search_finds_guides_by_word(published, query, found, absent):
    body = Client().get("/guides/", {"q": query}).content.decode()
    assert f'href="/guides/{found}/"' in body
    assert f'href="/guides/{absent}/"' not in body


def test_search_with_nothing_found_says_so(published):
    body = Client().get("/guides/", {"q": "zzzzqqq"}).content.decode()
    assert "No guide matches that search" in body


@pytest.mark.parametrize(
    ("query", "expected"), [("fentanyl\x00", "opioids"), ("fen\x00tanyl", "opioids"), ("\x00", "")]
)
def test_search_drops_a_nul_byte_instead_of_sending_it_to_the_database(published, query, expected):
    """PostgreSQL text cannot hold NUL (a DataError): the search is made without it (a URL's %00 is a 400 before)."""
    from helpline.site.guides.selectors import guide_search

    found = [g.slug for g in guide_search(language="en", query=query)]
    if expected:
        assert found[0] == expected
    else:
        assert len(found) == Guide.objects.filter(language="en", status=Guide.Status.PUBLISHED).count()


def test_an_unprefixed_url_is_english_whatever_the_browser_asks(published):
    body = Client(HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9").get("/guides/").content.decode()
    assert '<html lang="en">' in body and "Substance guides" in body
    assert Client(HTTP_ACCEPT_LANGUAGE="es").get("/guides/klonopin/").content.decode().count('<html lang="en">') == 1


def test_publishing_keeps_every_version_with_who_and_why(loaded, staff_client):
    guide = Guide.objects.get(slug="alcohol", language="en")
    publish(guide)
    guide.refresh_from_db()
    services.guide_transition(guide=guide, to="retired")
    reasons = [h.history_change_reason for h in guide.history.order_by("history_date")]
    assert reasons == ["Loaded from file", "Published; reviewed by Ana Ruiz on 2026-11-01", "Published → Retired"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search needs PostgreSQL")
def test_postgres_full_text_search_stems_and_ranks(published):
    from helpline.site.guides.selectors import guide_search

    # Stemming: "seizure" finds guides that say "seizures"; the title/name match ranks first.
    assert [g.slug for g in guide_search(language="en", query="Klonopin seizure")][0] == "klonopin"
    # Spanish configuration: the opioids guide ranks first for "fentanilo"; no English guide comes back.
    spanish = list(guide_search(language="es", query="fentanilo"))
    assert spanish[0].slug == "opioids"
    assert {g.language for g in spanish} == {"es"}
    # Websearch syntax: a minus word excludes every guide that has it.
    assert [g.slug for g in guide_search(language="es", query="fentanilo -alcohol")] == ["opioids"]
