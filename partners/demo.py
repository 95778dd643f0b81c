"""Demo activity for ``seed_demo``: finished calls for each partner, billed through the real billing rule."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from helpline.models import Call, DialAttempt
from helpline.privacy import caller_hash
from partners.billing.invoices import generate_invoice
from partners.billing.rule import bill_call
from partners.models import Facility, Partner


def seed_demo_activity(*, days: int = 30, calls_per_partner: int = 60, seed: int = 7) -> int:
    """Create demo calls (some unanswered, short or repeat) for each partner with a facility; returns calls made.

    Rerunnable: demo call SIDs are deterministic, existing ones are skipped.
    Caller numbers are from the 555-01xx fictional range.
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    now = timezone.now()
    made = 0
    for partner in Partner.objects.order_by("pk"):
        facility = Facility.objects.filter(partner=partner, is_active=True).order_by("pk").first()
        if facility is None:
            continue
        services = facility.services or ["detox"]
        for i in range(calls_per_partner):
            sid = f"CAdemo{partner.pk:05d}{i:06d}"
            if Call.objects.filter(call_sid=sid).exists():
                continue
            started = now - dt.timedelta(days=rng.uniform(0, days))
            number = f"+1512555{rng.randint(100, 199):04d}"
            roll = rng.random()
            accepted = roll > 0.2
            talk = 0 if not accepted else (rng.randint(10, 45) if roll < 0.3 else rng.randint(70, 900))
            with transaction.atomic():
                call = Call.objects.create(
                    call_sid=sid,
                    caller_number=number,
                    caller_hash=caller_hash(number),
                    caller_area=f"{facility.city}, {facility.state}",
                    service=rng.choice(services),
                    state=facility.state,
                    zip_code=facility.zip_code,
                    status=Call.Status.COMPLETED,
                    connected_partner=partner if accepted else None,
                    connected_facility=facility if accepted else None,
                    talk_seconds=talk,
                    duration_seconds=talk + 40,
                    started_at=started,
                    ended_at=started + dt.timedelta(seconds=talk + 40),
                )
                DialAttempt.objects.create(
                    call=call,
                    sequence=1,
                    partner=partner,
                    facility=facility,
                    outcome=DialAttempt.Outcome.COMPLETED if accepted else DialAttempt.Outcome.NO_ANSWER,
                    accepted=accepted,
                    talk_seconds=talk,
                    started_at=started,
                    ended_at=started + dt.timedelta(seconds=talk + 30),
                )
            bill_call(call_id=call.pk)
            made += 1
        previous = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        generate_invoice(partner=partner, month=previous)
    return made
