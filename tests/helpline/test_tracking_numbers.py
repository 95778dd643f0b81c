"""Tracking numbers: a page shows its source's number; a call to it routes like a general call, with its source."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from helpline.admin.numbers import HelplineNumberForm
from helpline.attribution import forget_tracking_numbers
from helpline.models import Call, HelplineNumber, SourceKind
from tests.factories import HelplineNumberFactory
from tests.helpline.voice_support import make_directory

pytestmark = pytest.mark.django_db


GENERAL = "+18885550100"
GUIDE_NUMBER = "+18885550177"
CAMPAIGN_NUMBER = "+18885550188"


@pytest.fixture(autouse=True)
def _fresh_tracking_numbers():
    forget_tracking_numbers()
    yield
    forget_tracking_numbers()


@pytest.fixture
def numbers():
    HelplineNumberFactory(number=GENERAL, kind=HelplineNumber.Kind.GENERAL, is_primary=True)
    guide = HelplineNumberFactory(
        number=GUIDE_NUMBER, kind=HelplineNumber.Kind.TRACKING, source_kind=SourceKind.GUIDE, source_key="klonopin"
    )
    campaign = HelplineNumberFactory(
        number=CAMPAIGN_NUMBER,
        kind=HelplineNumber.Kind.TRACKING,
        source_kind=SourceKind.CAMPAIGN,
        source_key="spring-ads",
    )
    return guide, campaign


def _header_number(html: str) -> str:
    match = re.search(r'<a class="call-button" href="tel:(\+\d+)" data-testid="header-call">', html)
    assert match, "no header call button"
    return match.group(1)


# --- The number a page shows ------------------------------------------------------------------------


@pytest.mark.urls("tests.helpline.urls_attribution")
def test_a_guide_page_shows_its_tracking_number_everywhere_on_the_page(client, numbers):
    html = client.get("/guides/klonopin/").content.decode()
    assert _header_number(html) == GUIDE_NUMBER
    assert GENERAL not in html


@pytest.mark.urls("tests.helpline.urls_attribution")
def test_a_guide_without_a_tracking_number_shows_the_general_number(client, numbers):
    assert _header_number(client.get("/guides/alcohol/").content.decode()) == GENERAL


def test_pages_without_a_source_show_the_general_number(client, numbers):
    for url in ("/", "/terms/", "/request-a-callback/", "/no-such-page/"):
        assert _header_number(client.get(url).content.decode()) == GENERAL, url


@pytest.mark.urls("tests.helpline.urls_attribution")
def test_an_inactive_tracking_number_is_never_shown(client, numbers):
    guide, _campaign = numbers
    guide.is_active = False
    guide.save()
    assert _header_number(client.get("/guides/klonopin/").content.decode()) == GENERAL


@pytest.mark.urls("tests.helpline.urls_attribution")
def test_a_campaign_visit_shows_the_campaigns_number_on_every_page_of_the_visit(client, numbers):
    home = client.get("/", {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "Spring-Ads"})
    assert _header_number(home.content.decode()) == CAMPAIGN_NUMBER
    assert _header_number(client.get("/terms/").content.decode()) == CAMPAIGN_NUMBER
    # The campaign paid for the visit: its number wins over the guide's.
    assert _header_number(client.get("/guides/klonopin/").content.decode()) == CAMPAIGN_NUMBER


def test_a_campaign_without_a_number_shows_the_general_number(client, numbers):
    assert _header_number(client.get("/", {"utm_campaign": "autumn"}).content.decode()) == GENERAL


# --- A call to a tracking number ---------------------------------------------------------------------


def test_a_tracking_number_call_goes_through_the_menu_and_routing_and_keeps_its_source(capsys, numbers):
    make_directory(number="+18885550199")
    call_command(
        "simulate_call", "--in-process", "--from", "+15125550123", "--to", GUIDE_NUMBER,
        "--digits", "1", "--from-zip", "78701", "--partner-outcomes", "answer+1",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Caller presses 1" in out  # the service menu, unlike a listing number's straight line
    call = Call.objects.get()
    assert (call.source_kind, call.source_key) == ("guide", "klonopin")
    assert call.helpline_number is not None and call.helpline_number.number == GUIDE_NUMBER
    assert call.listing_facility is None
    assert call.routing_decision is not None and call.connected_partner is not None
    assert call.status == Call.Status.COMPLETED


def test_a_campaign_number_call_is_recorded_with_the_campaign(numbers):
    make_directory(number="+18885550199")
    call_command("simulate_call", "--in-process", "--to", CAMPAIGN_NUMBER, "--digits", "2", "--from-zip", "78701")
    call = Call.objects.get()
    assert (call.source_kind, call.source_key) == ("campaign", "spring-ads")


def test_a_general_number_call_is_direct(numbers):
    make_directory(number="+18885550199")
    call_command("simulate_call", "--in-process", "--to", GENERAL, "--digits", "1", "--from-zip", "78701")
    call = Call.objects.get()
    assert (call.source_kind, call.source_key) == ("", "")


def test_moving_a_number_to_another_source_does_not_rewrite_past_calls(numbers):
    guide, _campaign = numbers
    make_directory(number="+18885550199")
    call_command("simulate_call", "--in-process", "--to", GUIDE_NUMBER, "--digits", "1", "--from-zip", "78701")
    guide.source_key = "xanax"
    guide.save()
    assert Call.objects.get().source_key == "klonopin"


# --- Setting numbers up ------------------------------------------------------------------------------


def _form(**data):
    base = {"number": "+18885550166", "kind": "tracking", "is_active": "on", "label": "", "facility": ""}
    return HelplineNumberForm(data={**base, **data})


def test_admin_sets_up_a_campaign_number_with_its_name_as_links_carry_it():
    form = _form(source_kind="campaign", source_key="  Spring Ads <2027> ")
    assert form.is_valid(), form.errors
    number = form.save()
    assert (number.source_kind, number.source_key) == ("campaign", "spring ads 2027")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"source_kind": "", "source_key": "klonopin"}, "source_kind", "Say what this number tracks"),
        ({"source_kind": "guide", "source_key": "Klon opin!"}, "source_key", "named by its slug"),
        ({"source_kind": "campaign", "source_key": "<>"}, "source_key", "Name the campaign"),
        ({"kind": "general", "source_kind": "guide", "source_key": "klonopin"}, "source_kind", "Only a tracking"),
    ],
)
def test_admin_refuses_a_tracking_number_without_a_clear_source(data, field, message):
    form = _form(**data)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_admin_refuses_a_second_active_number_for_one_source(numbers, monkeypatch):
    monkeypatch.setattr("helpline.admin.numbers.guide_exists", lambda slug: slug == "klonopin")  # no guides loaded here
    form = _form(source_kind="guide", source_key="klonopin")
    assert not form.is_valid()
    assert "already tracks this" in " ".join(form.errors["source_key"])
    assert _form(source_kind="guide", source_key="klonopin", is_active="").is_valid()


def test_admin_refuses_a_guide_that_does_not_exist_once_guides_are_installed(monkeypatch):
    monkeypatch.setattr("helpline.admin.numbers.guide_exists", lambda slug: slug == "klonopin")
    assert _form(source_kind="guide", source_key="klonopin").is_valid()
    form = _form(source_kind="guide", source_key="no-such-guide")
    assert not form.is_valid()
    assert "There is no guide with the slug 'no-such-guide'" in form.errors["source_key"][0]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "tracking", "source_kind": "", "source_key": ""},
        {"kind": "tracking", "source_kind": "guide", "source_key": ""},
        {"kind": "general", "source_kind": "campaign", "source_key": "spring"},
    ],
)
def test_the_database_refuses_a_number_whose_kind_and_source_disagree(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        HelplineNumber.objects.create(number="+18885550155", **fields)


def test_the_database_refuses_two_active_numbers_for_one_source(numbers):
    with pytest.raises(IntegrityError), transaction.atomic():
        HelplineNumber.objects.create(
            number="+18885550155", kind="tracking", source_kind="guide", source_key="klonopin"
        )
