from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from helpline.site.disclosure import current_disclosure


def _primary_number() -> str:
    from helpline.models import HelplineNumber

    try:
        number = (
            HelplineNumber.objects.filter(kind=HelplineNumber.Kind.GENERAL, is_active=True)
            .order_by("-is_primary", "id")
            .values_list("number", flat=True)
            .first()
        )
    except DatabaseError:
        number = None
    return str(number) if number else settings.FALLBACK_LINE


def site(request: HttpRequest) -> dict[str, object]:
    """What every page needs: the disclosure and the helpline number (both lazy)."""
    return {
        "disclosure": SimpleLazyObject(current_disclosure),
        "helpline_number": SimpleLazyObject(_primary_number),
        "helpline_name": settings.HELPLINE_NAME,
        "fallback_line": settings.FALLBACK_LINE,
        "fallback_line_name": settings.FALLBACK_LINE_NAME,
        "crisis_line": settings.CRISIS_LINE,
    }
