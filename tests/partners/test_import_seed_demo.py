"""``seed_demo``: the demo directory, numbers, disclosure and logins; safe to run twice."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from helpline.models import DisclosureVersion, HelplineNumber
from helpline.site.directory import directory_facilities, listed_partners
from partners.directory.services import AUTO_PAUSE_REASON_PREFIX
from partners.models import SERVICE_CODES, Facility, OpeningHours, Partner, PartnerMembership

pytestmark = pytest.mark.django_db

CREDENTIALS = re.compile(r"(staff admin|partner portal)\s+username: (\S+)\s+password: (\S+)")


def _seed(capsys, *args: str) -> dict[str, tuple[str, str]]:
    call_command("seed_demo", *args)
    out = capsys.readouterr().out
    found = {kind: (user, password) for kind, user, password in CREDENTIALS.findall(out)}
    assert set(found) == {"staff admin", "partner portal"}, out
    return found


def _counts() -> dict[str, int]:
    return {
        "partners": Partner.objects.count(),
        "facilities": Facility.objects.count(),
        "hours": OpeningHours.objects.count(),
        "numbers": HelplineNumber.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": PartnerMembership.objects.count(),
        "disclosures": DisclosureVersion.objects.count(),
    }


def test_seed_demo_builds_a_directory_covering_every_service_and_exclusion(capsys):
    _seed(capsys)
    assert Partner.objects.count() == 12
    assert len({f.state for f in Facility.objects.all()}) >= 8
    offered = {code for f in directory_facilities() for code in f.services}
    assert offered == set(SERVICE_CODES)
    # One paused in the directory file, one paused automatically by the demo's calls (test_seed_demo_activity).
    paused = Partner.objects.filter(status=Partner.Status.PAUSED)
    assert paused.exclude(paused_reason__startswith=AUTO_PAUSE_REASON_PREFIX).count() == 1
    assert Partner.objects.filter(license_verified_on__isnull=True).count() == 1
    assert listed_partners().count() == 12 - paused.count() - 1
    assert Facility.objects.filter(open_24_7=True).exists()
    assert Facility.objects.filter(languages__icontains='"es"').exists()
    assert Facility.objects.exclude(service_radius_miles=None).exists()
    assert Facility.objects.exclude(service_zip_prefixes=[]).exists()
    assert Facility.objects.exclude(service_states=[]).exists()
    primary = HelplineNumber.objects.get(is_primary=True)
    assert primary.kind == HelplineNumber.Kind.GENERAL and primary.is_active
    assert HelplineNumber.objects.filter(kind=HelplineNumber.Kind.LISTING).count() >= 3
    assert DisclosureVersion.objects.count() == 1


def test_seed_demo_twice_duplicates_nothing_and_resets_passwords(capsys):
    first = _seed(capsys)
    counts = _counts()
    second = _seed(capsys)
    assert _counts() == counts
    assert first["staff admin"][1] != second["staff admin"][1]
    staff = get_user_model().objects.get(username=second["staff admin"][0])
    assert staff.check_password(second["staff admin"][1])
    assert not staff.check_password(first["staff admin"][1])


def test_printed_credentials_log_in(capsys):
    creds = _seed(capsys)
    staff_user, staff_password = creds["staff admin"]
    staff_client = Client()
    response = staff_client.post(
        reverse("admin:login"), {"username": staff_user, "password": staff_password, "next": reverse("admin:index")}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert staff_client.get(reverse("admin:index")).status_code == 200

    partner_user, partner_password = creds["partner portal"]
    partner_client = Client()
    response = partner_client.post(reverse("portal:login"), {"username": partner_user, "password": partner_password})
    assert response.status_code == 302, response.content.decode()[:2000]
    user = get_user_model().objects.get(username=partner_user)
    assert not user.is_staff
    assert user.partner_membership.partner.slug == "hill-country-recovery"


def test_given_password_is_used_for_both_logins(capsys):
    creds = _seed(capsys, "--password", "correct-horse-battery-staple-42")
    assert creds["staff admin"][1] == creds["partner portal"][1] == "correct-horse-battery-staple-42"


def test_weak_password_is_refused_and_nothing_is_seeded():
    with pytest.raises(CommandError, match="too weak"):
        call_command("seed_demo", "--password", "demo")
    assert Partner.objects.count() == 0


def test_seed_demo_keeps_staff_disclosure_wording(capsys):
    DisclosureVersion.objects.create(fees="Our own reviewed wording about flat fees per call.")
    _seed(capsys)
    assert DisclosureVersion.objects.count() == 1
    assert DisclosureVersion.objects.get().fees.startswith("Our own reviewed")
