"""Partner sign-in helpers: password reset by email with Django's auth views, in the portal's look.

No user enumeration: the "check your email" page is the same whether or not the address is known
(Django's behaviour, kept). Only active accounts linked to a partner get a reset email: staff
accounts are managed by staff (and carry a second factor), not reset from the partner portal.
Requests are limited per client address and per address typed, so the form cannot be used to
flood someone's inbox.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy

from config.security import client_ip
from partners.models import PartnerMembership

logger = logging.getLogger(__name__)

RESET_LIMIT_PER_ADDRESS = (5, 60 * 60)  # reset requests per client address per hour
RESET_LIMIT_PER_EMAIL = (3, 60 * 60)  # reset emails per typed address per hour


def _over_limit(kind: str, value: str, *, limit: tuple[int, int]) -> bool:
    """Count one request; True once over the limit. A cache outage allows the request."""
    maximum, period = limit
    digest = hmac.new(settings.SECRET_KEY.encode(), value.lower().encode(), hashlib.sha256).hexdigest()[:32]
    key = f"portal-reset:{kind}:{digest}"
    try:
        if cache.add(key, 1, timeout=period):
            return False
        return int(cache.incr(key)) > maximum
    except Exception:  # noqa: BLE001 - a reset form that works beats a rate limit
        logger.warning("Rate-limit cache unavailable; password reset allowed without a limit")
        return False


class PartnerPasswordResetForm(PasswordResetForm):
    """Django's form, sending only to active partner accounts."""

    def get_users(self, email: str) -> Iterator[Any]:
        for user in super().get_users(email):
            if not user.is_staff and PartnerMembership.objects.filter(user=user).exists():
                yield user


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PartnerPasswordResetForm
    template_name = "portal/password_reset_form.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        if form.is_valid():
            email = form.cleaned_data["email"]
            if _over_limit("ip", client_ip(request), limit=RESET_LIMIT_PER_ADDRESS) or _over_limit(
                "email", email, limit=RESET_LIMIT_PER_EMAIL
            ):
                form.add_error(None, "Too many reset requests. Please wait an hour and try again.")
                return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        # Links are built on the configured public address, never on the request's Host header.
        self.extra_email_context = {
            "helpline_name": settings.HELPLINE_NAME,
        }
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/password_reset_complete.html"
