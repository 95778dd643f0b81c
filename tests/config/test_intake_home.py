"""The intake home: the admin's landing page counts what needs a person, and each count opens exactly those rows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.utils import timezone

from helpline.models import AdmissionRequest, Call, DialAttempt
from partners.models import Partner, WebhookEvent
from tests.factories import FacilityFactory, PartnerFactory, StaffFactory

pytestmark = pytest.mark.django_db
ADMIN = "/" + settings.ADMIN_URL.strip("/") + "/"


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def make_call(n: int, **extra) -> Call:
    fields = {
        "call_sid": f"CAintake{n:06d}",
        "caller_number": f"+1512555{n:04d}",
        "caller_area": "Austin, TX",
        "location_source": "zip",
        "service": "mat",
        "status": Call.Status.COMPLETED,
    }
    fields.update(extra)
    return Call.objects.create(**fields)


def make_request(n: int, **extra) -> AdmissionRequest:
    fields = {
        "for_whom": "myself",
        "first_name": "Sam",
        "phone": f"+1512867{n:04d}",
        "phone_hash": f"hash{n}",
        "zip_code": "78701",
        "state": "TX",
        "service": "detox",
        "consent_text": "ok",
        "consent_version": "1",
        "consented_at": timezone.now(),
    }
    fields.update(extra)
    return AdmissionRequest.objects.create(**fields)


def failed_legs(req: AdmissionRequest, facility, count: int) -> None:
    for seq in range(1, count + 1):
        DialAttempt.objects.create(
            admission_request=req,
            sequence=seq,
            partner=facility.partner,
            facility=facility,
            outcome=DialAttempt.Outcome.NO_ANSWER,
            ended_at=timezone.now(),
        )


def busy_helpline(*, scale: int = 1, start: int = 0) -> dict[str, int]:
    """Rows of every kind the home counts, ``scale`` times over; returns the expected counts."""
    now = timezone.now()
    facility = FacilityFactory()
    for i in range(start, start + scale):
        make_call(100 + i, needs_followup=True, status=Call.Status.FALLBACK, connected_partner=None)
        make_call(200 + i, status=Call.Status.DIALING, started_at=now - dt.timedelta(seconds=40))
        make_call(300 + i, status=Call.Status.CONNECTED, connected_partner=facility.partner)
        make_call(400 + i)  # finished, nothing to do
        make_request(1000 + i, status=AdmissionRequest.Status.UNROUTED, needs_attention=True)
        make_request(1100 + i, status=AdmissionRequest.Status.UNREACHABLE, needs_attention=True)
        make_request(
            1200 + i,
            status=AdmissionRequest.Status.ROUTED,
            partner=facility.partner,
            window_start=now - dt.timedelta(hours=2),
        )
        failing = make_request(1300 + i, status=AdmissionRequest.Status.NOTIFIED, partner=facility.partner)
        failed_legs(failing, facility, 4)
        make_request(
            1400 + i,
            status=AdmissionRequest.Status.NOTIFIED,
            partner=facility.partner,
            next_action_at=now + dt.timedelta(minutes=20),
        )
        make_request(1500 + i, status=AdmissionRequest.Status.CONNECTED, partner=facility.partner)
        PartnerFactory(status=Partner.Status.PAUSED, paused_reason="auto-paused: 3 unanswered or failed calls")
        PartnerFactory(status=Partner.Status.PAUSED, paused_reason="Paused by staff: invoice")
        WebhookEvent.objects.create(partner=facility.partner, event="call.connected", attempts=2)
        WebhookEvent.objects.create(partner=facility.partner, event="call.connected", status="failed", attempts=8)
        WebhookEvent.objects.create(partner=facility.partner, event="call.connected", status="delivered", attempts=1)
    return {
        "followup": scale,
        "attention": 4 * scale,
        "due": scale,
        "paused": scale,
        "webhooks": 2 * scale,
    }


def tile_counts(html: str) -> dict[str, tuple[int, str]]:
    found = re.findall(
        r'data-tile="(\w+)".*?<a href="([^"]+)"><span class="intake-count" data-count>(\d+)</span>', html, re.S
    )
    return {key: (int(count), url.replace("&amp;", "&")) for key, url, count in found}


def changelist_total(client, url: str) -> int:
    """The number of rows the admin list says it has (its paginator line)."""
    response = client.get(url)
    assert response.status_code == 200, url
    match = re.search(r'<p class="paginator">\s*(\d+) ', response.content.decode())
    assert match, url
    return int(match.group(1))


def test_admin_opens_on_the_intake_home_with_every_count_and_the_model_list_one_click_away(staff_client):
    expected = busy_helpline()
    if apps.is_installed("helpline.site.guides"):
        expected["guides"] = 0  # no published guide is past its review date here
    response = staff_client.get(ADMIN)
    assert response.status_code == 200
    html = response.content.decode()
    counts = tile_counts(html)
    assert {key: count for key, (count, _url) in counts.items()} == expected
    assert 'href="/admin/models/"' in html
    assert staff_client.get(ADMIN + "models/").status_code == 200
    # The calls in progress are on the page before any script runs; no caller number anywhere.
    assert "Calls in progress" in html and "data-live-count>2<" in html
    assert "5550200" not in html and "5550300" not in html


def test_each_count_links_to_a_list_filtered_to_exactly_those_rows(staff_client):
    busy_helpline(scale=2)
    counts = tile_counts(staff_client.get(ADMIN).content.decode())
    for key, (count, url) in counts.items():
        assert "?" in url, key
        assert changelist_total(staff_client, url) == count, (key, url)


def test_the_home_reads_a_handful_of_queries_however_busy(staff_client, django_assert_max_num_queries):
    busy_helpline(scale=1)
    staff_client.get(ADMIN)  # warm the session and the content types
    with django_assert_max_num_queries(14):
        small = staff_client.get(ADMIN)
    busy_helpline(scale=12, start=50)
    with django_assert_max_num_queries(14):
        big = staff_client.get(ADMIN)
    assert small.status_code == big.status_code == 200


def test_a_request_with_four_failed_callback_legs_needs_attention(staff_client):
    facility = FacilityFactory()
    req = make_request(1, status=AdmissionRequest.Status.CALLBACK_ATTEMPTED, partner=facility.partner)
    failed_legs(req, facility, 4)
    html = staff_client.get(ADMIN + "helpline/admissionrequest/?attention=any").content.decode()
    assert str(req.public_id)[:8] in html
    home = staff_client.get(ADMIN).content.decode()
    assert "4 callback legs failed" in home


def test_a_held_request_says_it_waits_for_approval_and_has_its_own_count(staff_client):
    held = make_request(1, status=AdmissionRequest.Status.HELD, created_at=timezone.now() - dt.timedelta(hours=2))
    home = staff_client.get(ADMIN).content.decode()
    assert "Held for approval" in home and "Overdue" not in home.split("Held for approval")[0][-200:]
    chip = re.search(
        r'<a href="([^"]+)" title="Held by the new-number breaker[^"]*"[^>]*>Held <strong>1</strong>', home
    )
    assert chip, "the breakdown counts held requests"
    assert changelist_total(staff_client, chip.group(1).replace("&amp;", "&")) == 1
    listed = staff_client.get(ADMIN + "helpline/admissionrequest/?attention=held").content.decode()
    assert str(held.public_id)[:8] in listed


def test_live_calls_endpoint_is_staff_only_and_names_no_caller(staff_client):
    make_call(1, status=Call.Status.CONNECTED, service="dual_diagnosis", caller_area="Portland, OR")
    make_call(2)  # finished
    url = ADMIN + "intake/live-calls.json"
    assert Client().get(url).status_code == 302  # anonymous: to the login page
    data = staff_client.get(url).json()
    assert data["count"] == 1
    (call,) = data["calls"]
    assert call["service"] == "Dual diagnosis"
    assert call["area"] == "Portland, OR (ZIP code the caller gave)"
    assert call["status"] == "Connected"
    assert call["started"].endswith(("EST", "EDT"))
    assert "5550001" not in staff_client.get(url).content.decode()


def test_the_home_runs_no_inline_script_and_the_refresh_script_is_served(staff_client):
    html = staff_client.get(ADMIN).content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert any("js/intake-live.js" in attrs for attrs, _ in scripts)


def test_times_are_in_the_staff_time_zone_with_its_abbreviation(staff_client, settings):
    settings.STAFF_TIME_ZONE = "America/Los_Angeles"
    make_call(1, status=Call.Status.CONNECTED, started_at=dt.datetime(2026, 7, 4, 19, 5, tzinfo=dt.UTC))
    data = staff_client.get(ADMIN + "intake/live-calls.json").json()
    assert data["calls"][0]["started"] == "12:05 PM PDT"


def test_guides_past_review_appear_only_when_the_guides_app_is_installed(staff_client):
    from django.apps import apps

    html = staff_client.get(ADMIN).content.decode()
    assert ('data-tile="guides"' in html) == apps.is_installed("helpline.site.guides")


def test_staff_see_only_the_tiles_of_models_they_may_view(client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    busy_helpline()
    user = UserFactory(username="calls-only", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_call"))
    client.force_login(user)
    html = client.get(ADMIN).content.decode()
    assert set(tile_counts(html)) == {"followup"}
    assert "Calls in progress" in html
    user.user_permissions.set(Permission.objects.filter(codename="view_partner"))
    assert client.get(ADMIN + "intake/live-calls.json").status_code == 403
