"""Audit trail of access to caller data (staff admin, partner portal, API, tasks).

Rows say who, where, which object and which field *names* were seen or
changed, never the values: the audit log must not become a second copy of
the caller data it protects.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.admin.utils import unquote
from django.db import models
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from encrypted_fields.fields import EncryptedFieldMixin

from helpline.models import AuditEvent


def _client_ip_hash(request: HttpRequest | None) -> str:
    """Keyed hash of the client address (behind the proxy), so staff access can be correlated, not tracked."""
    if request is None:
        return ""
    from config.security import client_ip

    ip = client_ip(request)
    if not ip:
        return ""
    return hmac.new(settings.CALLER_HASH_KEY.encode(), f"ip:{ip}".encode(), hashlib.sha256).hexdigest()


def audit_record(
    *,
    request: HttpRequest | None,
    where: str,
    action: str,
    obj: models.Model,
    fields: Iterable[str] = (),
) -> AuditEvent:
    """Append one audit row: who, where, what object, which field names (never values)."""
    user = getattr(request, "user", None) if request is not None else None
    authenticated = bool(user is not None and user.is_authenticated)
    return AuditEvent.objects.create(
        actor=user if authenticated else None,
        actor_label=user.get_username() if authenticated and user is not None else "system",
        where=where,
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        fields=sorted(set(fields)),
        ip_hash=_client_ip_hash(request),
    )


def caller_data_fields(model: type[models.Model]) -> list[str]:
    """Names of a model's encrypted fields: the caller data a detail page shows."""
    return sorted(f.name for f in model._meta.get_fields() if isinstance(f, EncryptedFieldMixin))


class AuditedAdminMixin:
    """Mix into a ``ModelAdmin`` whose objects hold caller data.

    Records one ``AuditEvent`` (where="admin") when a staff member opens an
    object's page (``view``, with the names in ``audit_fields``), saves it
    (``change``, with the names of the fields the form changed) or deletes it
    (``delete``). Values are never recorded.

    ``audit_fields`` defaults to the model's encrypted fields; set it for models
    whose caller data is elsewhere (e.g. a related object's fields)::

        @admin.register(Call)
        class CallAdmin(AuditedAdminMixin, admin.ModelAdmin):
            ...
    """

    audit_where = "admin"
    audit_fields: Iterable[str] | None = None
    model: type[models.Model]

    def get_audit_fields(self) -> list[str]:
        if self.audit_fields is not None:
            return list(self.audit_fields)
        return caller_data_fields(self.model)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        # A page that rendered (200) showed the object, whether GET or a POST with form errors.
        if response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            if obj is not None:
                audit_record(
                    request=request,
                    where=self.audit_where,
                    action=AuditEvent.Action.VIEW,
                    obj=obj,
                    fields=self.get_audit_fields(),
                )
        return response

    def save_model(self, request: HttpRequest, obj: models.Model, form: Form, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        audit_record(
            request=request,
            where=self.audit_where,
            action=AuditEvent.Action.CHANGE,
            obj=obj,
            fields=form.changed_data,
        )

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        audit_record(
            request=request,
            where=self.audit_where,
            action=AuditEvent.Action.DELETE,
            obj=obj,
            fields=self.get_audit_fields(),
        )
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:  # type: ignore[type-arg]
        for obj in queryset:
            audit_record(
                request=request,
                where=self.audit_where,
                action=AuditEvent.Action.DELETE,
                obj=obj,
                fields=self.get_audit_fields(),
            )
        super().delete_queryset(request, queryset)  # type: ignore[misc]
