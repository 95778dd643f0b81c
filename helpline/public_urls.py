"""The one builder of public URLs: absolute URLs on ``PUBLIC_BASE_URL``, never on a request's Host header.

Links in emails, texts and partner webhooks, the URLs Twilio requests (and
signs), canonical links, JSON-LD and robots.txt all name the site the same
way, so a change of address is one setting. Templates use ``absolute_url``
from the ``clearline`` tag library.
"""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    """``/portal/requests/<id>/`` → ``https://helpline.example.org/portal/requests/<id>/``."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + path
