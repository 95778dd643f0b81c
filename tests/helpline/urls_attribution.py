"""The site's URLs plus a stand-in guide page (tests only): a view that names its page's tracking source.

The real guides (``helpline.site.guides``) do the same: ``tracking_source`` in the context.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path

from config import urls as config_urls
from helpline.attribution import TrackingSource
from helpline.site.guides import views as guide_views


def guide_page(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "helpline/terms.html", {"tracking_source": TrackingSource.guide(slug)})


guide_patterns = (
    [path("", guide_views.guide_index, name="index"), path("<slug:slug>/", guide_page, name="detail")],
    "guides",
)

# Spread, not include(): the project URL conf uses i18n_patterns, which Django allows only at the root.
urlpatterns = [path("guides/", include(guide_patterns)), *config_urls.urlpatterns]
