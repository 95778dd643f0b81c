"""Partner portal pages through HTTP: what a partner sees, disputes, pause/resume, hours, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from helpline.models import AuditEvent, DialAttempt
from partners.billing import rule as billing
from partners.billing.invoices import generate_invoice
from partners.directory.services import dispute_approve, dispute_reject
from partners.models import BillingDecision, Dispute, LedgerEntry, Partner, PartnerChangeLog
from tests.factories import (
    AdmissionRequestFactory,
    CallFactory,
    DialAttemptFactory,
    FacilityFactory,
    OpeningHoursFactory,
    PartnerFactory,
    StaffFactory,
    UserFactory,
    billed_call,
)

# Rows are made "minutes ago" and counted by day and month: a clock far from any boundary.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quiet_clock")]


@pytest.fixture
def facility():
    return FacilityFactory(partner=PartnerFactory(display_name="Harbor Recovery", monthly_budget_cents=90000))


@pytest.fixture
def member(facility, client):
    from partners.models import PartnerMembership

    user = UserFactory()
    PartnerMembership.objects.create(user=user, partner=facility.partner)
    client.force_login(user)
    return user


def _recent_call(facility, *, minutes_ago=30, caller="+15125550123", **kwargs):
    call, attempt = billed_call(
        facility=facility, caller=caller, started_at=timezone.now() - dt.timedelta(minutes=minutes_ago), **kwargs
    )
    billing.bill_call(call_id=call.pk)
    return call, attempt


def test_portal_requires_login(client):
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 302 and reverse("portal:login") in response["Location"]


def test_user_without_partner_is_refused(client):
    client.force_login(UserFactory())
    assert client.get(reverse("portal:calls")).status_code == 403


def test_staff_without_partner_goes_to_staff_reports(client):
    client.force_login(StaffFactory())
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:staff_reports")


def test_dashboard_shows_counts_spend_and_chart_with_disclosure(client, member, facility):
    _recent_call(facility, caller="+15125550001")
    _recent_call(facility, caller="+15125550002", talk_seconds=10)
    other = CallFactory(started_at=timezone.now() - dt.timedelta(hours=2))
    DialAttemptFactory(call=other, facility=facility, accepted=False, outcome=DialAttempt.Outcome.NO_ANSWER,
                       talk_seconds=0)  # fmt: skip
    billing.bill_call(call_id=other.pk)

    response = client.get(reverse("portal:dashboard"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="chart-days"' in html and html.count('class="billable"') == 30
    stats = response.context["stats"]
    assert (stats.offered, stats.accepted, stats.billable) == (3, 2, 1)
    assert stats.answer_rate == pytest.approx(2 / 3)
    assert stats.avg_talk_seconds == round((300 + 10) / 2)
    assert stats.spend_cents == 4500 and "$45.00" in html and "5% of your $900.00 monthly budget" in html
    assert 'id="where-do-calls-go"' in html or "Where do calls go" in html


def test_call_list_shows_masked_number_reason_and_no_other_partner(client, member, facility):
    _recent_call(facility, caller="+15125559876")
    _recent_call(facility, caller="+15125550002", talk_seconds=10)
    _recent_call(FacilityFactory(), caller="+15125554444")

    html = client.get(reverse("portal:calls")).content.decode()

    assert "•••-•••-9876" in html and "+15125559876" not in html and "5125559876" not in html
    assert "Too short" in html
    assert "•••-•••-4444" not in html


def test_call_list_filters_by_billable_and_date(client, member, facility):
    _recent_call(facility, caller="+15125550001")
    _recent_call(facility, caller="+15125550002", talk_seconds=10)
    rows = client.get(reverse("portal:calls"), {"billable": "no"}).context["page"].rows
    assert [r.reason for r in rows] == ["too_short"]
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    assert client.get(reverse("portal:calls"), {"since": tomorrow}).context["page"].rows == []


def test_bad_date_filter_shows_an_error_and_keeps_the_list(client, member, facility):
    _recent_call(facility)
    response = client.get(reverse("portal:calls"), {"since": "2026-13-45"})
    assert response.status_code == 200 and "Enter a valid date" in response.content.decode()
    assert len(response.context["page"].rows) == 1
    response = client.get(reverse("portal:calls"), {"since": "2026-03-10", "until": "2026-03-01"})
    assert "start date is after the end date" in response.content.decode()


def test_call_list_pages_with_a_cursor(client, member, facility, monkeypatch):
    from partners.portal import views as portal

    monkeypatch.setattr(portal, "PAGE_SIZE", 2)
    for i in range(5):
        _recent_call(facility, minutes_ago=10 + i, caller=f"+1512555000{i}")
    seen = []
    url, params = reverse("portal:calls"), {}
    while True:
        response = client.get(url, params)
        seen += [r.pk for r in response.context["page"].rows]
        cursor = response.context["page"].next_cursor
        if not cursor:
            break
        params = {"before": cursor}
    expected = list(BillingDecision.objects.order_by("-occurred_at", "-id").values_list("pk", flat=True))
    assert seen == expected and len(seen) == 5


def test_calls_csv_export_is_masked_and_formula_safe(client, member, facility):
    call, _ = _recent_call(facility, caller="+15125559876")
    type(call).objects.filter(pk=call.pk).update(caller_area="=cmd|' /C calc'!A0")
    BillingDecision.objects.filter(call=call).update(caller_area="=cmd|' /C calc'!A0")
    response = client.get(reverse("portal:calls_export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "started_utc" and len(rows) == 2
    assert rows[1][3].startswith("'=") and rows[1][4] == "•••-•••-9876" and rows[1][7] == "yes"


def test_csv_exports_of_caller_lists_are_audited_without_values(client, member, facility):
    _recent_call(facility, caller="+15125559876")
    AdmissionRequestFactory(partner=facility.partner, created_at=timezone.now())
    b"".join(client.get(reverse("portal:calls_export")).streaming_content)
    b"".join(client.get(reverse("portal:requests_export")).streaming_content)
    events = list(AuditEvent.objects.filter(action="export").order_by("id"))
    assert [(e.where, e.object_type, e.object_id, e.actor_id) for e in events] == [
        ("portal", "partners.Partner", str(facility.partner_id), member.pk),
        ("portal", "partners.Partner", str(facility.partner_id), member.pk),
    ]
    assert "9876" not in repr([e.fields for e in events])


def test_partner_disputes_a_charge_and_staff_approve_with_a_credit(client, member, facility):
    _call, attempt = _recent_call(facility)
    decision = BillingDecision.objects.get(dial_attempt=attempt)
    url = reverse("portal:call_detail", args=[decision.pk])

    response = client.post(url, {"reason": "Caller was looking for a pharmacy"})
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.partner, dispute.opened_by) == ("open", facility.partner, member)

    assert "already has an open dispute" in client.post(url, {"reason": "again"}).content.decode()
    assert Dispute.objects.count() == 1

    staff = StaffFactory()
    dispute_approve(dispute_id=dispute.pk, by=staff, note="Agreed, wrong number")
    credit = LedgerEntry.objects.get(kind="adjustment")
    assert credit.amount_cents == -4500 and credit.created_by == staff and credit.corrects.decision == decision
    html = client.get(url).content.decode()
    assert "Approved (credited)" in html and "Agreed, wrong number" in html and "-$45.00" in html
    assert "Dispute this charge" not in html


def test_rejected_dispute_shows_the_note_and_allows_a_new_one(client, member, facility):
    _call, attempt = _recent_call(facility)
    decision = BillingDecision.objects.get(dial_attempt=attempt)
    url = reverse("portal:call_detail", args=[decision.pk])
    client.post(url, {"reason": "Too short really"})
    dispute_reject(dispute_id=Dispute.objects.get().pk, by=StaffFactory(), note="Talk time was 5 minutes")
    html = client.get(url).content.decode()
    assert "Rejected" in html and "Talk time was 5 minutes" in html and "Dispute this charge" in html
    assert "Talk time was 5 minutes" in client.get(reverse("portal:disputes")).content.decode()


def test_dispute_needs_a_reason_and_a_billed_call(client, member, facility):
    _call, attempt = _recent_call(facility, talk_seconds=5)
    url = reverse("portal:call_detail", args=[BillingDecision.objects.get(dial_attempt=attempt).pk])
    assert client.post(url, {"reason": "x"}).status_code == 404
    _call, attempt = _recent_call(facility, caller="+15125550999")
    url = reverse("portal:call_detail", args=[BillingDecision.objects.get(dial_attempt=attempt).pk])
    assert client.post(url, {"reason": "   "}).status_code == 200
    assert not Dispute.objects.exists()


def test_pause_and_resume_are_logged(client, member, facility):
    client.post(reverse("portal:pause"), {"reason": "Beds full"})
    partner = Partner.objects.get(pk=facility.partner_id)
    assert partner.status == "paused" and partner.paused_reason == "Beds full"
    client.post(reverse("portal:resume"))
    assert Partner.objects.get(pk=partner.pk).status == "active"
    log = list(PartnerChangeLog.objects.order_by("at", "id").values_list("action", "by"))
    assert log == [("paused", member.pk), ("resumed", member.pk)]
    html = client.get(reverse("portal:settings")).content.decode()
    assert "Beds full" in html and member.username in html


def test_pause_only_by_post(client, member, facility):
    assert client.get(reverse("portal:pause")).status_code == 405
    assert Partner.objects.get(pk=facility.partner_id).status == "active"


def test_edit_hours_replaces_spans_and_logs_before_after(client, member, facility):
    OpeningHoursFactory(facility=facility, weekday=0)
    url = reverse("portal:facility_hours", args=[facility.pk])
    assert 'value="08:00"' in client.get(url).content.decode()

    response = client.post(url, {"d1_0_opens": "09:00", "d1_0_closes": "17:00", "d5_0_opens": "22:00",
                                 "d5_0_closes": "06:00"})  # fmt: skip

    assert response.status_code == 302
    facility.refresh_from_db()
    assert not facility.open_24_7
    spans = [(h.weekday, h.opens, h.closes) for h in facility.hours.order_by("weekday")]
    assert spans == [(1, dt.time(9), dt.time(17)), (5, dt.time(22), dt.time(6))]
    change = PartnerChangeLog.objects.get(action="hours_changed")
    assert change.detail["before"]["hours"] == [[0, "08:00", "18:00"]]
    assert change.detail["after"]["hours"] == [[1, "09:00", "17:00"], [5, "22:00", "06:00"]]


def test_bad_hours_are_refused_with_a_message_and_nothing_changes(client, member, facility):
    url = reverse("portal:facility_hours", args=[facility.pk])
    response = client.post(url, {"d1_0_opens": "09:00"})
    assert response.status_code == 200 and "give both an opening and a closing time" in response.content.decode()
    response = client.post(url, {"d1_0_opens": "9am", "d1_0_closes": "17:00"})
    assert response.status_code == 200 and "Enter a valid time" in response.content.decode()
    assert "at least one opening span" in client.post(url, {}).content.decode()
    facility.refresh_from_db()
    assert facility.open_24_7 and not PartnerChangeLog.objects.exists()


def test_request_detail_shows_contact_and_is_audited(client, member, facility):
    req = AdmissionRequestFactory(partner=facility.partner, facility=facility, first_name="Robin",
                                  caller="+15125551234")  # fmt: skip
    html = client.get(reverse("portal:request_detail", args=[req.public_id])).content.decode()
    assert "Robin" in html and "1-512-555-1234" in html  # written as people write numbers
    event = AuditEvent.objects.get(object_id=str(req.pk))
    assert (event.where, event.action, event.actor) == ("portal", "view", member)
    assert event.fields == ["first_name", "phone"] and "Robin" not in str(event.fields)


def test_withdrawn_request_hides_contact(client, member, facility):
    req = AdmissionRequestFactory(partner=facility.partner, status="withdrawn", first_name="Robin")
    html = client.get(reverse("portal:request_detail", args=[req.public_id])).content.decode()
    assert "Do not contact" in html and "Robin" not in html


def test_requests_list_and_export(client, member, facility):
    AdmissionRequestFactory(partner=facility.partner, created_at=timezone.now(), first_name="Robin")
    AdmissionRequestFactory(partner=PartnerFactory(), created_at=timezone.now())
    assert len(client.get(reverse("portal:requests")).context["page"].rows) == 1
    response = client.get(reverse("portal:requests_export"))
    body = b"".join(response.streaming_content).decode()
    assert body.count("\n") == 2 and "Robin" not in body


def test_invoices_list_and_downloads(client, member, facility):
    _recent_call(facility)
    invoice = generate_invoice(partner=facility.partner, month=timezone.now().date().replace(day=1))
    html = client.get(reverse("portal:invoices")).content.decode()
    assert invoice.number in html and "$45.00" in html
    pdf = client.get(reverse("portal:invoice_pdf", args=[invoice.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    csv_body = client.get(reverse("portal:invoice_csv", args=[invoice.pk])).content.decode()
    assert "total_usd,45.00" in csv_body


def test_webhook_log_is_visible(client, member, facility):
    from partners.models import WebhookDelivery, WebhookEvent

    event = WebhookEvent.objects.create(partner=facility.partner, event="call.billed", payload={})
    WebhookDelivery.objects.create(webhook_event=event, partner=facility.partner, attempt=1,
                                   url="https://partner.example.org/hook", status_code=502)  # fmt: skip
    html = client.get(reverse("portal:webhooks")).content.decode()
    assert "call.billed" in html and "502" in html


def test_staff_reports_need_staff_and_show_partners(client, facility):
    _recent_call(facility)
    CallFactory(started_at=timezone.now(), needs_followup=True, status="fallback")
    client.force_login(UserFactory())
    assert client.get(reverse("portal:staff_reports")).status_code == 302
    client.force_login(StaffFactory())
    response = client.get(reverse("portal:staff_reports"))
    html = response.content.decode()
    assert response.status_code == 200 and "Harbor Recovery" in html and "$45.00" in html
    assert response.context["report"]["totals"]["followup"] == 1


@pytest.mark.parametrize("name", ["portal:dashboard", "portal:calls", "portal:ledger", "portal:requests",
                                  "portal:webhooks"])  # fmt: skip
def test_list_pages_query_count_does_not_grow_with_rows(client, member, facility, name,
                                                        django_assert_max_num_queries):  # fmt: skip
    from partners.models import WebhookDelivery, WebhookEvent

    def add(n, offset):
        for i in range(n):
            _recent_call(facility, minutes_ago=offset + i, caller=f"+1512556{offset + i:04d}")
            AdmissionRequestFactory(partner=facility.partner, created_at=timezone.now(),
                                    caller=f"+1512557{offset + i:04d}")  # fmt: skip
            ev = WebhookEvent.objects.create(partner=facility.partner, event="call.billed", payload={})
            WebhookDelivery.objects.create(webhook_event=ev, partner=facility.partner, attempt=1, url="https://x.org")

    add(2, 0)
    with django_assert_max_num_queries(12) as small:
        client.get(reverse(name))
    add(30, 100)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse(name))
