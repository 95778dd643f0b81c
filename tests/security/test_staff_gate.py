"""One gate for staff data, proven by walking the URL conf (issue 11, finding 1).

With ``STAFF_REQUIRE_OTP`` on, every route of the project is requested (GET,
no redirects followed) as four personas:

(a) partner A's user, (b) a staff superuser whose session has no verified
second factor, (c) verified staff with no model permissions, (d) verified
staff holding the ``view_`` permission of every model.

Staff data is what identifies partners' callers and books across partners
(partner B's legal name, facility, invoice number, request id, caller's first
name, masked and full number, caller area, dispute text). Only (d) may see
any of it; (a) sees its own partner's rows only (the isolation test covers
that side in depth). The URL list is not kept by hand, so a staff page added
later is checked by the next run.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from helpline.models import AdmissionRequest
from tests.factories import StaffFactory, UserFactory
from tests.helpline.test_disclosure_everywhere import Values, _path_for, walk
from tests.partners.test_isolation import _world

pytestmark = pytest.mark.django_db

PERSONAS = ("partner", "unverified_staff", "staff_without_permissions", "verified_staff")


def _verify(client: Client, user: Any) -> None:
    """Log in as the admin's OTP login would: a session bound to a confirmed device."""
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def setting() -> Any:
    with override_settings(STAFF_REQUIRE_OTP=True):
        yield


@pytest.fixture
def people(setting: Any) -> dict[str, Any]:
    a = _world("Alpha", "+15125551111", "Alphaville, TX")
    b = _world("Bravo", "+15125554444", "Bravotown, TX")
    unverified = StaffFactory(username="unverified")  # a superuser: only the second factor is missing
    TOTPDevice.objects.create(user=unverified, name="phone", confirmed=True)
    bare = UserFactory(username="bare", is_staff=True)
    allowed = UserFactory(username="allowed", is_staff=True)
    allowed.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    # Facility names are public (the provider directory lists them); everything else here is not.
    public = {"Alpha House", "Bravo House"}
    a_markers = [m for m in a["markers"] if m not in public] + ["+15125551111"]
    b_markers = [m for m in b["markers"] if m not in public] + ["+15125554444"]
    return {
        "a": a,
        "b": b,
        "markers": a_markers + b_markers,
        "b_markers": b_markers,
        "users": {
            "partner": a["user"],
            "unverified_staff": unverified,
            "staff_without_permissions": bare,
            "verified_staff": allowed,
        },
    }


def _client(persona: str, people: dict[str, Any]) -> Client:
    user = people["users"][persona]
    client = APIClient()
    client.raise_request_exception = False
    if persona in ("staff_without_permissions", "verified_staff"):
        _verify(client, user)
    else:
        client.force_login(user)
    return client


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _walk(persona: str, people: dict[str, Any]) -> dict[str, tuple[int, list[str]]]:
    """Route -> (status, staff markers shown)."""
    user = people["users"][persona]
    values = Values(partner=people["a"]["partner"] if persona == "partner" else None, user=user)
    seen: dict[str, tuple[int, list[str]]] = {}
    for route in walk():
        if route.name in ("logout",) or route.route.endswith("logout/"):
            continue
        url = _path_for(route, values)
        if url is None:
            continue
        response = _client(persona, people).get(url)
        body = _body(response)
        markers = people["b_markers"] if persona == "partner" else people["markers"]
        seen[route.route] = (response.status_code, [m for m in markers if m in body])
    return seen


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_verified_staff_with_permissions_see_staff_data_on_any_route(persona, people):
    seen = _walk(persona, people)
    assert len(seen) > 100, "the walk reached the admin, portal, API and site routes"
    shown = {route: found for route, (_status, found) in seen.items() if found}
    if persona != "verified_staff":
        assert shown == {}, f"{persona} sees staff data on: {shown}"
        return
    # (d): the same walk does reach the data, so the other personas' empty result means something.
    for route in (
        "api/v1/^calls/$",
        "api/v1/^admission-requests/(?P<public_id>[^/.]+)/$",
        "admin/helpline/admissionrequest/",
        "admin/partners/invoice/",
    ):
        assert seen[route][1], f"verified staff should see data on {route}: {seen[route]}"
    assert seen["portal/staff/reports/"][0] == 200
    assert seen["staff/simulator/"][0] == 200


@pytest.mark.parametrize(
    ("persona", "staff_status", "api_status"),
    [
        ("unverified_staff", 302, 403),
        ("staff_without_permissions", 403, 403),
        ("verified_staff", 200, 200),
    ],
)
def test_staff_pages_and_the_api_answer_by_verification_then_permission(persona, staff_status, api_status, people):
    client = _client(persona, people)
    request = people["b"]["objects"][AdmissionRequest]
    for url in ("/portal/staff/reports/", "/staff/simulator/"):
        response = client.get(url)
        assert response.status_code == staff_status, url
        if staff_status == 302:
            assert response["Location"].startswith("/admin/login/"), url
    for url in ("/api/v1/calls/", "/api/v1/invoices/", f"/api/v1/admission-requests/{request.public_id}/"):
        assert client.get(url).status_code == api_status, url


def test_a_staff_token_alone_is_refused_while_the_second_factor_is_required(people):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=people['users']['verified_staff']).key}")
    assert api.get("/api/v1/calls/").status_code == 403
    with override_settings(STAFF_REQUIRE_OTP=False):
        assert api.get("/api/v1/calls/").status_code == 200


def test_staff_with_a_view_permission_for_one_model_sees_only_that_one(people):
    user = UserFactory(username="billing-only", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_invoice"))
    client = APIClient()
    _verify(client, user)
    assert client.get("/api/v1/invoices/").status_code == 200
    assert client.get("/api/v1/calls/").status_code == 403
    assert client.get("/api/v1/admission-requests/").status_code == 403


def test_a_staff_password_at_the_partner_portal_goes_to_the_admin_login(people):
    staff = people["users"]["unverified_staff"]
    client = Client()
    response = client.post("/portal/login/", {"username": staff.username, "password": "a-long-test-password-1"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert "_auth_user_id" not in client.session
    assert client.get("/api/v1/calls/").status_code in (401, 403)
    assert client.get("/portal/staff/reports/").status_code == 302
