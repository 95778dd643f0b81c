"""Guide pages: the index by class with search, and one guide. Thin: selectors read, templates render."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from helpline.admission.forms import AdmissionRequestForm, new_form_stamp
from helpline.attribution import TrackingSource
from helpline.public_urls import absolute_url
from helpline.site.guides import selectors, seo
from helpline.site.guides.models import Guide
from helpline.site.guides.rendering import reading_minutes, render_inline, render_sections
from helpline.site.service_content import PAGES


def current_language() -> str:
    language = (translation.get_language() or "en")[:2]
    return language if language in Guide.Language.values else "en"


def guide_url(guide: Guide) -> str:
    return guide.get_absolute_url()


def _language_switch(guide: Guide, other: Guide | None) -> tuple[str, str, str]:
    """(language, name, URL) of the switch link: the translation, or the guides index in the other language."""
    language = "es" if guide.language == "en" else "en"
    if other is not None:
        url = guide_url(other)
    else:
        with translation.override(language):
            url = reverse("guides:index")
    return language, dict(Guide.Language.choices)[language], url


def guide_index(request: HttpRequest) -> HttpResponse:
    language = current_language()
    query = " ".join(request.GET.get("q", "").split())[: selectors.MAX_QUERY_LENGTH]
    guides = list(selectors.guide_search(language=language, query=query))
    groups: list[tuple[str, list[Guide]]] = []
    labels = dict(Guide.ClassGroup.choices)
    for value in Guide.ClassGroup.values:
        members = [g for g in guides if g.class_group == value]
        if members:
            groups.append((_(labels[value]), members))
    return render(
        request,
        "guides/index.html",
        {"groups": groups, "results": guides, "query": query, "canonical": absolute_url(request.path)},
    )


def guide_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A published guide; staff also see drafts, guides in review and retired ones, as a marked preview."""
    language = current_language()
    guide = selectors.guide_for_page(slug=slug, language=language)
    if guide is None:
        raise Http404("No such guide")
    preview = guide.status != Guide.Status.PUBLISHED
    if preview and not request.user.is_staff:
        if guide.status == Guide.Status.RETIRED:
            # 410, not 404: the page existed and is gone on purpose, so search engines drop it promptly.
            return render(request, "guides/retired.html", {"guide": guide}, status=410)
        raise Http404("No such guide")

    url = absolute_url(guide_url(guide))
    translations = selectors.guide_translations(guide=guide)
    alternates = [(lang, absolute_url(guide_url(g))) for lang, g in sorted(translations.items())]
    sources = {s["id"]: s for s in guide.sources}
    other = next((g for lang, g in translations.items() if lang != guide.language), None)
    form = AdmissionRequestForm(initial={"substances": [guide.form_substance], "language": language})
    context = {
        # The page shows its guide's tracking number when it has one (helpline.attribution).
        "tracking_source": TrackingSource.guide(guide.slug),
        "guide": guide,
        "preview": preview,
        "sections": render_sections(guide.body),
        "key_facts": [
            {**fact, "html": render_inline(fact["value"]), "cite": sources.get(fact.get("source"))}
            for fact in guide.key_facts
        ],
        "faq": [{**item, "html": render_inline(item["a"])} for item in guide.faq],
        "related": selectors.related_guides(guide=guide),
        "services": [PAGES[code] for code in guide.services if code in PAGES],
        "translation": other,
        "translation_url": guide_url(other) if other else "",
        "switch": _language_switch(guide, other),
        "alternates": alternates,
        "canonical": url,
        "reading_minutes": reading_minutes(guide.body),
        "form": form,
        "stamp": new_form_stamp(),
        "json_ld": [
            seo.ld_json_script(seo.medical_web_page(guide=guide, url=url)),
            seo.ld_json_script(seo.faq_page(guide=guide, url=url)),
        ],
    }
    response = render(request, "guides/detail.html", context)
    if preview:
        response["X-Robots-Tag"] = "noindex"
        response["Cache-Control"] = "private, no-store"
    return response
