"""Malformed API tokens are a clean 401, never a database error."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from tests.factories import PartnerUserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", ["a\x00b", "x" * 41, "not-hex-but-dashes", "ünïcode", " "])
def test_malformed_token_is_refused_with_401(client, key):
    response = client.get("/api/v1/calls/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Invalid token")


def test_a_real_partner_token_still_works(client):
    user = PartnerUserFactory()
    token = Token.objects.create(user=user)
    response = client.get("/api/v1/calls/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
