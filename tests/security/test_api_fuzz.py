"""API fuzz: schemathesis drives every operation of /api/schema/ in-process (WSGI), as a partner token
and anonymously, and finds no server error and no response that breaks the published schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.factories import AdmissionRequestFactory, DialAttemptFactory, FacilityFactory, PartnerUserFactory

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
FUZZ = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# Loaded at collection, in-process through the WSGI app (schema generation reads no rows).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI app directly fires request_started/finished, whose close_old_connections would
    close the test's transaction-wrapped PostgreSQL connection; Django's test Client unhooks it the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def partner_token(db) -> str:
    """A partner with a little of everything, so list and detail responses carry real rows."""
    from partners.billing.rule import bill_call
    from partners.models import PartnerMembership

    user = PartnerUserFactory()
    partner = PartnerMembership.objects.get(user=user).partner
    facility = FacilityFactory(partner=partner)
    attempt = DialAttemptFactory(facility=facility, partner=partner)
    bill_call(call_id=attempt.call_id)
    AdmissionRequestFactory(partner=partner, facility=facility)
    return Token.objects.create(user=user).key


@schema.parametrize()
@FUZZ
def test_api_as_a_partner_token(case, partner_token, fake_twilio):
    case.call_and_validate(headers={"Authorization": f"Token {partner_token}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_api_anonymous(case, db, fake_twilio):
    response = case.call_and_validate(checks=CHECKS)
    if case.method.upper() != "POST" and not case.path.endswith("/stamp/"):  # the form stamp is public
        # A NUL byte in the query string is dropped site-wide before any view (or login) reads it: still refused.
        assert response.status_code in (401, 403, 404, 405), response.status_code


@pytest.mark.parametrize("path", ["/api/v1/calls/", "/api/v1/billing-entries/", "/api/v1/invoices/",
                                  "/api/v1/admission-requests/"])  # fmt: skip
def test_tampered_cursors_through_the_schema_are_a_400(path, partner_token):
    """The schema's own list operations, driven with hand-made cursors (tests/security/test_cursor_tampering.py)."""
    from tests.security.test_cursor_tampering import TAMPERED

    operation = schema[path]["GET"]
    for name, cursor in TAMPERED.items():
        case = operation.Case(query={"cursor": cursor})
        response = case.call(headers={"Authorization": f"Token {partner_token}"})
        assert response.status_code == 400, f"{path} with a {name} cursor"
        case.validate_response(response, checks=[not_a_server_error, content_type_conformance])
