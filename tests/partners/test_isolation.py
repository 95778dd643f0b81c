"""Partner isolation, proven by walking the URL conf (not a hand-kept list).

Every portal URL and every API route is requested as partner A's user or
token. URLs that take an object id are given partner B's object (the model
comes from the view: ``@owned(Model)`` in the portal, ``queryset.model`` in
the API) and must answer 404 (or 403/405) without changing anything; list
pages and exports must not contain any of B's identifiers.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from helpline.models import AdmissionRequest
from partners.billing import rule as billing
from partners.billing.invoices import generate_invoice
from partners.directory.services import dispute_open
from partners.models import (
    BillingDecision,
    Dispute,
    Facility,
    Invoice,
    LedgerEntry,
    Partner,
    PartnerChangeLog,
    PartnerMembership,
    WebhookDelivery,
    WebhookEvent,
)
from tests.factories import AdmissionRequestFactory, FacilityFactory, PartnerFactory, UserFactory, billed_call

# Rows are made "minutes ago" and counted by day and month: a clock far from any boundary.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quiet_clock")]

B_CALLER = "+15125554444"


def _world(name: str, caller: str, area: str) -> dict:
    partner = PartnerFactory(display_name=f"{name} Recovery Center", legal_name=f"{name} Holdings LLC")
    facility = FacilityFactory(partner=partner, name=f"{name} House")
    call, attempt = billed_call(facility=facility, caller=caller, started_at=timezone.now() - dt.timedelta(hours=1),
                                caller_area=area)  # fmt: skip
    billing.bill_call(call_id=call.pk)
    decision = BillingDecision.objects.get(dial_attempt=attempt)
    entry = LedgerEntry.objects.get(decision=decision)
    invoice = generate_invoice(partner=partner, month=timezone.now().date().replace(day=1))
    request = AdmissionRequestFactory(partner=partner, facility=facility, first_name=f"{name}first", caller=caller,
                                      created_at=timezone.now())  # fmt: skip
    user = UserFactory()
    PartnerMembership.objects.create(user=user, partner=partner)
    dispute = dispute_open(partner=partner, charge_id=entry.pk, reason=f"{name} dispute reason", by=user)
    event = WebhookEvent.objects.create(partner=partner, event="call.billed", payload={"who": name})
    hook_url = f"https://{name.lower()}.example.org/hook"
    WebhookDelivery.objects.create(
        webhook_event=event, partner=partner, attempt=1, url=hook_url, status_code=200, ok=True
    )
    return {
        "partner": partner,
        "user": user,
        "objects": {
            BillingDecision: decision,
            LedgerEntry: entry,
            Invoice: invoice,
            AdmissionRequest: request,
            Facility: facility,
            Dispute: dispute,
        },
        # Not the display name: the public disclosure on every page lists every paying partner by design.
        "markers": [
            partner.legal_name,
            facility.name,
            invoice.number,
            str(request.public_id),
            f"{name}first",
            f"{name} dispute reason",
            f"{name.lower()}.example.org",
            caller[-4:] and f"•••-•••-{caller[-4:]}",
            area,
        ],
    }


@pytest.fixture
def worlds():
    a = _world("Alpha", "+15125551111", "Alphaville, TX")
    b = _world("Bravo", B_CALLER, "Bravotown, TX")
    return a, b


def _walk(resolvers, prefix=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _include(prefix: str) -> list[tuple[str, URLPattern]]:
    resolver = next(r for r in get_resolver().url_patterns if isinstance(r, URLResolver) and str(r.pattern) == prefix)
    return list(_walk(resolver.url_patterns, prefix))


def _fill(route: str, pattern: URLPattern, obj) -> str:
    """Turn ``calls/<int:pk>/`` into ``/portal/calls/17/`` with the object's lookup value."""
    path = "/" + route
    for name in pattern.pattern.converters:
        value = getattr(obj, "public_id" if name == "public_id" else "pk")
        start = path.index("<")
        end = path.index(">", start)
        assert name in path[start:end]
        path = path[:start] + str(value) + path[end + 1 :]
    return path


