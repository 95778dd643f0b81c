"""Staff search by phone number, with the number never in a URL.

A GET search (``?q=+1 512…``) puts the number in the address bar, the browser
history, every later admin link (``_changelist_filters``) and any log that
records URLs. Here the number is POSTed to ``find-by-phone/``, turned into its
keyed fingerprint (``caller_hash``, HMAC-SHA256 with ``CALLER_HASH_KEY``) and
the list is shown for ``?phone=<fingerprint>``: useless without the key. A
phone-like ``?q=`` is not run; it goes back to the list with a pointer to the
form.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from helpline.privacy import caller_hash

PHONE_LIKE = re.compile(r"\d[\d\s().+-]{5,}\d")
FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class PhoneForm(forms.Form):
    phone = forms.CharField(max_length=30)

    def clean_phone(self) -> str:
        digits = re.sub(r"\D", "", self.cleaned_data["phone"])
        if not 10 <= len(digits) <= 15:
            raise forms.ValidationError("Enter the full number with area code.")
        return self.cleaned_data["phone"]


class PhoneFingerprintFilter(admin.SimpleListFilter):
    """``?phone=<fingerprint>``: rows whose stored fingerprint matches. Shown only while in use."""

    title = "phone number"
    parameter_name = "phone"

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        self.fingerprint_field = getattr(model_admin, "phone_fingerprint_field", "phone_hash")
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, "the number searched")] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not FINGERPRINT.fullmatch(value):
            return queryset.none()
        return queryset.filter(**{self.fingerprint_field: value})


class PhoneSearchMixin:
    """For a ModelAdmin whose model keeps a ``caller_hash`` fingerprint in ``phone_fingerprint_field``.

    Set ``change_list_template = "admin/phone_search_change_list.html"`` on the admin for the form.
    """

    phone_fingerprint_field = "phone_hash"

    def _changelist_url(self) -> str:
        opts = self.model._meta  # type: ignore[attr-defined]
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    def get_urls(self) -> list[Any]:
        opts = self.model._meta  # type: ignore[attr-defined]
        return [
            path(
                "find-by-phone/",
                self.admin_site.admin_view(require_POST(self.phone_search_view)),  # type: ignore[attr-defined]
                name=f"{opts.app_label}_{opts.model_name}_phone_search",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def get_list_filter(self, request: HttpRequest) -> Any:
        return [PhoneFingerprintFilter, *super().get_list_filter(request)]  # type: ignore[misc]

    def phone_search_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            return HttpResponse(status=403)
        form = PhoneForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Enter the full phone number with area code.")
            return HttpResponseRedirect(self._changelist_url())
        token = caller_hash(form.cleaned_data["phone"])
        if not token:  # Twilio's stand-in for a hidden caller ID: no fingerprint (hidden callers are strangers)
            messages.error(request, "That is how a hidden caller ID shows: calls from hidden numbers cannot be found.")
            return HttpResponseRedirect(self._changelist_url())
        return HttpResponseRedirect(f"{self._changelist_url()}?{urlencode({'phone': token})}")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        query = request.GET.get("q", "")
        if PHONE_LIKE.search(query):
            messages.warning(request, "To find by phone number, use the 'Find by phone number' form.")
            return HttpResponseRedirect(self._changelist_url())
        opts = self.model._meta  # type: ignore[attr-defined]
        extra = {
            **(extra_context or {}),
            "phone_search_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_phone_search"),
        }
        return super().changelist_view(request, extra_context=extra)  # type: ignore[misc]
