from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from config import health
from helpline.site.guides.robots import robots_txt
from helpline.site.guides.sitemaps import SITEMAPS
from helpline.staff import simulator_views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("twilio/", include("helpline.voice.urls")),
    path("portal/", include("partners.portal.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", robots_txt, name="robots_txt"),
    # Staff pages stay outside the language prefix: there is no /es/staff/.
    path("staff/simulator/", simulator_views.simulator, name="simulator"),
]
# The public site in English at / and in Spanish under /es/. An unprefixed URL is always
# English whatever the browser asks for (LocaleMiddleware with prefix_default_language=False).
urlpatterns += i18n_patterns(
    path("guides/", include("helpline.site.guides.urls")),
    path("", include("helpline.urls")),
    prefix_default_language=False,
)

handler404 = "helpline.site.views.page_not_found"
handler500 = "helpline.site.views.server_error"