def _state(partner: Partner) -> tuple:
    return (
        Partner.objects.filter(pk=partner.pk).values_list("status", flat=True).get(),
        Dispute.objects.filter(partner=partner).count(),
        PartnerChangeLog.objects.filter(partner=partner).count(),
        list(Facility.objects.filter(partner=partner).values_list("open_24_7", flat=True)),
    )


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    content = response.content
    return content.decode("utf-8", "replace") if not content.startswith(b"%PDF") else content.decode("latin-1")


def test_portal_urls_never_show_or_change_another_partners_data(client, worlds):
    a, b = worlds
    client.force_login(a["user"])
    before = _state(b["partner"])
    patterns = _include("portal/")
    assert len(patterns) >= 20
    checked_with_ids = 0
    for route, pattern in patterns:
        if pattern.name == "password_reset_confirm":
            # A signed-token URL names no partner object: B's user id with a forged token is the invalid-link page.
            uid = urlsafe_base64_encode(force_bytes(b["user"].pk))
            response = client.get(f"/portal/password-reset/{uid}/forged-token/")
            assert response.status_code == 200 and "new_password1" not in _body(response), route
            continue
        if pattern.pattern.converters:
            model = getattr(pattern.callback, "portal_model", None)
            assert model is not None, f"{route}: mark the view with @owned(Model) so isolation is tested"
            path = _fill(route, pattern, b["objects"][model])
            for method in (client.get, client.post):
                response = method(path, {"reason": "try", "open_24_7": "on"})
                assert response.status_code in (403, 404, 405), f"{method.__name__.upper()} {path}"
            checked_with_ids += 1
            # A's own object works through the same URL (the test is not vacuous).
            own = client.get(_fill(route, pattern, a["objects"][model]))
            assert own.status_code == 200, route
        else:
            if pattern.name in ("logout",):
                continue
            response = client.get("/" + route)
            assert response.status_code in (200, 302, 405), route
            body = _body(response)
            for marker in b["markers"]:
                assert marker not in body, f"{route} shows {marker!r} of partner B"
            if response.status_code == 200 and pattern.name not in ("login",):
                assert a["partner"].display_name in body or route.endswith(".csv"), route
    assert checked_with_ids >= 6
    assert _state(b["partner"]) == before


def test_portal_post_actions_change_only_the_users_partner(client, worlds):
    a, b = worlds
    client.force_login(a["user"])
    client.post("/portal/settings/pause/")
    assert Partner.objects.get(pk=a["partner"].pk).status == "paused"
    assert Partner.objects.get(pk=b["partner"].pk).status == "active"


def test_api_routes_never_show_another_partners_data(worlds):
    a, b = worlds
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=a['user']).key}")
    # (the anonymous form stamp of admission requests holds no partner data)
    patterns = [(r, p) for r, p in _include("api/v1/") if "format" not in r and p.name not in ("api-root",
                "admission-request-stamp")]  # fmt: skip
    assert patterns
    detail_checked = 0
    for route, pattern in patterns:
        viewset = pattern.callback.cls
        model = viewset.queryset.model
        if pattern.pattern.regex.groupindex:
            lookup = viewset.lookup_field
            obj = b["objects"][model]
            value = getattr(obj, lookup)
            path = "/" + re.sub(r"\(\?P<\w+>[^)]*\)", str(value), route).replace("^", "").replace("$", "")
            response = api.get(path)
            assert response.status_code == 404, f"GET {path} as partner A"
            own_value = str(getattr(a["objects"][model], lookup))
            own_path = "/" + re.sub(r"\(\?P<\w+>[^)]*\)", own_value, route).replace("^", "").replace("$", "")
            assert api.get(own_path).status_code == 200, own_path
            detail_checked += 1
        else:
            path = "/" + route.replace("^", "").replace("$", "")
            response = api.get(path)
            assert response.status_code == 200, path
            body = json.dumps(response.json())
            for marker in b["markers"]:
                assert marker not in body, f"{path} shows {marker!r} of partner B"
            for row in response.json()["results"]:
                if "partner" in row:
                    assert row["partner"] == a["partner"].pk, path
            assert response.json()["results"], f"{path}: A sees its own rows"
    assert detail_checked >= 4
