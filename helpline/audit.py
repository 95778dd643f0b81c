"""Audit trail of access to caller data (staff admin, partner portal, API, tasks)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from helpline.models import AuditEvent


def _client_ip_hash(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    ip = request.META.get("REMOTE_ADDR", "")
    if not ip:
        return ""
    return hashlib.sha256((settings.CALLER_HASH_KEY + ip).encode()).hexdigest()


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
