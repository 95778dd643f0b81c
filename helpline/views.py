"""Public pages. Thin: they read through selectors and render."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from partners.models import SERVICE_CHOICES, Facility

logger = logging.getLogger(__name__)

SERVICE_TEXT: dict[str, str] = {code: label for code, label in SERVICE_CHOICES}


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/home.html", {"services": SERVICE_CHOICES})


def services(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/services.html", {"services": SERVICE_CHOICES})


def service_detail(request: HttpRequest, code: str) -> HttpResponse:
    if code not in SERVICE_TEXT:
        raise Http404("No such service")
    return render(request, "helpline/service_detail.html", {"code": code, "label": SERVICE_TEXT[code]})


def directory(request: HttpRequest) -> HttpResponse:
    facilities = Facility.objects.filter(is_active=True).select_related("partner")
    return render(request, "helpline/directory.html", {"facilities": facilities})


def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/terms.html")


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/privacy.html")


def admission_request(request: HttpRequest) -> HttpResponse:
    return render(request, "helpline/admission_request.html")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page still shows the number and the disclosure, even with the database down."""
    try:
        return HttpResponseServerError(loader.render_to_string("500.html", request=request))
    except Exception:  # noqa: BLE001 - the error page itself must never fail
        logger.exception("500 page could not render; serving the static one")
        from helpline.disclosure import fallback_disclosure

        d = fallback_disclosure()
        body = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Something went wrong</title></head>"
            "<body><main><h1>Something went wrong on our side</h1><p>Please call the helpline again.</p></main>"
            "<footer><section id='where-do-calls-go'><h2>Where do calls go?</h2>"
            f"<p>{d.intro}</p><p>{d.listing_calls}</p><p>{d.fees}</p><p>{d.no_obligation}</p>"
            f"<p>{d.free_confidential}</p><p>{d.not_affiliated}</p></section></footer></body></html>"
        )
        return HttpResponseServerError(body)
