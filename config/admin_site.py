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
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class ClearlineAdminSite(OTPAdminSite):
    site_header = "Clearline staff"
    site_title = "Clearline staff"
    index_title = "Helpline administration"

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
