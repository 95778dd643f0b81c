"""The helpline room: helpline numbers, calls and their events, dial legs, admission requests, written directly.

One caller by default (``CALLER_NUMBER``, ``CALLER_NAME``): two rows made without ``caller`` are the same
person, as a repeat caller would be. Pass ``caller`` for another number; its hash is derived from it.
"""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from helpline.models import AdmissionRequest, Call, CallEvent, DialAttempt, HelplineNumber
from helpline.privacy import caller_hash
from tests.factories.partners import FacilityFactory

T0 = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
CALLER_NUMBER = "+15125550123"
CALLER_NAME = "Marguerite"


class HelplineNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HelplineNumber

    number = factory.Sequence(lambda n: f"+1888555{n % 10000:04d}")
    kind = HelplineNumber.Kind.GENERAL


class CallFactory(factory.django.DjangoModelFactory):
    """An ended call from ``caller``."""

    class Meta:
        model = Call

    class Params:
        caller = CALLER_NUMBER

    call_sid = factory.Sequence(lambda n: f"CA{n:032d}")
    to_number = "+18885550100"
    caller_number = factory.SelfAttribute("caller")
    caller_hash = factory.LazyAttribute(lambda c: caller_hash(c.caller))
    caller_area = "Austin, TX"
    service = "detox"
    state = "TX"
    zip_code = "78701"
    status = Call.Status.COMPLETED
    started_at = T0
    ended_at = factory.LazyAttribute(lambda c: c.started_at + dt.timedelta(minutes=6))


class CallEventFactory(factory.django.DjangoModelFactory):
    """Twilio's final status callback for ``call``, as stored."""

    class Meta:
        model = CallEvent

    call = factory.SubFactory(CallFactory)
    sid = factory.LazyAttribute(lambda e: e.call.call_sid)
    kind = "status"
    status = "completed"
    detail = factory.LazyFunction(lambda: {"CallDuration": "42", "FromZip": "78701"})


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
    """A routed request for a call back from ``caller``, with the answers a caller may give."""

    class Meta:
        model = AdmissionRequest

    class Params:
        caller = CALLER_NUMBER

    for_whom = AdmissionRequest.ForWhom.MYSELF
    first_name = CALLER_NAME
    phone = factory.SelfAttribute("caller")
    phone_hash = factory.LazyAttribute(lambda r: caller_hash(r.caller))
    zip_code = "78701"
    state = "TX"
    service = "residential"
    substances = factory.LazyFunction(lambda: ["alcohol", "opioids"])
    payment = AdmissionRequest.Payment.MEDICAID
    caller_timezone = "America/Chicago"
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


def billed_call(*, facility, started_at=T0, caller=CALLER_NUMBER, talk_seconds=300, **call_kwargs):
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


def disclosure_wording(**overrides: str) -> dict[str, str]:
    """Every statement of a disclosure version and both spoken lines, as the admin's add form posts them."""
    return {
        "intro": "Calls to our main number are answered by one of the providers below; each pays to advertise.",
        "listing_calls": "A number printed on one facility's listing rings that facility.",
        "fees": "Providers pay a flat fee per call, whoever you choose and whatever you decide.",
        "no_obligation": "You never have to enter treatment.",
        "free_confidential": "Free, confidential, open 24/7.",
        "not_affiliated": "Not affiliated with Alcoholics Anonymous World Services, Inc.",
        "spoken": "Free and private. Providers who pay to advertise answer.",
        "spoken_es": "Gratis y privado. Atienden proveedores que pagan por anunciarse.",
    } | overrides
