"""QA probes of the admission request API and form: every bad input is a clear 4xx that saves nothing."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from helpline.models import AdmissionRequest
from routing.selectors import directory_cache
from tests.factories import FacilityFactory
from tests.helpline.admission_support import api_data, form_data, post_api

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")]
FORM_URL = "/request-a-callback/"

JSON_JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "<script>alert(1)</script>",
            '=HYPERLINK("http://x")',
            "😀",
            "José",
            "Jose\u0301",
            "78701 1234",
            "078701",
            "02134",
            "800-555-1234",
            "+1 512 867 5309 ext 12",
            "true",
            "now",
            "window",
            "9999-12-31",
            "0001-01-01",
            "morning",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=4,
)
FIELDS = [
    "for_whom",
    "first_name",
    "phone",
    "zip_code",
    "service",
    "substances",
    "payment",
    "language",
    "callback_when",
    "window_date",
    "window_slot",
    "allow_voicemail",
    "allow_text",
    "consent",
    "consent_version",
]


@hsettings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.dictionaries(st.sampled_from([*FIELDS, "extra", "id", "status"]), JSON_JUNK, max_size=4))
def test_api_with_junk_fields_answers_4xx_or_a_sane_201(changes):
    cache.clear()  # no throttle between examples
    with transaction.atomic():
        directory_cache.clear()
        FacilityFactory(partner__notify_email="")
        body = api_data(**{k: v for k, v in changes.items() if v is not None})
        body.update({k: v for k, v in changes.items() if v is None})
        response = post_api(body, address="198.51.100.7")
        assert response.status_code in (201, 400), (response.status_code, body)
        if response.status_code == 400:
            errors = response.json()
            assert isinstance(errors, dict) and errors, errors
            assert AdmissionRequest.objects.count() == 0
        else:
            req = AdmissionRequest.objects.get()
            assert req.phone.startswith("+1") and len(req.zip_code) == 5 and req.zip_code.isdigit()
            assert req.status not in ("", None)
            assert req.consent_text and req.consent_version
        transaction.set_rollback(True)


@pytest.mark.parametrize(
    "raw",
    ["[]", "null", '"x"', "1", "true", '{"consent": true}', "[{}]", '{"a":' * 50 + "1" + "}" * 50, "\ufeff{}"],
)
def test_api_non_object_json_bodies_are_400(raw):
    response = post_api(raw, address="198.51.100.8")
    assert response.status_code == 400, response.status_code
    assert AdmissionRequest.objects.count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=zz"])
def test_api_odd_content_types_are_4xx(content_type):
    response = post_api(api_data(), address="198.51.100.9", content_type=content_type)
    assert 400 <= response.status_code < 500, response.status_code


TEXT_JUNK = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", "\x00", "<script>alert(1)</script>", "=1+1", "😀", "Jose\u0301", "9999-12-31", "0000-00-00"]),
)


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(
        st.sampled_from([*FIELDS, "website"]), TEXT_JUNK | st.lists(TEXT_JUNK, max_size=3), max_size=3
    )
)
def test_form_with_junk_fields_never_faults_and_keeps_input(changes):
    from django.test import Client

    cache.clear()
    with transaction.atomic():
        directory_cache.clear()
        FacilityFactory(partner__notify_email="")
        response = Client(REMOTE_ADDR="198.51.100.10").post(FORM_URL, form_data(**changes))
        assert response.status_code in (200, 302, 400), response.status_code
        if response.status_code != 302:
            assert AdmissionRequest.objects.count() == 0
        transaction.set_rollback(True)
