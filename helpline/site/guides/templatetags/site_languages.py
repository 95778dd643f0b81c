"""The public site in two languages: hreflang alternates and the language switch for the current page."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils import translation

from helpline.public_urls import absolute_url

register = template.Library()
NAMES = {"en": "English", "es": "Español"}


def _language_urls(request: HttpRequest | None) -> dict[str, str]:
    """The current page in each language, or {} when the page is not part of the bilingual public site."""
    if request is None or request.resolver_match is None:
        return {}
    current = (translation.get_language() or "en")[:2]
    path = request.path
    urls = {current: path}
    for code, _name in settings.LANGUAGES:
        if code != current:
            urls[code] = translate_url(path, code)
    if len(set(urls.values())) < len(urls):
        return {}  # admin, portal, API: one URL for every language
    return urls


@register.simple_tag(takes_context=True)
def language_urls(context: template.Context) -> dict[str, str]:
    return _language_urls(context.get("request"))


@register.inclusion_tag("guides/alternates.html", takes_context=True)
def hreflang_links(context: template.Context) -> dict[str, object]:
    urls = _language_urls(context.get("request"))
    return {"alternates": [(code, absolute_url(url)) for code, url in sorted(urls.items())]}


@register.inclusion_tag("guides/language_switch.html", takes_context=True)
def language_switch(context: template.Context, **targets: str) -> dict[str, object]:
    """Links to this page in the other languages; ``es="/es/..."`` overrides a target (a guide's translation)."""
    urls = _language_urls(context.get("request"))
    current = (translation.get_language() or "en")[:2]
    links = [(code, NAMES.get(code, code), targets.get(code) or url) for code, url in urls.items() if code != current]
    return {"links": links}
