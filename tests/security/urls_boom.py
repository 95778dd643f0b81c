"""A URL conf with one view that fails while holding caller data (tests only)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config import urls as config_urls


@csrf_exempt
def boom(request: HttpRequest) -> HttpResponse:
    phone = request.POST.get("phone", "")
    first_name = request.POST.get("first_name", "")  # noqa: F841 - a local the report must hide
    raise ValueError(f"could not route callback for {phone}")


# Spread, not include(): the project URL conf uses i18n_patterns, which Django allows only at the root.
urlpatterns = [path("boom/", boom), *config_urls.urlpatterns]
