"""Caller-side factories for the privacy and security tests."""

from __future__ import annotations

import factory
from django.utils import timezone

from helpline.models import AdmissionRequest, Call, CallEvent
from helpline.privacy import caller_hash

CALLER_NUMBER = "+15125550199"
CALLER_NAME = "Marguerite"


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    call_sid = factory.Sequence(lambda n: f"CA{n:032d}")
    to_number = "+18885550000"
    caller_number = CALLER_NUMBER
    caller_hash = factory.LazyAttribute(lambda c: caller_hash(c.caller_number or ""))
    caller_area = "Austin, TX"
    service = "detox"
    zip_code = "78701"
    state = "TX"
    started_at = factory.LazyFunction(timezone.now)


class CallEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallEvent

    call = factory.SubFactory(CallFactory)
    sid = factory.LazyAttribute(lambda e: e.call.call_sid)
    kind = "status"
    status = "completed"
    detail = factory.LazyFunction(lambda: {"CallDuration": "42", "FromZip": "78701"})


class AdmissionRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdmissionRequest

    for_whom = AdmissionRequest.ForWhom.MYSELF
    first_name = CALLER_NAME
    phone = CALLER_NUMBER
    phone_hash = factory.LazyAttribute(lambda r: caller_hash(r.phone))
    zip_code = "78701"
    state = "TX"
    service = "detox"
    substances = factory.LazyFunction(lambda: ["alcohol", "opioids"])
    payment = AdmissionRequest.Payment.MEDICAID
    caller_timezone = "America/Chicago"
    consent_text = "A treatment provider who pays to advertise here will call or text you."
    consent_version = "2026-01"
    consented_at = factory.LazyFunction(timezone.now)
