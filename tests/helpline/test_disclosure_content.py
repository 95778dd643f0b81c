"""What the "Where do calls go?" section says, and that its partner list is live."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from helpline.models import DisclosureVersion
from partners.models import Partner
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def _section(client, url: str = "/") -> str:
    html = client.get(url).content.decode()
    match = re.search(r'<section class="disclosure" id="where-do-calls-go".*?</section>', html, re.S)
    assert match, "no disclosure section"
    return match.group(0)


def _listed(section: str) -> list[str]:
    return re.findall(r"<li>(.*?)</li>", section)


def test_default_wording_states_every_required_fact(client):
    section = _section(client)
    for fact in (
        "answered or returned by one of the treatment providers listed below",
        "paid advertiser",
        "Calls to a number shown on a specific facility's listing go to that facility.".replace("'", "&#x27;"),
        "flat fee per call",
        "does not depend on which provider you choose or on whether you enter treatment",
        "no obligation to enter treatment",
        "free, confidential and available 24/7",
        "not affiliated with Alcoholics Anonymous World Services",
    ):
        assert fact in section, fact


def test_partner_list_is_the_listed_partners_and_changes_live(client):
    PartnerFactory(display_name="Zephyr Recovery")
    alpha = PartnerFactory(display_name="Alpha Health")
    PartnerFactory(display_name="Paused Co", status=Partner.Status.PAUSED)
    PartnerFactory(display_name="Unverified Co", license_verified_on=None)
    assert _listed(_section(client)) == ["Alpha Health", "Zephyr Recovery"]
    Partner.objects.filter(pk=alpha.pk).update(status=Partner.Status.PAUSED)
    assert _listed(_section(client, reverse("terms"))) == ["Zephyr Recovery"]


def test_partner_names_are_escaped(client):
    PartnerFactory(display_name="A&B <Recovery>")
    assert _listed(_section(client)) == ["A&amp;B &lt;Recovery&gt;"]


def test_no_partners_says_where_calls_go_instead(client, settings):
    section = _section(client)
    assert "There are no paying partners at the moment" in section
    assert settings.FALLBACK_LINE_NAME in section


def test_newest_version_is_shown_and_a_blanked_statement_falls_back(client):
    DisclosureVersion.objects.create(fees="Old fee wording that staff replaced.")
    DisclosureVersion.objects.create(fees="Each provider pays one flat fee per call, whatever you decide.", intro="  ")
    section = _section(client)
    assert "Each provider pays one flat fee per call, whatever you decide." in section
    assert "Old fee wording" not in section
    # A statement blanked outside the admin cannot remove it: the default wording is shown.
    assert "Each of them is a paid advertiser." in section


def test_disclosure_is_on_admin_login_and_password_pages(client):
    section = _section(client, reverse("admin:login"))
    assert "Where do calls go?" in section
