"""Factories for billing and portal tests: calls, dial legs and admission requests written directly."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from helpline.models import AdmissionRequest, Call, DialAttempt
from helpline.privacy import caller_hash
from tests.factories import FacilityFactory

T0 = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


class CallFactory(factory.django.DjangoModelFactory):
    """An ended call; pass ``caller`` for a real number (hash derived from it)."""

    class Meta:
        model = Call

    class Params:
        caller = "+15125550123"

    call_sid = factory.Sequence(lambda n: f"CA{n:032d}")
    caller_number = factory.SelfAttribute("caller")
    caller_hash = factory.LazyAttribute(lambda c: caller_hash(c.caller))
    caller_area = "Austin, TX"
    service = "detox"
    state = "TX"
    zip_code = "78701"
    status = Call.Status.COMPLETED
    started_at = T0
    ended_at = factory.LazyAttribute(lambda c: c.started_at + dt.timedelta(minutes=6))


class DialAttemptFactory(factory.django.DjangoModelFactory):
    """A leg of a call to a partner facility; accepted and bridged for 5 minutes unless told."""

    class Meta:
        model = DialAttempt

    call = factory.SubFactory(CallFactory)
    sequence = factory.Sequence(lambda n: n % 30000 + 1)
    facility = factory.SubFactory(FacilityFactory)
    partner = factory.SelfAttribute("facility.partner")
    outcome = DialAttempt.Outcome.COMPLETED
    accepted = True
    talk_seconds = 300
    started_at = factory.LazyAttribute(lambda a: a.call.started_at if a.call else timezone.now())
    ended_at = factory.LazyAttribute(lambda a: a.started_at + dt.timedelta(seconds=a.talk_seconds + 20))


class AdmissionRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdmissionRequest

    class Params:
        caller = "+15125550123"

    for_whom = AdmissionRequest.ForWhom.MYSELF
    first_name = "Sam"
    phone = factory.SelfAttribute("caller")
    phone_hash = factory.LazyAttribute(lambda r: caller_hash(r.caller))
    zip_code = "78701"
    state = "TX"
    service = "residential"
    consent_text = "A treatment provider who pays to advertise here will call or text me."
    consent_version = "2026-01"
    consented_at = T0
    created_at = T0
    status = AdmissionRequest.Status.ROUTED


class CallbackLegFactory(DialAttemptFactory):
    """A bridged callback leg of an admission request."""

    call = None
    admission_request = factory.SubFactory(AdmissionRequestFactory)
    started_at = T0


def billed_call(*, facility, started_at=T0, caller="+15125550123", talk_seconds=300, **call_kwargs):
    """A finished call with one accepted leg to ``facility``."""
    call = CallFactory(
        started_at=started_at,
        caller=caller,
        connected_partner=facility.partner,
        connected_facility=facility,
        talk_seconds=talk_seconds,
        **call_kwargs,
    )
    attempt = DialAttemptFactory(call=call, facility=facility, partner=facility.partner, talk_seconds=talk_seconds)
    return call, attempt
