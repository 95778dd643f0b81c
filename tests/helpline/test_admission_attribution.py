"""An admission request records the page it was sent from, the visit's first page and its UTM values.

The visit is kept in the session (``helpline.attribution.VisitMiddleware``): no other cookie.
Every value is cleaned: no query strings, no control characters or markup, bounded lengths.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from helpline.attribution import SESSION_KEY, clean_label, clean_page
from helpline.models import PAGE_MAX_LENGTH, UTM_MAX_LENGTH, AdmissionRequest
from tests.factories import FacilityFactory
from tests.helpline.admission_support import api_data, form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]

FORM = "/request-a-callback/"
API = "/api/v1/admission-requests/"


@pytest.fixture(autouse=True)
def facility():
    return FacilityFactory(partner__notify_email="")


def _submit(client: Client, **extra):
    """Open the form page and send it as a browser would, with the hidden field the page rendered."""
    shown = client.get(FORM).content.decode()
    page = re.search(r'<input type="hidden" name="page" value="([^"]*)">', shown)
    assert page, "the form does not name its page"
    response = client.post(FORM, form_data(page=page.group(1)), REMOTE_ADDR="203.0.113.7", **extra)
    assert response.status_code == 302, response.content.decode()[:500]
    return AdmissionRequest.objects.get()


def _attribution(req: AdmissionRequest) -> dict[str, str]:
    return {
        name: getattr(req, name)
        for name in ("page", "landing_page", "utm_source", "utm_medium", "utm_campaign", "source_kind", "source_key")
    }


def test_form_request_records_its_page_landing_page_and_utm_values(client):
    client.get("/treatment/detox/", {"utm_source": "Google", "utm_medium": "cpc", "utm_campaign": "Spring-Ads"})
    client.get("/providers/")
    client.get(FORM)
    req = _submit(client)
    assert _attribution(req) == {
        "page": FORM,  # the form page names itself in a hidden field
        "landing_page": "/treatment/detox/",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring-ads",
        "source_kind": "campaign",
        "source_key": "spring-ads",
    }


def test_a_direct_visit_records_its_landing_page_and_no_campaign(client):
    client.get("/terms/")
    client.get("/")
    req = _submit(client)
    assert _attribution(req) == {
        "page": FORM,
        "landing_page": "/terms/",
        "utm_source": "",
        "utm_medium": "",
        "utm_campaign": "",
        "source_kind": "",
        "source_key": "",
    }


def test_a_new_campaign_click_starts_a_new_visit(client):
    client.get("/", {"utm_source": "newsletter", "utm_campaign": "june"})
    client.get("/terms/", {"utm_source": "facebook", "utm_medium": "social"})
    req = _submit(client)
    assert (req.landing_page, req.utm_source, req.utm_medium, req.utm_campaign) == (
        "/terms/",
        "facebook",
        "social",
        "",
    )


@pytest.mark.urls("tests.helpline.urls_attribution")
def test_a_request_sent_from_a_guide_page_is_the_guides(client):
    client.get("/")
    client.post(FORM, form_data(page="/guides/klonopin/"), REMOTE_ADDR="203.0.113.7")
    req = AdmissionRequest.objects.get()
    assert (req.page, req.landing_page, req.source_kind, req.source_key) == (
        "/guides/klonopin/",
        "/",
        "guide",
        "klonopin",
    )


@pytest.mark.urls("tests.helpline.urls_attribution")
def test_a_guide_form_without_the_hidden_field_is_placed_by_the_referer(client):
    client.get("/guides/xanax/")
    data = form_data()
    client.post(FORM, data, REMOTE_ADDR="203.0.113.7", HTTP_REFERER="http://testserver/guides/xanax/?q=1")
    req = AdmissionRequest.objects.get()
    assert (req.page, req.landing_page, req.source_kind, req.source_key) == (
        "/guides/xanax/",
        "/guides/xanax/",
        "guide",
        "xanax",
    )


@pytest.mark.urls("tests.helpline.urls_attribution")
def test_a_visit_that_landed_on_a_guide_is_the_guides_when_sent_from_elsewhere(client):
    client.get("/guides/alcohol/")
    client.get(FORM)
    req = _submit(client)
    assert (req.page, req.source_kind, req.source_key) == (FORM, "guide", "alcohol")


def test_another_sites_referer_or_a_foreign_page_field_is_not_our_page(client):
    client.post(
        FORM,
        form_data(page="https://evil.example/guides/klonopin/"),
        REMOTE_ADDR="203.0.113.7",
        HTTP_REFERER="https://evil.example/guides/klonopin/",
    )
    assert AdmissionRequest.objects.get().page == ""


def test_hostile_values_are_cleaned_and_bounded(client):
    client.get(
        "/terms/",
        {
            "utm_source": "<script>alert(1)</script>\x07\u202e" + "x" * 500,
            "utm_medium": '=HYPERLINK("http://evil")',
            "utm_campaign": "  Spring\tAds\r\n2027  ",
        },
    )
    client.post(FORM, form_data(page="/terms/?name=Sam&phone=5125550123#x"), REMOTE_ADDR="203.0.113.7")
    req = AdmissionRequest.objects.get()
    assert "<" not in req.utm_source and "\x07" not in req.utm_source and "\u202e" not in req.utm_source
    assert len(req.utm_source) == UTM_MAX_LENGTH
    assert req.utm_medium == "hyperlink(http://evil)"  # no quotes or '='; CSV exports escape the rest
    assert req.utm_campaign == "spring ads 2027"
    assert req.page == "/terms/"  # the query string (names, numbers) is never kept


def test_a_landing_address_with_a_nul_byte_is_served_and_records_the_campaign_without_it(client):
    """The NUL is dropped for the whole site before any view reads it (config.security.NulQueryStringMiddleware)."""
    assert client.get("/terms/", {"utm_source": "spring\x00"}).status_code == 200
    client.post(FORM, form_data(), REMOTE_ADDR="203.0.113.7")
    assert AdmissionRequest.objects.get().utm_source == "spring"


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("/guides/klonopin/", "/guides/klonopin/"),
        ("/guides/klonopin/?utm_source=x#faq", "/guides/klonopin/"),
        ("//evil.example/x", ""),
        ("javascript:alert(1)", ""),
        ("data:text/html,hi", ""),
        ("https://user:pw@partner.example:8443/intake?x=1", "https://partner.example:8443/intake"),
        ("https://partner.example", "https://partner.example/"),
        ("/a b/", ""),
        ("/" + "a" * PAGE_MAX_LENGTH, ""),
        ("guides/klonopin/", ""),
        ("", ""),
    ],
)
def test_pages_are_kept_as_paths_or_http_urls_without_query_or_credentials(raw, kept):
    assert clean_page(raw) == kept


def test_labels_are_lower_case_plain_text():
    assert clean_label("Google Ads") == "google ads"
    assert clean_label("\u200bcpc\x7f") == "cpc"
    assert clean_label(None) == ""
    assert clean_label("a" * 1000) == "a" * UTM_MAX_LENGTH


def test_the_visit_lives_in_the_session_only(client):
    response = client.get("/", {"utm_source": "google", "utm_campaign": "spring"})
    assert set(response.cookies) == {"sessionid"}
    assert client.session[SESSION_KEY]["utm_campaign"] == "spring"


@pytest.mark.parametrize("url", ["/portal/login/", "/api/v1/", "/request-a-callback/thanks/abc/", "/no-such-page/"])
def test_staff_partner_machine_token_and_missing_pages_are_never_a_landing_page(client, url):
    client.get(url, {"utm_campaign": "spring"})
    assert SESSION_KEY not in client.session


def test_a_visit_without_utm_writes_the_session_once(client):
    client.get("/terms/")
    key = client.session.session_key
    response = client.get("/")
    assert "sessionid" not in response.cookies  # nothing changed, nothing written
    assert client.session.session_key == key and client.session[SESSION_KEY]["landing_page"] == "/terms/"


def test_junk_in_the_session_is_ignored(client):
    session = client.session
    session[SESSION_KEY] = ["not", "a", "dict"]
    session.save()
    client.post(FORM, form_data(page=FORM), REMOTE_ADDR="203.0.113.7")
    req = AdmissionRequest.objects.get()
    assert (req.page, req.landing_page, req.utm_campaign, req.source_kind) == (FORM, "", "", "")


# --- The API ----------------------------------------------------------------------------------------


def test_api_request_records_optional_page_and_utm_values():
    api = APIClient(REMOTE_ADDR="203.0.113.50")
    response = api.post(
        API,
        api_data(
            page="https://partner.example/admissions/?email=a@b.c",
            landing_page="https://partner.example/blog/klonopin-withdrawal/",
            utm_source="Bing",
            utm_medium="cpc",
            utm_campaign="Benzo-2027",
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert _attribution(AdmissionRequest.objects.get()) == {
        "page": "https://partner.example/admissions/",
        "landing_page": "https://partner.example/blog/klonopin-withdrawal/",
        "utm_source": "bing",
        "utm_medium": "cpc",
        "utm_campaign": "benzo-2027",
        "source_kind": "campaign",
        "source_key": "benzo-2027",
    }


def test_api_request_without_attribution_is_direct():
    response = APIClient(REMOTE_ADDR="203.0.113.50").post(API, api_data(), format="json")
    assert response.status_code == 201
    req = AdmissionRequest.objects.get()
    assert (req.page, req.utm_campaign, req.source_kind) == ("", "", "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("page", "https://x.example/" + "a" * 2000, "no more than 2000 characters"),
        ("utm_campaign", "a" * 201, "no more than 200 characters"),
        ("utm_source", ["google"], "Not a valid string"),
        ("landing_page", "bad\x00page", "Null characters are not allowed"),
    ],
)
def test_api_refuses_bad_attribution_with_a_clear_error_and_saves_nothing(field, value, message):
    response = APIClient(REMOTE_ADDR="203.0.113.50").post(API, api_data(**{field: value}), format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not AdmissionRequest.objects.exists()
