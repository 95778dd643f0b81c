"""Public pages. Thin: they read through selectors and render."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.utils.html import escape
from django.utils.translation import get_language, gettext

from helpline.site.directory import (
    DIRECTORY_PAGE_SIZE,
    STATE_NAMES,
    DirectoryFilterForm,
    directory_facilities,
    service_labels,
)
from helpline.site.service_content import PAGES
from routing.vocabulary import SERVICE_CHOICES

logger = logging.getLogger(__name__)

SERVICE_TEXT: dict[str, str] = {code: label for code, label in SERVICE_CHOICES}


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/home.html", {"services": [PAGES[code] for code in SERVICE_TEXT]})


def services(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/services.html", {"services": [PAGES[code] for code in SERVICE_TEXT]})


def service_detail(request: HttpRequest, code: str) -> HttpResponse:
    page = PAGES.get(code)
    if page is None:
        raise Http404("No such service")
    others = [PAGES[other] for other in SERVICE_TEXT if other != code]
    return render(request, "helpline/service_detail.html", {"page": page, "others": others})


def directory(request: HttpRequest) -> HttpResponse:
    """Facilities of listed partners, filtered by state and service; bad filters get a 400 with words."""
    form = DirectoryFilterForm(request.GET or None)
    context: dict[str, object] = {
        "form": form,
        "state_names": STATE_NAMES,
        "service_names": service_labels(get_language() or "en"),
        "page_obj": None,
    }
    if form.is_bound and not form.is_valid():
        return render(request, "helpline/directory.html", context, status=400)
    data = form.cleaned_data if form.is_bound else {}
    state, service = data.get("state") or "", data.get("service") or ""
    paginator = Paginator(directory_facilities(state=state, service=service), DIRECTORY_PAGE_SIZE)
    page_number = data.get("page") or 1
    if page_number > paginator.num_pages:
        form.add_error(
            "page",
            gettext("There is no page %(page)s; there are %(pages)s.")
            % {"page": page_number, "pages": paginator.num_pages},
        )
        return render(request, "helpline/directory.html", context, status=400)
    page = paginator.page(page_number)
    query = {key: value for key, value in (("state", state), ("service", service)) if value}
    context.update(
        {
            "page_obj": page,
            "facilities": page.object_list,
            "state": state,
            "service": service,
            "filter_query": urlencode(query),
        }
    )
    return render(request, "helpline/directory.html", context)


def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/terms.html")


def privacy(request: HttpRequest) -> HttpResponse:
    # The page states the configured retention, so it cannot drift from what the purge job does.
    return render(request, "helpline/privacy.html", {"retention_days": settings.CALLER_DATA_RETENTION_DAYS})


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page still shows the number and the disclosure, even with the database down."""
    try:
        return HttpResponseServerError(loader.render_to_string("500.html", request=request))
    except Exception:  # noqa: BLE001 - the error page itself must never fail
        logger.exception("500 page could not render; serving the static one")
        from helpline.site.disclosure import fallback_disclosure

        d = fallback_disclosure()
        statements = "".join(
            f"<p>{escape(text)}</p>"
            for text in (d.intro, d.listing_calls, d.fees, d.no_obligation, d.free_confidential, d.not_affiliated)
        )
        line = escape(f"{settings.FALLBACK_LINE_NAME}: {settings.FALLBACK_LINE}")
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Something went wrong</title></head>'
            f"<body><main><h1>Something went wrong on our side</h1><p>Please call the helpline again, or the {line}."
            '</p></main><footer><section id="where-do-calls-go"><h2>Where do calls go?</h2>'
            f"{statements}<p>The list of paying partners cannot be shown right now.</p>"
            "</section></footer></body></html>"
        )
        return HttpResponseServerError(body)
