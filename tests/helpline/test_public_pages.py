"""Public pages: home, types of care, directory, terms, privacy."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from helpline.models import HelplineNumber
from helpline.site.service_content import PAGES
from partners.models import SERVICE_CODES, Partner
from tests.factories import FacilityFactory, HelplineNumberFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _main(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def test_home_shows_the_primary_general_number_as_a_tap_to_call_link(client):
    HelplineNumberFactory(number="+18885550111", kind="general")
    HelplineNumberFactory(number="+18885550100", kind="general", is_primary=True)
    html = client.get(reverse("home")).content.decode()
    assert '<a class="call-button call-button--big" href="tel:+18885550100"' in html
    assert "1-888-555-0100" in _main(html)
    assert "+18885550111" not in html


def test_home_never_shows_an_inactive_or_listing_number(client, settings):
    HelplineNumberFactory(number="+18885550100", kind="general", is_primary=True, is_active=False)
    HelplineNumberFactory(number="+18665550110", kind="listing", facility=FacilityFactory())
    html = client.get(reverse("home")).content.decode()
    assert "tel:+18885550100" not in html and "tel:+18665550110" not in html
    assert f'href="tel:{settings.FALLBACK_LINE}"' in html  # nothing configured: the 24/7 fallback line


def test_home_explains_the_call_and_links_to_a_callback(client):
    html = _main(client.get(reverse("home")).content.decode())
    assert "What happens when you call" in html
    for step in ("A short greeting.", "You choose.", "We connect you.", "No obligation."):
        assert step in html
    assert "pay to advertise" in html
    assert f'href="{reverse("admission_request")}"' in html


def test_crisis_numbers_come_before_the_main_content(client):
    html = client.get(reverse("home")).content.decode()
    crisis = html.index('data-testid="crisis-bar"')
    main = html.index('<main id="main"')
    assert crisis < main
    bar = html[crisis:main]
    assert 'href="tel:911"' in bar and 'href="tel:988"' in bar and 'href="tel:+18002221222"' in bar
    assert "1-800-222-1222" in bar


def test_pages_have_language_skip_link_landmarks_and_one_heading(client):
    for url in (reverse("home"), reverse("services"), reverse("directory"), reverse("terms"), reverse("privacy")):
        html = client.get(url).content.decode()
        assert '<html lang="en">' in html
        assert '<a class="skip-link" href="#main">' in html and 'id="main"' in html
        assert "<header" in html and "<nav" in html and "<footer" in html
        assert len(re.findall(r"<h1[ >]", html)) == 1, url
        assert "<script" not in html  # no scripts: CSP 'self' and fast on phones


@pytest.mark.parametrize("code", SERVICE_CODES)
def test_each_service_has_a_plain_language_page(client, code):
    response = client.get(reverse("service_detail", args=[code]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1>{PAGES[code].title}</h1>" in html
    assert "Questions to ask a provider" in html
    assert f'href="{reverse("directory")}?service={code}"' in html


def test_unknown_service_is_a_404_with_the_helpline(client):
    response = client.get("/treatment/rehab-now/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_services_index_links_every_service(client):
    html = client.get(reverse("services")).content.decode()
    for code in SERVICE_CODES:
        assert f'href="{reverse("service_detail", args=[code])}"' in html


def test_terms_and_privacy_say_what_happens_to_data(client, settings):
    settings.CALLER_DATA_RETENTION_DAYS = 45
    privacy = _main(client.get(reverse("privacy")).content.decode())
    for phrase in ("What we collect", "encrypted", "We do not record calls", "45 days", "STOP",
                   "Each provider sees only their own callers"):  # fmt: skip
        assert phrase in privacy, phrase
    terms = _main(client.get(reverse("terms")).content.decode())
    for phrase in (
        "pay us to advertise",
        "flat fee",
        "No obligation",
        "STOP",
        "not affiliated with Alcoholics Anonymous",
    ):
        assert phrase in terms, phrase


# --- Directory ------------------------------------------------------------------------


def _names(response) -> list[str]:
    return re.findall(r'<h2 class="facility-name">(.*?)</h2>', response.content.decode())


def test_directory_lists_only_active_facilities_of_listed_partners(client):
    FacilityFactory(name="Open Door Austin")
    FacilityFactory(name="Closed Wing", is_active=False)
    FacilityFactory(name="Paused Place", partner=PartnerFactory(status=Partner.Status.PAUSED))
    FacilityFactory(name="Unverified Place", partner=PartnerFactory(license_verified_on=None))
    response = client.get(reverse("directory"))
    assert _names(response) == ["Open Door Austin"]


def test_directory_shows_a_facility_listing_number_else_the_general_number(client):
    HelplineNumberFactory(number="+18885550100", is_primary=True)
    listed = FacilityFactory(name="Has Listing", city="Austin")
    HelplineNumberFactory(number="+18665550110", kind=HelplineNumber.Kind.LISTING, facility=listed)
    retired = FacilityFactory(name="Retired Listing", city="Dallas", zip_code="75201")
    HelplineNumberFactory(number="+18665550120", kind=HelplineNumber.Kind.LISTING, facility=retired, is_active=False)
    html = client.get(reverse("directory")).content.decode()
    cards = dict(re.findall(r'<h2 class="facility-name">(.*?)</h2>(.*?)</li>', html, re.S))
    assert 'href="tel:+18665550110"' in cards["Has Listing"]
    assert "Call this facility: 1-866-555-0110" in re.sub(r"<[^>]+>", "", cards["Has Listing"])
    assert 'href="tel:+18885550100"' in cards["Retired Listing"]
    assert "+18665550120" not in html and "1-866-555-0120" not in html


def test_directory_filters_by_state_and_service(client):
    FacilityFactory(name="Austin Detox", state="TX", services=["detox"])
    FacilityFactory(name="Austin Outpatient", state="TX", services=["outpatient"])
    FacilityFactory(name="Miami IOP", state="FL", zip_code="33130", services=["iop", "outpatient"],
                    service_states=["FL"])  # fmt: skip
    assert _names(client.get(reverse("directory"), {"state": "TX"})) == ["Austin Detox", "Austin Outpatient"]
    # Ordered by state, city, name; "outpatient" must not match "iop" or the other way round.
    assert _names(client.get(reverse("directory"), {"service": "outpatient"})) == ["Miami IOP", "Austin Outpatient"]
    assert _names(client.get(reverse("directory"), {"service": "iop"})) == ["Miami IOP"]
    assert _names(client.get(reverse("directory"), {"state": "FL", "service": "detox"})) == []
    empty = client.get(reverse("directory"), {"state": "WY"}).content.decode()
    assert "No listed facility matches" in empty


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"state": "ZZ"}, "ZZ is not a US state code"),
        ({"service": "rehab"}, "rehab is not a type of care we list"),
        ({"page": "abc"}, "The page number must be a whole number"),
        ({"page": "0"}, "Pages start at 1"),
        ({"page": "7"}, "There is no page 7; there are 1"),
        ({"state": "<script>alert(1)</script>"}, "&lt;script&gt;alert(1)&lt;/script&gt; is not a US state code"),
    ],
)
def test_bad_directory_filters_get_a_clear_message_not_a_500(client, params, message):
    FacilityFactory()
    response = client.get(reverse("directory"), params)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'role="alert"' in html
    assert "<script>alert(1)</script>" not in html


def test_directory_paginates_and_keeps_the_filters(client):
    partner = PartnerFactory()
    for i in range(23):
        FacilityFactory(partner=partner, name=f"Site {i:02d}", services=["mat"])
    first = client.get(reverse("directory"), {"service": "mat"})
    assert len(_names(first)) == 20
    assert 'href="?service=mat&amp;page=2"' in first.content.decode()
    second = client.get(reverse("directory"), {"service": "mat", "page": "2"})
    assert len(_names(second)) == 3
    assert "Page 2 of 2" in second.content.decode()


def test_directory_query_count_does_not_grow_with_facilities(client, django_assert_max_num_queries):
    HelplineNumberFactory(is_primary=True)
    for _ in range(15):
        facility = FacilityFactory(partner=PartnerFactory(), open_24_7=False)
        HelplineNumberFactory(kind=HelplineNumber.Kind.LISTING, facility=facility)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("directory"))
    assert len(_names(response)) == 15


def test_directory_form_fields_have_labels(client):
    html = client.get(reverse("directory")).content.decode()
    assert '<label for="id_state">State</label>' in html
    assert '<label for="id_service">Type of care</label>' in html


def test_bad_filter_shows_no_results_block(client):
    FacilityFactory(name="Open Door Austin")
    html = client.get(reverse("directory"), {"state": "ZZ"}).content.decode()
    assert "Open Door Austin" not in html
    assert "result-count" not in html
