"""sitemap.xml: every published guide in its language, and the public pages in English and Spanish. No drafts."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse
from django.utils import translation

from helpline.site.guides.models import Guide
from helpline.site.guides.views import guide_url
from helpline.site.service_content import PAGES

LANGUAGES = ("en", "es")
# Pages of the public site (URL name, kwargs); each exists under / and /es/.
STATIC_PAGES: list[tuple[str, dict[str, str]]] = [
    ("home", {}),
    ("services", {}),
    *[("service_detail", {"code": code}) for code in PAGES],
    ("directory", {}),
    ("admission_request", {}),
    ("terms", {}),
    ("privacy", {}),
    ("guides:index", {}),
]


class _PublicSitemap(Sitemap):
    """Absolute URLs on PUBLIC_BASE_URL, not on whatever Host header the request came with."""

    def get_domain(self, site: object = None) -> str:
        return urlsplit(settings.PUBLIC_BASE_URL).netloc

    def get_protocol(self, protocol: str | None = None) -> str:
        return urlsplit(settings.PUBLIC_BASE_URL).scheme or "https"


class GuideSitemap(_PublicSitemap):
    changefreq = "monthly"
    priority = 0.8

    def items(self) -> list[Guide]:
        return list(Guide.objects.filter(status=Guide.Status.PUBLISHED).order_by("slug", "language"))

    def location(self, item: Guide) -> str:
        return guide_url(item)

    def lastmod(self, item: Guide) -> dt.date:
        return max(d for d in (item.last_updated, item.reviewed_on) if d is not None)


class PublicPageSitemap(_PublicSitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self) -> list[tuple[str, dict[str, str], str]]:
        return [(name, kwargs, language) for language in LANGUAGES for name, kwargs in STATIC_PAGES]

    def location(self, item: tuple[str, dict[str, str], str]) -> str:
        name, kwargs, language = item
        with translation.override(language):
            return reverse(name, kwargs=kwargs)


SITEMAPS = {"guides": GuideSitemap, "pages": PublicPageSitemap}
