"""Staff admin of the partner directory: validation, search, filters, actions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from helpline.models import DisclosureVersion, HelplineNumber
from partners.models import Facility, OpeningHours, Partner, PartnerMembership
from tests.factories import (
    FacilityFactory,
    HelplineNumberFactory,
    PartnerFactory,
    StaffFactory,
    UserFactory,
    disclosure_wording,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(username="intake-lead"))
    return client


def _facility_post(partner: Partner, **overrides: object) -> dict[str, object]:
    """A valid 'add facility' submission including the three inline management forms."""
    data: dict[str, object] = {
        "partner": partner.pk,
        "name": "Lakeside Recovery",
        "slug": "lakeside-recovery",
        "is_active": "on",
        "description": "",
        "address_line": "200 Congress Ave",
        "city": "Austin",
        "state": "TX",
        "zip_code": "78701",
        "latitude": "",
        "longitude": "",
        "phone": "+15125550142",
        "time_zone": "",
        "open_24_7": "on",
        "services": ["detox", "mat"],
        "languages": ["en", "es"],
        "service_states": ["TX"],
        "service_zips": "",
        "service_zip_prefixes": "",
        "service_radius_miles": "",
    }
    for prefix in ("hours", "closed_dates", "listing_numbers"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _hours(data: dict[str, object], spans: list[tuple[int, str, str]]) -> dict[str, object]:
    data = dict(data)
    data.pop("open_24_7", None)
    data["hours-TOTAL_FORMS"] = str(len(spans))
    for i, (weekday, opens, closes) in enumerate(spans):
        data.update({f"hours-{i}-weekday": str(weekday), f"hours-{i}-opens": opens, f"hours-{i}-closes": closes})
    return data


def _errors(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_facility_admin_fills_coordinates_and_timezone_from_zip(staff_client):
    partner = PartnerFactory()
    response = staff_client.post(reverse("admin:partners_facility_add"), _facility_post(partner))
    assert response.status_code == 302, response.content.decode()[:4000]
    facility = Facility.objects.get(slug="lakeside-recovery")
    assert facility.time_zone == "America/Chicago"
    assert facility.latitude == pytest.approx(30.27, abs=0.05)
    assert facility.longitude == pytest.approx(-97.74, abs=0.05)
    assert facility.services == ["detox", "mat"]
    assert str(facility.phone) == "+15125550142"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "+15555550100", "Enter a valid phone number"),
        ("phone", "call us", "Enter a valid phone number"),
        ("zip_code", "00000", "ZIP code 00000 does not exist"),
        ("zip_code", "90210", "ZIP code 90210 is in CA, not TX"),
        ("time_zone", "Mars/Olympus", "is not an IANA time zone"),
        ("time_zone", "EST", "is not an IANA time zone"),
        ("service_zips", "78701, 00001", "These ZIP codes do not exist: 00001"),
        ("service_zip_prefixes", "787, 000", "No US ZIP code starts with: 000"),
        ("service_zip_prefixes", "78", "Not 3-digit ZIP prefixes: 78"),
        ("services", [], "This field is required"),
    ],
)
def test_facility_admin_rejects_bad_values_and_saves_nothing(staff_client, field, value, message):
    partner = PartnerFactory()
    response = staff_client.post(reverse("admin:partners_facility_add"), _facility_post(partner, **{field: value}))
    assert message in _errors(response)
    assert not Facility.objects.exists()


def test_facility_admin_requires_a_service_area(staff_client):
    data = _facility_post(PartnerFactory(), service_states=[])
    response = staff_client.post(reverse("admin:partners_facility_add"), data)
    assert "Give a service area" in _errors(response)
    assert not Facility.objects.exists()


def test_facility_admin_saves_weekly_hours(staff_client):
    data = _hours(_facility_post(PartnerFactory()), [(0, "08:00", "17:00"), (4, "20:00", "02:00")])
    response = staff_client.post(reverse("admin:partners_facility_add"), data)
    assert response.status_code == 302, response.content.decode()[:4000]
    facility = Facility.objects.get()
    assert not facility.open_24_7
    assert [(h.weekday, h.opens, h.closes) for h in facility.hours.all()] == [
        (0, dt.time(8), dt.time(17)),
        (4, dt.time(20), dt.time(2)),
    ]


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([(0, "08:00", "17:00"), (0, "16:00", "19:00")], "Monday 08:00-17:00 overlaps Monday 16:00-19:00"),
        ([(6, "22:00", "06:00"), (0, "05:00", "09:00")], "Sunday 22:00-06:00 overlaps Monday 05:00-09:00"),
        ([], "Give the weekly opening hours, or tick Open 24/7"),
        ([(2, "09:00", "09:00")], "Opening and closing times are the same"),
        ([(2, "25:00", "09:00")], "Enter a valid time"),
    ],
)
def test_facility_admin_rejects_bad_hours(staff_client, spans, message):
    data = _hours(_facility_post(PartnerFactory()), spans)
    response = staff_client.post(reverse("admin:partners_facility_add"), data)
    assert message in _errors(response)
    assert not Facility.objects.exists()
    assert not OpeningHours.objects.exists()


def test_facility_admin_rejects_hours_on_a_24_7_facility(staff_client):
    data = _hours(_facility_post(PartnerFactory()), [(0, "08:00", "17:00")])
    data["open_24_7"] = "on"
    response = staff_client.post(reverse("admin:partners_facility_add"), data)
    assert "marked open 24/7" in _errors(response)
    assert not Facility.objects.exists()


def test_facility_admin_adds_listing_number_as_listing_kind(staff_client):
    data = _facility_post(PartnerFactory())
    data.update(
        {
            "listing_numbers-TOTAL_FORMS": "1",
            "listing_numbers-0-number": "+18885550177",
            "listing_numbers-0-label": "Lakeside listing",
            "listing_numbers-0-is_active": "on",
        }
    )
    response = staff_client.post(reverse("admin:partners_facility_add"), data)
    assert response.status_code == 302, response.content.decode()[:4000]
    number = HelplineNumber.objects.get(number="+18885550177")
    assert number.kind == HelplineNumber.Kind.LISTING
    assert number.facility == Facility.objects.get()


def test_partner_admin_rejects_invalid_sms_number(staff_client):
    partner = PartnerFactory()
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    data = {
        "display_name": partner.display_name,
        "legal_name": partner.legal_name,
        "slug": partner.slug,
        "status": "active",
        "price_per_call_cents": "4500",
        "min_billable_seconds": "60",
        "repeat_caller_window_days": "30",
        "priority": "5",
        "weight": "1",
        "notify_sms": "+15555550100",
        "facilities-TOTAL_FORMS": "0",
        "facilities-INITIAL_FORMS": "0",
        "facilities-MAX_NUM_FORMS": "1000",
    }
    response = staff_client.post(url, data)
    assert "Enter a valid phone number" in _errors(response)
    partner.refresh_from_db()
    assert str(partner.notify_sms) == ""


def test_partner_admin_search_and_filters(staff_client):
    tx = PartnerFactory(display_name="Hill Country Recovery")
    FacilityFactory(partner=tx, state="TX", city="Austin")
    ca = PartnerFactory(display_name="Pacific Shores", status=Partner.Status.PAUSED, priority=2)
    FacilityFactory(partner=ca, state="CA", city="Fresno", zip_code="93721", service_states=["CA"])
    unverified = PartnerFactory(display_name="Newcomer Health", license_verified_on=None)
    url = reverse("admin:partners_partner_changelist")

    def names(params: dict[str, str]) -> set[str]:
        response = staff_client.get(url, params)
        assert response.status_code == 200
        return {p.display_name for p in response.context["cl"].result_list}

    assert names({"q": "Fresno"}) == {"Pacific Shores"}
    assert names({"q": "hill country"}) == {"Hill Country Recovery"}
    assert names({"status__exact": "paused"}) == {"Pacific Shores"}
    assert names({"verified": "no"}) == {unverified.display_name}
    assert names({"state": "TX"}) == {"Hill Country Recovery"}
    assert names({"priority__exact": "2"}) == {"Pacific Shores"}


def test_pause_and_activate_actions(staff_client):
    first, second = PartnerFactory(), PartnerFactory(status=Partner.Status.PAUSED, paused_reason="Overdue")
    url = reverse("admin:partners_partner_changelist")
    response = staff_client.post(
        url, {"action": "pause_partners", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "Paused 1 partner(s); 1 already paused." in response.content.decode()
    first.refresh_from_db()
    assert first.status == Partner.Status.PAUSED
    response = staff_client.post(
        url, {"action": "activate_partners", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "Activated 2 partner(s)" in response.content.decode()
    assert set(Partner.objects.values_list("status", flat=True)) == {"active"}


def test_membership_admin_refuses_staff_account(staff_client):
    partner = PartnerFactory()
    other_staff = StaffFactory(username="second-staff")
    response = staff_client.post(
        reverse("admin:partners_partnermembership_add"), {"user": other_staff.pk, "partner": partner.pk}
    )
    assert "is a staff account" in _errors(response)
    assert not PartnerMembership.objects.exists()
    plain = UserFactory(username="clinic-frontdesk")
    response = staff_client.post(
        reverse("admin:partners_partnermembership_add"), {"user": plain.pk, "partner": partner.pk}
    )
    assert response.status_code == 302
    assert PartnerMembership.objects.get().user == plain


# --- Helpline numbers -------------------------------------------------------------


def test_listing_number_needs_a_facility_and_general_refuses_one(staff_client):
    url = reverse("admin:helpline_helplinenumber_add")
    response = staff_client.post(url, {"number": "+18885550160", "kind": "listing", "is_active": "on"})
    assert "must name the facility" in _errors(response)
    facility = FacilityFactory()
    response = staff_client.post(
        url, {"number": "+18885550160", "kind": "general", "facility": facility.pk, "is_active": "on"}
    )
    assert "not tied to one facility" in _errors(response)
    assert not HelplineNumber.objects.exists()


def test_marking_a_number_primary_demotes_the_old_primary(staff_client):
    old = HelplineNumberFactory(number="+18885550100", is_primary=True)
    response = staff_client.post(
        reverse("admin:helpline_helplinenumber_add"),
        {"number": "+18885550101", "kind": "general", "is_active": "on", "is_primary": "on"},
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert not old.is_primary
    assert HelplineNumber.objects.get(is_primary=True).number == "+18885550101"


def test_invalid_helpline_number_is_refused(staff_client):
    response = staff_client.post(
        reverse("admin:helpline_helplinenumber_add"), {"number": "+10005550100", "kind": "general", "is_active": "on"}
    )
    assert "Enter a valid phone number" in _errors(response)
    assert not HelplineNumber.objects.exists()


# --- Disclosure versions ------------------------------------------------------------

_WORDING = disclosure_wording()


def test_adding_a_disclosure_version_records_who_and_changes_every_page(staff_client):
    response = staff_client.post(reverse("admin:helpline_disclosureversion_add"), _WORDING)
    assert response.status_code == 302
    version = DisclosureVersion.objects.get()
    assert version.created_by.username == "intake-lead"
    page = staff_client.get(reverse("home")).content.decode()
    assert "A number printed on one facility&#x27;s listing rings that facility." in page


def test_disclosure_add_form_starts_from_current_wording(staff_client):
    DisclosureVersion.objects.create(**_WORDING)
    response = staff_client.get(reverse("admin:helpline_disclosureversion_add"))
    assert response.context["adminform"].form.initial["fees"] == _WORDING["fees"]


@pytest.mark.parametrize("field", list(_WORDING))
def test_disclosure_statement_cannot_be_blanked(staff_client, field):
    response = staff_client.post(reverse("admin:helpline_disclosureversion_add"), {**_WORDING, field: "   "})
    assert "cannot be removed" in _errors(response)
    assert not DisclosureVersion.objects.exists()


def test_disclosure_versions_cannot_be_edited_or_deleted(staff_client):
    version = DisclosureVersion.objects.create(**_WORDING)
    change_url = reverse("admin:helpline_disclosureversion_change", args=[version.pk])
    assert staff_client.get(change_url).status_code == 200  # view only
    assert staff_client.post(change_url, {**_WORDING, "fees": "Changed in place"}).status_code == 403
    delete_url = reverse("admin:helpline_disclosureversion_delete", args=[version.pk])
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403
    version.refresh_from_db()
    assert version.fees == _WORDING["fees"]
    assert DisclosureVersion.objects.count() == 1


def _partner_form_data(partner: Partner, **overrides: object) -> dict[str, object]:
    from partners.admin import PartnerAdminForm

    data = {name: getattr(partner, name) for name in PartnerAdminForm._meta.fields}  # type: ignore[union-attr]
    data["notify_sms"] = ""
    data["license_verified_on"] = partner.license_verified_on.isoformat() if partner.license_verified_on else ""
    return {k: ("" if v is None else v) for k, v in data.items()} | overrides


@pytest.mark.parametrize(
    ("value", "saved", "error"),
    [
        ("America/Los_Angeles", "America/Los_Angeles", None),
        ("  ", "", None),  # blank: its first facility's zone
        ("EST", None, "'EST' is not an IANA time zone"),
        ("Mars/Olympus", None, "is not an IANA time zone"),
    ],
)
def test_partner_form_takes_an_iana_zone_for_its_caps_or_blank(value, saved, error):
    from partners.admin import PartnerAdminForm

    partner = PartnerFactory()
    form = PartnerAdminForm(data=_partner_form_data(partner, time_zone=value), instance=partner)
    if error is None:
        assert form.is_valid(), form.errors
        assert form.save().time_zone == saved
    else:
        assert not form.is_valid()
        assert error in " ".join(form.errors["time_zone"])  # the messages, not their HTML-escaped rendering


def test_partner_change_page_says_which_calendar_its_caps_count(staff_client):
    facility = FacilityFactory(time_zone="America/Los_Angeles")
    response = staff_client.get(reverse("admin:partners_partner_change", args=[facility.partner_id]))
    assert response.status_code == 200
    assert "America/Los_Angeles (its first facility&#x27;s zone" in response.content.decode()
    assert "midnight there, not midnight UTC" in response.content.decode()
