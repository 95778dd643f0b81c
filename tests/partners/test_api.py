"""Partner API: token auth, partner scoping, staff view, date filters, pagination, schema."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from helpline.models import AuditEvent
from partners.billing import rule as billing
from partners.billing.invoices import generate_invoice
from partners.models import BillingDecision, LedgerEntry, PartnerMembership
from tests.factories import AdmissionRequestFactory, FacilityFactory, StaffFactory, UserFactory, billed_call

pytestmark = pytest.mark.django_db


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def facility():
    return FacilityFactory()


@pytest.fixture
def api(facility):
    user = UserFactory()
    PartnerMembership.objects.create(user=user, partner=facility.partner)
    return _client_for(user)


def _bill(facility, day, caller, seconds=300):
    call, attempt = billed_call(
        facility=facility, caller=caller, talk_seconds=seconds, started_at=dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC)
    )
    billing.bill_call(call_id=call.pk)
    return BillingDecision.objects.get(dial_attempt=attempt)


def test_anonymous_and_unlinked_users_are_refused(facility):
    assert APIClient().get(reverse("call-list")).status_code in (401, 403)
    assert _client_for(UserFactory()).get(reverse("call-list")).status_code == 403


def test_calls_are_the_partners_own_with_masked_caller(api, facility):
    mine = _bill(facility, 2, "+15125559876")
    _bill(FacilityFactory(), 2, "+15125554444")

    body = api.get(reverse("call-list")).json()

    assert [r["id"] for r in body["results"]] == [mine.pk]
    row = body["results"][0]
    assert row["caller"] == "•••-•••-9876" and row["billable"] is True and row["reason"] == "billable"
    assert row["price_cents"] == 4500 and row["ledger_entry"] == LedgerEntry.objects.get(decision=mine).pk


def test_other_partners_record_is_a_404(api, facility):
    theirs = _bill(FacilityFactory(), 2, "+15125554444")
    assert api.get(reverse("call-detail", args=[theirs.pk])).status_code == 404


def test_date_filters_are_inclusive_and_validated(api, facility):
    _bill(facility, 1, "+15125550001")
    _bill(facility, 5, "+15125550002")
    _bill(facility, 9, "+15125550003")
    ids = lambda params: [r["occurred_at"][:10] for r in api.get(reverse("call-list"), params).json()["results"]]  # noqa: E731
    assert ids({"since": "2026-03-05", "until": "2026-03-05"}) == ["2026-03-05"]
    assert ids({"since": "2026-03-05"}) == ["2026-03-09", "2026-03-05"]
    bad = api.get(reverse("call-list"), {"since": "05/03/2026"})
    assert bad.status_code == 400 and "since" in bad.json()
    assert api.get(reverse("billing-entry-list"), {"since": "2026-03-09", "until": "2026-03-01"}).status_code == 400


def test_cursor_pagination_walks_every_record_once(api, facility):
    for day in range(1, 8):
        _bill(facility, day, f"+1512555000{day}")
    seen, url = [], reverse("call-list") + "?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(BillingDecision.objects.values_list("pk", flat=True)) and len(seen) == 7


def test_billing_entries_and_invoices_scoped(api, facility):
    _bill(facility, 2, "+15125550001")
    other = FacilityFactory()
    _bill(other, 2, "+15125550001")
    mine = generate_invoice(partner=facility.partner, month=dt.date(2026, 3, 1))
    theirs = generate_invoice(partner=other.partner, month=dt.date(2026, 3, 1))

    entries = api.get(reverse("billing-entry-list")).json()["results"]
    assert [e["partner"] for e in entries] == [facility.partner_id] and entries[0]["amount_cents"] == 4500
    invoices = api.get(reverse("invoice-list")).json()["results"]
    assert [i["number"] for i in invoices] == [mine.number]
    detail = api.get(reverse("invoice-detail", args=[mine.pk])).json()
    assert detail["total_cents"] == 4500 and len(detail["lines"]) == 1
    assert api.get(reverse("invoice-detail", args=[theirs.pk])).status_code == 404


def test_admission_requests_read_scoped_and_audited(api, facility):
    mine = AdmissionRequestFactory(partner=facility.partner, first_name="Robin", caller="+15125551234")
    theirs = AdmissionRequestFactory(partner=FacilityFactory().partner)
    listed = api.get(reverse("admission-request-list")).json()["results"]
    assert [r["public_id"] for r in listed] == [str(mine.public_id)] and "phone" not in listed[0]
    detail = api.get(reverse("admission-request-detail", args=[mine.public_id])).json()
    assert detail["first_name"] == "Robin" and detail["phone"] == "+15125551234"
    assert AuditEvent.objects.filter(where="api", object_id=str(mine.pk), action="view").exists()
    assert api.get(reverse("admission-request-detail", args=[theirs.public_id])).status_code == 404


def test_admission_request_create_stays_anonymous(facility):
    response = APIClient().post(reverse("admission-request-list"), {}, format="json")
    assert response.status_code == 400 and "consent" in response.json()  # validation, not an auth error


def test_staff_token_sees_every_partner(facility):
    _bill(facility, 2, "+15125550001")
    _bill(FacilityFactory(), 2, "+15125550002")
    staff_api = _client_for(StaffFactory())
    assert len(staff_api.get(reverse("call-list")).json()["results"]) == 2
    assert len(staff_api.get(reverse("billing-entry-list")).json()["results"]) == 2


@pytest.mark.parametrize("name", ["call-list", "billing-entry-list", "invoice-list", "admission-request-list"])
def test_list_endpoints_query_count_does_not_grow(api, facility, name, django_assert_max_num_queries):
    def add(n, offset):
        for i in range(n):
            _bill(facility, 1 + (offset + i) % 28, f"+1512556{offset + i:04d}")
            AdmissionRequestFactory(partner=facility.partner, caller=f"+1512557{offset + i:04d}")
        generate_invoice(partner=facility.partner, month=dt.date(2026, 3, 1))

    add(2, 0)
    with django_assert_max_num_queries(10) as small:
        assert api.get(reverse(name)).status_code == 200
    add(25, 100)
    with django_assert_max_num_queries(len(small.captured_queries)):
        api.get(reverse(name))


def test_schema_is_valid_and_lists_partner_endpoints(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/calls/", "/api/v1/billing-entries/", "/api/v1/invoices/{id}/",
                 "/api/v1/admission-requests/{public_id}/"):  # fmt: skip
        assert path in text
