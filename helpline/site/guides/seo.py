"""What search engines read: schema.org JSON-LD for a guide."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from helpline.public_urls import absolute_url
from helpline.site.guides.models import Guide

# As django.utils.html.json_script: "<", ">" and "&" escaped so the data cannot close its <script>.
_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def ld_json_script(data: dict[str, Any]) -> SafeString:
    """A ``<script type="application/ld+json">`` block: data, not code, so ``script-src 'self'`` does not apply."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_ESCAPES)
    return mark_safe(f'<script type="application/ld+json">{text}</script>')  # noqa: S308 - escaped above


def medical_web_page(*, guide: Guide, url: str) -> dict[str, Any]:
    names = guide.names or {}
    alternate = [n for kind in ("brand", "generic", "street") for n in names.get(kind, []) if n != guide.substance]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MedicalWebPage",
        "@id": url,
        "url": url,
        "name": guide.title,
        "headline": guide.title,
        "description": guide.meta_description,
        "inLanguage": guide.language,
        "dateModified": guide.last_updated.isoformat(),
        "audience": {"@type": "PeopleAudience", "audienceType": "Patients, families and friends"},
        "about": {"@type": "Drug", "name": guide.substance, "alternateName": alternate, "drugClass": guide.drug_class},
        "publisher": {"@type": "Organization", "name": settings.HELPLINE_NAME, "url": absolute_url("/")},
        "citation": [
            {"@type": "CreativeWork", "name": s["title"], "publisher": s["publisher"], "url": s["url"]}
            for s in guide.sources
        ],
    }
    if guide.reviewed_on:
        data["lastReviewed"] = guide.reviewed_on.isoformat()
    if guide.reviewer_name:
        reviewer: dict[str, Any] = {"@type": "Person", "name": guide.reviewer_name}
        if guide.reviewer_credentials:
            reviewer["honorificSuffix"] = guide.reviewer_credentials
        data["reviewedBy"] = reviewer
    return data


def faq_page(*, guide: Guide, url: str) -> dict[str, Any]:
    return {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "url": url,
        "inLanguage": guide.language,
        "mainEntity": [
            {"@type": "Question", "name": item["q"], "acceptedAnswer": {"@type": "Answer", "text": item["a"]}}
            for item in guide.faq
        ],
    }
