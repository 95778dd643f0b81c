"""Staff find a request by phone without the number ever being in a URL or a log line (issue 11, finding 2).

The search is a POST; the list is shown for the number's keyed fingerprint;
every page a staff member then opens (the list, the request, back to the list
through ``_changelist_filters``) is requested, and every URL requested, every
redirect, every link on those pages and every log record of the run (before
any redaction) is searched for the number's digits.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from helpline.privacy import caller_hash
from tests.factories import AdmissionRequestFactory, CallFactory, StaffFactory

pytestmark = pytest.mark.django_db

NUMBER = "+15128675309"
TYPED = "(512) 867-5309"
NEEDLES = ("5128675309", "8675309", "867-5309", "867 5309", "8675", "512%29+867", "%2B1512")
ADMIN = f"/{settings.ADMIN_URL}"
LIST = f"{ADMIN}helpline/admissionrequest/"


def _leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


@pytest.fixture
def staff_client() -> Client:
    client = Client(raise_request_exception=True)
    client.force_login(StaffFactory())
    return client


def test_search_by_phone_never_puts_the_number_in_a_url_or_a_log(staff_client, caplog):
    wanted = AdmissionRequestFactory(caller=NUMBER, first_name="Robin")
    AdmissionRequestFactory(caller="+17378670187", first_name="Other")
    caplog.set_level(logging.DEBUG)
    urls: list[str] = []

    def get(url: str):
        urls.append(url)
        return staff_client.get(url)

    found = staff_client.post(f"{LIST}find-by-phone/", {"phone": TYPED})
    assert found.status_code == 302
    urls.append(found["Location"])
    assert found["Location"] == f"{LIST}?phone={caller_hash(NUMBER)}"

    listing = get(found["Location"])
    page = listing.content.decode()
    assert listing.status_code == 200
    assert str(wanted.public_id)[:8] in page and "Other" not in page
    links = re.findall(r'href="([^"]+)"', page)
    detail = next(link for link in links if f"/{wanted.pk}/change/" in link)
    assert "_changelist_filters" in detail
    detail_page = get(detail.replace("&amp;", "&"))
    assert detail_page.status_code == 200
    links += re.findall(r'href="([^"]+)"', detail_page.content.decode())
    # Back to the list as the admin does after a save: the preserved filters are the fingerprint.
    preserved = parse_qs(urlsplit(detail.replace("&amp;", "&")).query)["_changelist_filters"][0]
    assert preserved == f"phone={caller_hash(NUMBER)}"
    assert get(f"{LIST}?{preserved}").status_code == 200

    for url in urls + links:
        assert not _leaks(url), url
    logged = [record.getMessage() for record in caplog.records]
    for line in logged:
        assert not _leaks(line), line


def test_a_phone_number_typed_into_the_plain_search_is_not_run(staff_client):
    AdmissionRequestFactory(caller=NUMBER)
    response = staff_client.get(LIST, {"q": TYPED})
    assert response.status_code == 302 and response["Location"] == LIST
    follow = staff_client.get(response["Location"])
    assert "Find by phone number" in follow.content.decode()


def test_zip_search_still_works(staff_client):
    AdmissionRequestFactory(caller=NUMBER, zip_code="78701")
    response = staff_client.get(LIST, {"q": "78701"})
    assert response.status_code == 200 and "1 admission request" in response.content.decode()


def test_a_forged_fingerprint_finds_nothing(staff_client):
    AdmissionRequestFactory(caller=NUMBER)
    for value in ("not-a-hash", "0" * 64):
        response = staff_client.get(LIST, {"phone": value})
        assert response.status_code == 200 and "0 admission requests" in response.content.decode()


def test_the_phone_search_is_post_only_and_needs_staff(client):
    assert client.post(f"{LIST}find-by-phone/", {"phone": TYPED}).status_code == 302  # to the login
    staff = Client()
    staff.force_login(StaffFactory())
    assert staff.get(f"{LIST}find-by-phone/").status_code == 405


CALLS = f"{ADMIN}helpline/call/"


def test_the_calls_list_finds_by_phone_the_same_way(staff_client, caplog):
    """The calls admin reuses the request list's search: POST, fingerprint in the URL, no digits anywhere."""
    wanted = CallFactory(caller=NUMBER)
    other = CallFactory(caller="+17378670187")
    caplog.set_level(logging.DEBUG)

    found = staff_client.post(f"{CALLS}find-by-phone/", {"phone": TYPED})
    assert found.status_code == 302 and found["Location"] == f"{CALLS}?phone={caller_hash(NUMBER)}"
    listing = staff_client.get(found["Location"])
    page = listing.content.decode()
    assert listing.status_code == 200 and 'data-testid="phone-search"' in page
    links = re.findall(r'href="([^"]+)"', page)
    assert any(f"/{wanted.pk}/change/" in link for link in links)
    assert not any(f"/{other.pk}/change/" in link for link in links)
    detail = next(link for link in links if f"/{wanted.pk}/change/" in link).replace("&amp;", "&")
    assert staff_client.get(detail).status_code == 200

    for text in [found["Location"], *links, *(record.getMessage() for record in caplog.records)]:
        assert not _leaks(text), text
    # A number typed into the plain search is not run here either.
    typed = staff_client.get(CALLS, {"q": TYPED})
    assert typed.status_code == 302 and typed["Location"] == CALLS


def test_searching_a_hidden_caller_id_says_so_instead_of_listing_every_call(staff_client):
    """Twilio's stand-in for a withheld number (+7378742833) has no fingerprint: hidden callers are strangers."""
    CallFactory(caller="+7378742833")
    CallFactory(caller=NUMBER)

    found = staff_client.post(f"{CALLS}find-by-phone/", {"phone": "+7378742833"}, follow=True)

    assert found.redirect_chain[-1][0] == CALLS  # no ?phone= filter at all
    assert "hidden" in found.content.decode()
