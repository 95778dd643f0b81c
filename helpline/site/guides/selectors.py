"""Reads of guides for the public pages and the staff alerts."""

from __future__ import annotations

import datetime as dt

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from helpline.site.guides.models import Guide

SEARCH_CONFIG = {"en": "english", "es": "spanish"}
MAX_QUERY_LENGTH = 100


def published_guides(*, language: str) -> QuerySet[Guide]:
    return Guide.objects.filter(status=Guide.Status.PUBLISHED, language=language)


def guide_search(*, language: str, query: str) -> QuerySet[Guide]:
    """Published guides matching ``query``: PostgreSQL full-text search (ranked), or a plain substring match."""
    guides = published_guides(language=language)
    # NUL ("%00" in a URL) cannot be sent to PostgreSQL in a text value: a DataError, a 500.
    query = " ".join(query.replace("\x00", "").split())[:MAX_QUERY_LENGTH]
    if not query:
        return guides.order_by("class_group", "substance")
    if connection.vendor == "postgresql":
        config = SEARCH_CONFIG.get(language, "simple")
        vector = (
            SearchVector("substance", "title", weight="A", config=config)
            + SearchVector(Cast("names", TextField()), "drug_class", weight="A", config="simple")
            + SearchVector("summary", "meta_description", weight="B", config=config)
            + SearchVector("body", weight="D", config=config)
        )
        search = SearchQuery(query, search_type="websearch", config=config) | SearchQuery(
            query, search_type="websearch", config="simple"
        )
        # Match with @@ first (ts_rank is above zero for partial hits too, so a rank alone is not a match).
        return (
            guides.annotate(document=vector, rank=SearchRank(vector, search))
            .filter(document=search)
            .order_by("-rank", "substance")
        )
    words = query.split()
    match = Q()
    for word in words:
        match &= (
            Q(title__icontains=word)
            | Q(substance__icontains=word)
            | Q(summary__icontains=word)
            | Q(drug_class__icontains=word)
            | Q(names__icontains=word)
            | Q(body__icontains=word)
        )
    return guides.filter(match).order_by("class_group", "substance")


def guide_for_page(*, slug: str, language: str) -> Guide | None:
    return Guide.objects.filter(slug=slug, language=language).first()


def guide_translations(*, guide: Guide) -> dict[str, Guide]:
    """Published versions of this guide by language (the guide itself included when it is published)."""
    rows = Guide.objects.filter(slug=guide.slug, status=Guide.Status.PUBLISHED)
    return {row.language: row for row in rows}


def related_guides(*, guide: Guide) -> list[Guide]:
    by_slug = {g.slug: g for g in published_guides(language=guide.language).filter(slug__in=guide.related)}
    return [by_slug[slug] for slug in guide.related if slug in by_slug]


def guides_past_review(*, today: dt.date) -> QuerySet[Guide]:
    """Published guides whose next review date has come: still shown, flagged to staff."""
    return Guide.objects.filter(status=Guide.Status.PUBLISHED, next_review_due__lte=today).order_by("next_review_due")
