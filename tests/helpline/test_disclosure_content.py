"""What the "Where do calls go?" section says, and that its partner list is live."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from helpline.models import DisclosureVersion
from helpline.site.disclosure import dollars
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
        "flat fee per call, set in advance",
        "never pays more because a caller chooses them or enters treatment",
        "providers are never ordered by what they pay",
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


def _fees_today(section: str) -> str | None:
    match = re.search(r'<p data-testid="disclosure-fees-today">(.*?)</p>', section, re.S)
    return match.group(1) if match else None


def test_fees_today_are_the_range_of_listed_partners_prices(client):
    PartnerFactory(price_per_call_cents=3500)
    PartnerFactory(price_per_call_cents=5500)
    PartnerFactory(price_per_call_cents=4250)
    PartnerFactory(price_per_call_cents=9900, status=Partner.Status.PAUSED)  # not listed: pays nothing now
    PartnerFactory(price_per_call_cents=1000, license_verified_on=None)
    assert _fees_today(_section(client)) == "Today that fee is $35\u2013$55 per call, depending on the provider."


def test_fees_today_follow_a_price_change_and_a_pause_on_the_next_page(client):
    low = PartnerFactory(price_per_call_cents=3500)
    high = PartnerFactory(price_per_call_cents=5500)
    low.price_per_call_cents = 3750
    low.save()
    assert "$37.50\u2013$55 per call" in _fees_today(_section(client))
    # A pause written as a queryset update (as the automatic pause does) sends no signal: still right.
    Partner.objects.filter(pk=high.pk).update(status=Partner.Status.PAUSED)
    assert _fees_today(_section(client, reverse("terms"))) == (
        "Today that fee is $37.50 per call, the same for every provider."
    )


def test_no_fee_amount_is_claimed_without_paying_partners(client):
    assert _fees_today(_section(client)) is None


def test_disclosure_costs_one_query_for_names_and_fees(client, django_assert_num_queries):
    from helpline.site.disclosure import current_disclosure

    PartnerFactory.create_batch(3)
    with django_assert_num_queries(2):  # the newest wording; the listed partners with their prices
        disclosure = current_disclosure()
    assert len(disclosure.partners) == 3
    assert disclosure.fee_range == "$45"


@pytest.mark.parametrize(("cents", "shown"), [(3500, "$35"), (3750, "$37.50"), (5, "$0.05"), (123400, "$1,234")])
def test_fee_amounts_are_written_as_people_write_them(cents, shown):
    assert dollars(cents) == shown


def test_who_answers_is_beside_the_number_in_the_header_of_every_page(client):
    for url in ("/", reverse("terms"), reverse("admission_request"), "/no-such-page/"):
        html = client.get(url).content.decode()
        header = re.search(r'<div class="header-call">(.*?)</div>', html, re.S)
        assert header, url
        assert 'data-testid="header-call"' in header.group(1), url
        assert '<a class="who-answers" href="#where-do-calls-go"' in header.group(1), url


def test_migration_appends_truthful_fees_only_over_the_old_default_wording():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("helpline.migrations.0007_disclosure_fees_set_in_advance")
    old = DisclosureVersion.objects.create(fees=migration.OLD_FEES, intro="Our own reviewed intro, kept as written.")
    migration.append_truthful_fees(apps, None)
    newest = DisclosureVersion.objects.order_by("-created_at", "-id").first()
    assert newest.pk != old.pk
    assert newest.fees == migration.NEW_FEES == DisclosureVersion().fees
    assert newest.intro == "Our own reviewed intro, kept as written."
    assert DisclosureVersion.objects.get(pk=old.pk).fees == migration.OLD_FEES  # never edited

    DisclosureVersion.objects.create(fees="Staff wording about flat fees, set in advance.")
    migration.append_truthful_fees(apps, None)
    assert DisclosureVersion.objects.count() == 3  # staff's own wording is left alone
