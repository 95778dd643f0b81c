from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from helpline.public_urls import absolute_url


@require_GET
def robots_txt(request: HttpRequest) -> HttpResponse:
    """Crawlers: the public site yes; staff, partner and API areas no; where the sitemap is."""
    lines = [
        "User-agent: *",
        f"Disallow: /{settings.ADMIN_URL.strip('/')}/",
        "Disallow: /admin/",
        "Disallow: /portal/",
        "Disallow: /api/",
        "Disallow: /staff/",
        "Disallow: /es/staff/",
        "Disallow: /twilio/",
        "",
        f"Sitemap: {absolute_url('/sitemap.xml')}",
    ]
    unique = list(dict.fromkeys(lines))
    return HttpResponse("\n".join(unique) + "\n", content_type="text/plain; charset=utf-8")
