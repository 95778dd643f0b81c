"""One gate for staff data: the admin, the portal's staff pages, the simulator and the API.

A staff member sees data across partners only when

* the account is active and ``is_staff``;
* with ``STAFF_REQUIRE_OTP`` on, the session was verified with a second factor
  (django-otp's ``user.is_verified()``, set by ``OTPMiddleware`` from the
  session). An API token carries no second factor, so a staff token is refused
  while the setting is on;
* the account holds the ``view_`` permission of every model the page shows.

The admin applies the first two in ``ClearlineAdminSite.has_permission`` and
Django's model permissions do the third; every other staff route uses
``staff_view`` (function views) or ``staff_may_view`` (the API) from here.
The setting is read on every request, like the admin's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse


def staff_verified(user: Any) -> bool:
    """Active staff whose session passed the second factor (when one is required)."""
    if not (user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.is_staff):
        return False
    if settings.STAFF_REQUIRE_OTP:
        is_verified = getattr(user, "is_verified", None)
        return bool(is_verified and is_verified())
    return True


def view_permissions(*models: type[Model]) -> list[str]:
    return [f"{m._meta.app_label}.view_{m._meta.model_name}" for m in models]


def staff_may_view(user: Any, *models: type[Model]) -> bool:
    """``staff_verified`` and the ``view_`` permission of each model shown."""
    return staff_verified(user) and user.has_perms(view_permissions(*models))


def admin_login_redirect(request: HttpRequest, *, next_url: str | None = None) -> HttpResponseRedirect:
    login = reverse("admin:login")
    return HttpResponseRedirect(f"{login}?{urlencode({'next': next_url or request.path})}")


def staff_view(*models: type[Model]) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Decorator for staff pages outside the admin showing ``models``' data.

    Not staff, or not verified: off to the admin login (which asks for the code).
    Verified staff without the model permissions: 403.
    """

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not staff_verified(request.user):
                return admin_login_redirect(request)
            if not request.user.has_perms(view_permissions(*models)):
                raise PermissionDenied("Your staff account may not view this.")
            return view(request, *args, **kwargs)

        wrapper.staff_models = models  # type: ignore[attr-defined]
        return wrapper

    return decorate
