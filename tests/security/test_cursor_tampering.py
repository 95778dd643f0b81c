"""A hand-made API cursor is a 400, on every paginated route, never a 500 (issue 11, finding 7).

The list routes come from the URL conf, so a paginated route added later is
covered. Each cursor below is what DRF would decode, with a position no page
of ours ever produced: a NUL, garbage, an impossible date, a time that leaves
the calendar in UTC, a naive time, junk flags, or no base64 at all.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import AdmissionRequestFactory, FacilityFactory, PartnerUserFactory, billed_call
from tests.partners.test_isolation import _include

pytestmark = pytest.mark.django_db


def _cursor(**tokens: str) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


TAMPERED = {
    "nul": _cursor(p="2026-03-01 10:00:00\x00+00:00"),
    "nul only": _cursor(p="\x00"),
    "garbage": _cursor(p="not-a-date"),
    "impossible date": _cursor(p="2026-02-30 10:00:00+00:00"),
    "past the calendar in UTC": _cursor(p="9999-12-31 23:59:59-14:00"),
    "before the calendar in UTC": _cursor(p="0001-01-01 00:00:00+14:00"),
    "year 10000": _cursor(p="10000-01-01 00:00:00+00:00"),
    "naive time": _cursor(p="2026-03-01 10:00:00"),
    "junk reverse flag": _cursor(r="x", p="2026-03-01 10:00:00+00:00"),
    "negative offset": _cursor(o="-1"),
    "not base64": "!!!%%%",
    "non-ascii": "ü" * 8,
}


@pytest.fixture
def api() -> APIClient:
    facility = FacilityFactory()
    billed_call(facility=facility)
    AdmissionRequestFactory(partner=facility.partner, facility=facility)
    client = APIClient(raise_request_exception=False)
    user = PartnerUserFactory(partner=facility.partner)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _list_paths() -> list[str]:
    routes = [
        r for r, p in _include("api/v1/")
        if "format" not in r and p.name not in ("api-root", "admission-request-stamp") and "(?P<" not in r
    ]  # fmt: skip
    return ["/" + r.replace("^", "").replace("$", "") for r in routes]


def test_every_paginated_route_is_walked():
    assert set(_list_paths()) >= {
        "/api/v1/calls/", "/api/v1/billing-entries/", "/api/v1/invoices/", "/api/v1/admission-requests/",
    }  # fmt: skip


@pytest.mark.parametrize("name", list(TAMPERED))
def test_a_tampered_cursor_is_a_400_on_every_list(api, name):
    for path in _list_paths():
        response = api.get(path, {"cursor": TAMPERED[name]})
        assert response.status_code == 400, f"{path} with a {name} cursor: {response.status_code}"
        assert response.json() == {"detail": "Invalid cursor"}


def test_the_cursors_we_make_still_page(api):
    for path in _list_paths():
        first = api.get(path, {"page_size": 1})
        assert first.status_code == 200, path
        if first.json()["next"]:
            assert api.get(first.json()["next"]).status_code == 200, path


@pytest.mark.parametrize(
    "before",
    [
        "2026-03-01T10:00:00+00:00~99999999999999999999",  # past a bigint
        "2026-03-01T10:00:00~1",  # no zone: not one we made
        "2026-03-01T1O:00:00+00:00~1",  # a letter O for a zero
        "not-a-cursor",
    ],
)
def test_portal_lists_answer_a_bad_cursor_with_a_400_that_links_to_the_first_page(client, before):
    """Like the API: a cursor we did not make is a 400 saying so, never page one as if the link worked."""
    facility = FacilityFactory()
    billed_call(facility=facility)
    client.raise_request_exception = False
    client.force_login(PartnerUserFactory(partner=facility.partner))
    for path in ("/portal/calls/", "/portal/requests/", "/portal/ledger/", "/portal/webhooks/"):
        response = client.get(path, {"before": before, "billable": "yes"})
        assert response.status_code == 400, path
        body = response.content.decode()
        assert "This page link is not valid" in body, path
        assert f'href="{path}?billable=yes"' in body, path  # the first page, filters kept
    # A NUL anywhere in the address is dropped before any view (config's middleware); what is left is
    # still not a cursor we made: the list's 400 too.
    assert client.get("/portal/calls/", {"before": "2026-03-01T10:00\x00~1"}).status_code == 400
