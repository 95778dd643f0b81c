"""The site's URLs plus a stand-in guide page (tests only): a view that names its page's tracking source.

The real guides (``helpline.site.guides``) do the same: ``tracking_source`` in the context.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path

from helpline.attribution import TrackingSource


def guide_page(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "helpline/terms.html", {"tracking_source": TrackingSource.guide(slug)})


guide_patterns = ([path("<slug:slug>/", guide_page, name="detail")], "guides")

urlpatterns = [path("guides/", include(guide_patterns)), path("", include("config.urls"))]
