"""API token authentication that refuses malformed keys before they reach the database."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token auth; a key that is not 1–40 ASCII letters and digits is refused as invalid.

    DRF's keys are 40 hexadecimal characters. Anything else (a NUL byte, say) would
    otherwise go into the lookup, and PostgreSQL rejects NUL in text with a 500.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not (0 < len(key) <= 40 and key.isascii() and key.isalnum()):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
