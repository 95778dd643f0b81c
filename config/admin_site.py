"""The staff admin site: Django's, plus a TOTP second factor when ``STAFF_REQUIRE_OTP`` is on.

With the setting on, the login page asks for the 6-digit code of a
registered authenticator (``python manage.py enroll_totp <username>``) and a
staff member whose session was not verified by a code is treated as if they
were not staff: they see the login page, never caller data. The setting is
read on every request, so tests and deployments can switch it without a
different URL conf.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class ClearlineAdminSite(OTPAdminSite):
    site_header = "Clearline staff"
    site_title = "Clearline staff"
    index_title = "Intake"
    # The section links in the header (templates/admin/base_site.html) replace Django's model sidebar,
    # which took 300 px from every list: the request queue's key columns now fit at 1280 px.
    enable_nav_sidebar = False

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    @property  # type: ignore[override]
    def login_form(self) -> Any:
        return OTPAdminAuthenticationForm if settings.STAFF_REQUIRE_OTP else AdminAuthenticationForm

    @property  # type: ignore[override]
    def login_template(self) -> Any:
        return "otp/admin111/login.html" if settings.STAFF_REQUIRE_OTP else None

    def has_permission(self, request: HttpRequest) -> bool:
        if settings.STAFF_REQUIRE_OTP:
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)

    # --- The intake home (config.intake) is the landing page; Django's model list is one click away. ---

    def get_urls(self) -> list[URLResolver | URLPattern]:
        from config import intake

        return [
            path("models/", self.admin_view(self.model_index), name="model_index"),
            path("intake/live-calls.json", self.admin_view(intake.live_calls_view), name="intake_live_calls"),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        from config import intake

        request.current_app = self.name
        context = {
            **self.each_context(request),
            "title": "Intake",
            "subtitle": None,
            **intake.intake_summary(now=timezone.now(), may_view=intake.may_view_for(request)),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/intake_home.html", context)

    def model_index(self, request: HttpRequest) -> HttpResponse:
        return super().index(request, extra_context={"title": "All records"})
