"""The partners room: partners, facilities, opening hours, and a partner's user."""

from __future__ import annotations

import datetime as dt

import factory

from partners.models import Facility, OpeningHours, Partner, PartnerMembership
from tests.factories.users import UserFactory


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    legal_name = factory.Sequence(lambda n: f"Recovery Partner {n} LLC")
    display_name = factory.Sequence(lambda n: f"Recovery Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    price_per_call_cents = 4500
    license_verified_on = dt.date(2026, 1, 1)
    state_license_number = factory.Sequence(lambda n: f"LIC-{n:05d}")
    notify_email = factory.LazyAttribute(lambda p: f"intake@{p.slug}.example.org")


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Harbor House {n}")
    slug = factory.Sequence(lambda n: f"facility-{n}")
    address_line = "100 Main St"
    city = "Austin"
    state = "TX"
    zip_code = "78701"
    latitude = 30.2711
    longitude = -97.7437
    phone = factory.Sequence(lambda n: f"+1512555{n % 10000:04d}")
    time_zone = "America/Chicago"
    open_24_7 = True
    services = factory.LazyFunction(lambda: ["detox", "residential", "outpatient", "mat"])
    languages = factory.LazyFunction(lambda: ["en"])
    service_states = factory.LazyFunction(lambda: ["TX"])


class OpeningHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OpeningHours

    facility = factory.SubFactory(FacilityFactory, open_24_7=False)
    weekday = 0
    opens = dt.time(8, 0)
    closes = dt.time(18, 0)


class PartnerUserFactory(UserFactory):
    @factory.post_generation
    def partner(self, create, extracted, **kwargs):
        if create:
            PartnerMembership.objects.create(user=self, partner=extracted or PartnerFactory())
