"""One client address for lockouts, rate limits and the audit log: the right hop of X-Forwarded-For.

Issue 11, finding 3: with production settings and gunicorn published directly, a client's own
X-Forwarded-For was believed: 25 API posts with different values all got 201 and 8 wrong admin
passwords never locked the account. The deployment half is the proxy in docker-compose
(tests/security/test_proxy_deployment.py); these tests pin the application half.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from config.security import client_ip
from helpline.admission.policy import CLIENT_LIMIT
from helpline.models import AdmissionRequest
from tests.factories import FacilityFactory, StaffFactory
from tests.helpline.admission_support import (  # noqa: F401
    api_data,
    fresh_routing_directory_fixture,
    twilio_offline_fixture,
)

PROXY = "172.18.0.5"  # the proxy container, as gunicorn sees it
CLIENT = "203.0.113.7"  # what the proxy appended: the real client
SPOOFED = ["198.51.100.1", "198.51.100.2", "192.0.2.77"]
API = "/api/v1/admission-requests/"


def _ip(xff: str | None, remote: str = PROXY) -> str:
    extra = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


@pytest.mark.parametrize(
    ("proxies", "xff", "expected"),
    [
        # No proxy: the header is the client's own words and is ignored entirely.
        (0, None, PROXY),
        (0, CLIENT, PROXY),
        (0, f"{SPOOFED[0]}, {CLIENT}", PROXY),
        # One proxy: it appended the address it saw, the right-most entry.
        (1, CLIENT, CLIENT),
        (1, f"{SPOOFED[0]}, {CLIENT}", CLIENT),
        (1, f"{SPOOFED[0]},{SPOOFED[1]} , {CLIENT}", CLIENT),
        (1, "2001:db8::7", "2001:db8::7"),
        # Two proxies (a CDN, then ours): the second from the right; the right-most is the CDN.
        (2, f"{CLIENT}, 10.0.0.9", CLIENT),
        (2, f"{SPOOFED[0]}, {SPOOFED[1]}, {CLIENT}, 10.0.0.9", CLIENT),
        # Fewer entries than proxies, or garbage where the hop should be: the peer, never the header.
        (1, None, PROXY),
        (1, "", PROXY),
        (2, CLIENT, PROXY),
        (1, f"{CLIENT}, not-an-ip", PROXY),
        (2, f"{SPOOFED[0]}, 203.0.113.7:4431, 10.0.0.9", PROXY),
    ],
)
def test_client_address_is_the_hop_written_by_our_first_proxy(proxies, xff, expected):
    with override_settings(PROXY_COUNT=proxies):
        assert _ip(xff) == expected


@pytest.mark.parametrize("proxies", [1, 2])
def test_a_spoofed_left_most_value_changes_nothing(proxies):
    """Whatever the client puts in front of the proxies' entries, the answer is the same."""
    ours = ", ".join([CLIENT, "10.0.0.9"][:proxies])
    with override_settings(PROXY_COUNT=proxies):
        honest = _ip(ours)
        assert honest == CLIENT
        for forged in (SPOOFED[0], ", ".join(SPOOFED), "unknown", "127.0.0.1"):
            assert _ip(f"{forged}, {ours}") == honest


# --- The finding, end to end, under the production value PROXY_COUNT=1 -------------------------


def _behind_proxy(client_cls, forged: str):
    """A request as the proxy delivers it: the client's forged header, then the proxy's hop."""
    return client_cls(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{forged}, {CLIENT}")


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")
@override_settings(PROXY_COUNT=1)
def test_forged_forwarded_for_values_do_not_escape_the_api_rate_limit():
    FacilityFactory(languages=["en", "es"], partner__notify_email="")
    drf_limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["admission"].split("/")[0])
    limit = min(drf_limit, CLIENT_LIMIT[0])  # the budget shared with the web form is the smaller

    statuses = [
        _behind_proxy(APIClient, f"198.51.100.{i}")
        .post(API, api_data(phone=f"512-867-53{i:02d}"), format="json")
        .status_code
        for i in range(25)
    ]

    assert statuses == [201] * limit + [429] * (25 - limit)
    assert AdmissionRequest.objects.count() == limit
    # Someone else behind the same proxy still has their own budget.
    neighbour = APIClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert neighbour.post(API, api_data(phone="512-867-5399"), format="json").status_code == 201


@pytest.mark.django_db
@override_settings(PROXY_COUNT=1)
def test_forged_forwarded_for_values_do_not_escape_the_admin_lockout():
    staff = StaffFactory()
    login = f"/{settings.ADMIN_URL}login/"
    wrong = {"username": staff.username, "password": "wrong-password-123", "next": f"/{settings.ADMIN_URL}"}

    statuses = [_behind_proxy(Client, f"198.51.100.{i}").post(login, wrong).status_code for i in range(8)]

    failures = settings.AXES_FAILURE_LIMIT
    assert statuses == [200] * (failures - 1) + [429] * (8 - failures + 1)
    right = {**wrong, "password": "a-long-test-password-1"}
    locked = _behind_proxy(Client, "192.0.2.200")
    assert locked.post(login, right).status_code == 429
    assert "_auth_user_id" not in locked.session
    # One attempt row, keyed by the real hop; none of the forged values was ever recorded.
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [CLIENT]
