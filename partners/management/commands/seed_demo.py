"""``python manage.py seed_demo``: a dozen demo partners, helpline numbers, a staff and a partner login.

The partners go through the same importer as real onboarding files, so demo
data obeys every rule real data does (real ZIPs, valid numbers, hours) and
re-running the command updates rows instead of duplicating them. It prints the
two logins; passwords are random unless ``--password`` is given, and are reset
on every run.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from helpline.models import DisclosureVersion, HelplineNumber
from partners.demo import seed_demo_activity
from partners.directory.importer import PartnerImportError, import_partners
from partners.models import Partner, PartnerMembership

STAFF_USERNAME = "staff"
PARTNER_USERNAME = "partner"
PARTNER_USER_SLUG = "hill-country-recovery"
GENERAL_NUMBERS = [
    ("+18885550100", "Main helpline (English and Spanish)", True),
    ("+18885550101", "Línea en español", False),
]

WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
CLINIC_HOURS = {
    **{day: [["07:00", "19:00"]] for day in ("monday", "tuesday", "wednesday", "thursday")},
    "friday": [["07:00", "17:00"]],
    "saturday": [["08:00", "12:00"]],
}
EVENING_IOP = {
    **{day: [["08:00", "12:00"], ["17:00", "21:00"]] for day in ("monday", "tuesday", "wednesday", "thursday")},
    "friday": [["08:00", "12:00"]],
}
HOLIDAYS = [{"date": "2026-11-26", "note": "Thanksgiving"}, {"date": "2026-12-25", "note": "Christmas Day"}]


def _facility(
    slug: str, name: str, address: str, city: str, state: str, zip_code: str, phone: str, **extra: Any
) -> dict:
    return {
        "slug": slug,
        "name": name,
        "address_line": address,
        "city": city,
        "state": state,
        "zip_code": zip_code,
        "phone": phone,
        "is_active": True,
        **extra,
    }


def _partner(slug: str, display: str, legal: str, price_cents: int, facilities: list[dict], **extra: Any) -> dict:
    return {
        "slug": slug,
        "display_name": display,
        "legal_name": legal,
        "status": "active",
        "paused_reason": "",
        "price_per_call_cents": price_cents,
        "license_verified_on": "2026-01-15",
        "state_license_number": f"LIC-{slug.upper()[:12]}",
        "notify_email": f"admissions@{slug}.example.org",
        "facilities": facilities,
        **extra,
    }


def demo_partners() -> list[dict]:
    """Twelve partners in ten states covering every service; one paused and one unverified to show exclusions."""
    return [
        _partner(
            "hill-country-recovery", "Hill Country Recovery Center", "Hill Country Recovery Center, LLC", 4500,
            [
                _facility(
                    "hill-country-austin", "Hill Country Recovery – Austin", "410 Congress Ave", "Austin", "TX",
                    "78701", "+15125550110", open_24_7=True, hours={},
                    services=["detox", "residential", "mat", "dual_diagnosis"], languages=["en", "es"],
                    service_area={"states": ["TX"]},
                    listing_numbers=[{"number": "+18665550110", "label": "Austin listing"}],
                ),
                _facility(
                    "hill-country-san-marcos", "Hill Country Recovery – San Marcos Outpatient", "120 E Hopkins St",
                    "San Marcos", "TX", "78666", "+15125550120", open_24_7=False, hours=CLINIC_HOURS,
                    closed_dates=HOLIDAYS, services=["outpatient", "iop"], languages=["en", "es"],
                    service_area={"zip_prefixes": ["786", "787"], "radius_miles": 40},
                ),
            ],
            priority=3, weight=2, legitscript_certified=True, joint_commission_accredited=True,
            daily_call_cap=40, concurrent_call_cap=3, notify_sms="+15125550101",
        ),
        _partner(
            "gulf-coast-treatment", "Gulf Coast Treatment Partners", "Gulf Coast Treatment Partners, PA", 4000,
            [
                _facility(
                    "gulf-coast-houston", "Gulf Coast Treatment – Houston Day Program", "1001 Fannin St", "Houston",
                    "TX", "77002", "+17135550130", open_24_7=False, hours=EVENING_IOP,
                    services=["php", "iop", "outpatient"], languages=["en", "es"],
                    service_area={"radius_miles": 50},
                ),
            ],
            priority=5, carf_accredited=True,
        ),
        _partner(
            "blue-ridge-behavioral", "Blue Ridge Behavioral Health", "Blue Ridge Behavioral Health Partners, PLLC",
            3800,
            [
                _facility(
                    "blue-ridge-asheville", "Blue Ridge Behavioral Health – Asheville", "75 Haywood St", "Asheville",
                    "NC", "28801", "+18285550140", open_24_7=False, hours=CLINIC_HOURS,
                    closed_dates=[{"date": "2026-07-03", "note": "Independence Day (observed)"}],
                    services=["mat", "outpatient", "dual_diagnosis"], languages=["en"],
                    service_area={"radius_miles": 60, "zips": ["28792"]},
                    listing_numbers=[{"number": "+18665550140", "label": "Asheville MAT clinic"}],
                ),
            ],
            carf_accredited=True,
        ),
        _partner(
            "sunrise-pathways", "Sunrise Pathways", "Sunrise Pathways Treatment Services, Inc.", 5200,
            [
                _facility(
                    "sunrise-phoenix", "Sunrise Pathways – Phoenix Day Treatment", "1 E Washington St", "Phoenix",
                    "AZ", "85004", "+16025550150", open_24_7=False,
                    hours={**WEEKDAYS_9_TO_5, "saturday": [["08:00", "14:00"]]},
                    services=["php", "iop", "dual_diagnosis"], languages=["en", "es"],
                    service_area={"zip_prefixes": ["850", "852", "853"]},
                ),
            ],
            priority=4, legitscript_certified=True, daily_call_cap=25,
        ),
        _partner(
            "lakeshore-recovery", "Lakeshore Recovery Institute", "Lakeshore Recovery Institute NFP", 4800,
            [
                _facility(
                    "lakeshore-chicago", "Lakeshore Recovery – Lincoln Park", "2400 N Clark St", "Chicago", "IL",
                    "60614", "+13125550160", open_24_7=True, hours={},
                    services=["detox", "residential", "dual_diagnosis"], languages=["en", "es"],
                    service_area={"states": ["IL"]},
                ),
            ],
            joint_commission_accredited=True,
        ),
        _partner(
            "bayfront-recovery", "Bayfront Recovery", "Bayfront Recovery Holdings, LLC", 5500,
            [
                _facility(
                    "bayfront-miami", "Bayfront Recovery – Miami", "100 SW 8th St", "Miami", "FL", "33130",
                    "+13055550170", open_24_7=True, hours={}, services=["detox", "residential", "mat"],
                    languages=["en", "es"], service_area={"states": ["FL"]},
                    listing_numbers=[{"number": "+18665550170", "label": "Miami listing"}],
                ),
            ],
            legitscript_certified=True, joint_commission_accredited=True, monthly_budget_cents=2_500_000,
        ),
        _partner(
            "harbor-light-counseling", "Harbor Light Counseling", "Harbor Light Counseling Services, LCSW, PC", 3500,
            [
                _facility(
                    "harbor-light-harlem", "Harbor Light Counseling – Harlem", "200 W 125th St", "New York", "NY",
                    "10027", "+12125550180", open_24_7=False, hours=EVENING_IOP, closed_dates=HOLIDAYS,
                    services=["outpatient", "iop", "mat"], languages=["en", "es"],
                    service_area={"zip_prefixes": ["100", "101", "102", "104"]},
                ),
            ],
        ),
        _partner(
            "cascade-clearwater", "Cascade Clearwater Health", "Cascade Clearwater Health Cooperative", 4200,
            [
                _facility(
                    "cascade-portland", "Cascade Clearwater – Portland", "1200 SE Morrison St", "Portland", "OR",
                    "97214", "+15035550190", open_24_7=False, hours=CLINIC_HOURS,
                    services=["mat", "outpatient"], languages=["en"], service_area={"radius_miles": 75},
                ),
                _facility(
                    "cascade-seattle", "Cascade Clearwater – Capitol Hill", "1500 E Pike St", "Seattle", "WA",
                    "98122", "+12065550191", open_24_7=False, hours=WEEKDAYS_9_TO_5,
                    services=["iop", "php", "dual_diagnosis"], languages=["en"], service_area={"states": ["WA"]},
                ),
            ],
            weight=3,
        ),
        _partner(
            "front-range-recovery", "Front Range Recovery", "Front Range Recovery Services, Inc.", 4700,
            [
                _facility(
                    "front-range-denver", "Front Range Recovery – Denver", "3100 Downing St", "Denver", "CO",
                    "80205", "+13035550200", open_24_7=True, hours={}, services=["detox", "residential"],
                    languages=["en"], service_area={"states": ["CO", "NM", "TX"]},  # residential: takes Texans too
                    listing_numbers=[{"number": "+18665550200", "label": "Denver listing"}],
                ),
            ],
            carf_accredited=True,
        ),
        _partner(
            "peachtree-wellness", "Peachtree Wellness Center", "Peachtree Wellness Center, LLC", 3900,
            [
                _facility(
                    "peachtree-atlanta", "Peachtree Wellness – Midtown", "800 Peachtree St NE", "Atlanta", "GA",
                    "30308", "+14045550210", open_24_7=False, hours=CLINIC_HOURS,
                    services=["php", "iop", "outpatient", "dual_diagnosis"], languages=["en"],
                    service_area={"radius_miles": 50},
                ),
            ],
        ),
        _partner(
            "music-city-recovery", "Music City Recovery", "Music City Recovery Partners, LLC", 4100,
            [
                _facility(
                    "music-city-nashville", "Music City Recovery – Nashville", "600 Broadway", "Nashville", "TN",
                    "37203", "+16155550220", open_24_7=True, hours={}, services=["detox", "residential", "mat"],
                    languages=["en"], service_area={"states": ["TN"]},
                ),
            ],
            status="paused", paused_reason="Paused: invoice overdue (demo)",
        ),
        _partner(
            "new-horizons-behavioral", "New Horizons Behavioral", "New Horizons Behavioral Health, Inc.", 3600,
            [
                _facility(
                    "new-horizons-columbus", "New Horizons – Columbus", "50 W Broad St", "Columbus", "OH", "43215",
                    "+16145550230", open_24_7=False, hours=WEEKDAYS_9_TO_5, services=["outpatient", "iop", "mat"],
                    languages=["en"], service_area={"states": ["OH"]},
                ),
            ],
            license_verified_on=None, state_license_number="",
        ),
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Load demo partners, facilities, helpline numbers, the disclosure and two logins (safe to re-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="Password for both demo logins (default: a new random one each).")

    def handle(self, *args: Any, **options: Any) -> None:
        given = options.get("password")
        staff_password = given or secrets.token_urlsafe(15)
        partner_password = given or secrets.token_urlsafe(15)
        if given:
            try:
                password_validation.validate_password(given)
            except ValidationError as exc:
                raise CommandError("--password is too weak: " + " ".join(exc.messages)) from exc

        try:
            with transaction.atomic():
                report = import_partners(data={"partners": demo_partners()})
                self._helpline_numbers()
                if not DisclosureVersion.objects.exists():
                    DisclosureVersion.objects.create()
                self._users(staff_password, partner_password)
        except PartnerImportError as exc:  # pragma: no cover - the demo data is tested to import cleanly
            raise CommandError("Demo data failed validation:\n" + "\n".join(exc.problems)) from exc

        self.stdout.write(self.style.SUCCESS(f"Demo directory loaded. {report.summary()}"))
        self._seed_activity()
        self._seed_guides()
        self.stdout.write("")
        self.stdout.write("Demo logins (passwords are reset each time seed_demo runs):")
        self.stdout.write(f"  staff admin     username: {STAFF_USERNAME:<8} password: {staff_password}")
        self.stdout.write(f"  partner portal  username: {PARTNER_USERNAME:<8} password: {partner_password}")

    def _helpline_numbers(self) -> None:
        for number, label, primary in GENERAL_NUMBERS:
            if primary:
                HelplineNumber.objects.filter(is_primary=True).exclude(number=number).update(is_primary=False)
            HelplineNumber.objects.update_or_create(
                number=number,
                defaults={
                    "kind": HelplineNumber.Kind.GENERAL,
                    "facility": None,
                    "label": label,
                    "is_active": True,
                    "is_primary": primary,
                },
            )

    def _users(self, staff_password: str, partner_password: str) -> None:
        user_model = get_user_model()
        staff, _ = user_model.objects.get_or_create(username=STAFF_USERNAME, defaults={"email": "staff@example.org"})
        staff.is_staff = staff.is_superuser = staff.is_active = True
        staff.set_password(staff_password)
        staff.save()
        partner_user, _ = user_model.objects.get_or_create(
            username=PARTNER_USERNAME, defaults={"email": "partner@example.org"}
        )
        partner_user.is_staff = partner_user.is_superuser = False
        partner_user.is_active = True
        partner_user.set_password(partner_password)
        partner_user.save()
        PartnerMembership.objects.update_or_create(
            user=partner_user, defaults={"partner": Partner.objects.get(slug=PARTNER_USER_SLUG)}
        )

    def _seed_guides(self) -> None:
        """The substance guides (``load_guides``), published under a reviewer labelled as demo data."""
        from helpline.site.guides.demo import seed_demo_guides

        report, published = seed_demo_guides()
        self.stdout.write(f"Guides: {report.summary()}; {published} published as demo (not a real clinical review).")

    def _seed_activity(self) -> None:
        """Demo calls, requests and billing (``partners.demo``)."""
        self.stdout.write("Demo activity: a month of calls through the real routing, today's queue, billing…")
        started = time.monotonic()
        report = seed_demo_activity(progress=self._progress)
        self.stdout.write(
            self.style.SUCCESS(f"Demo activity added in {time.monotonic() - started:.1f} s: {report.summary()}.")
        )

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
