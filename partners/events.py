"""The partners' handlers of the helpline's events (``helpline.events``), connected in ``PartnersConfig.ready``.

Billing, the automatic pause and partner webhooks are partner-side work caused
by calls and requests; the helpline announces, partners act. The sweepers
(``sweep_unbilled_calls``, ``sweep_webhook_deliveries``) remain the backstop.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models.signals import post_save

from helpline import events
from helpline.calls.services import forget_helpline_numbers
from partners.billing import rule as billing
from partners.directory import services as directory_services
from partners.models import Facility
from partners.webhooks import delivery


def on_call_final(*, call_id: int, **_: Any) -> None:
    billing.bill_call(call_id=call_id)


def on_admission_callback_leg_final(*, attempt_id: int, **_: Any) -> None:
    billing.bill_admission_callback(attempt_id=attempt_id)


def on_partner_leg_unanswered(*, partner_id: int, now: dt.datetime, **_: Any) -> None:
    directory_services.partner_check_auto_pause(partner_id=partner_id, now=now)


def on_partner_webhook(*, partner_id: int, event: str, payload: dict[str, Any], **_: Any) -> None:
    delivery.enqueue_event(partner_id=partner_id, event=event, payload=payload)


def connect() -> None:
    events.call_final.connect(on_call_final, dispatch_uid="partners-bill-call")
    events.admission_callback_leg_final.connect(
        on_admission_callback_leg_final, dispatch_uid="partners-bill-admission-callback"
    )
    events.partner_leg_unanswered.connect(on_partner_leg_unanswered, dispatch_uid="partners-auto-pause")
    events.partner_webhook.connect(on_partner_webhook, dispatch_uid="partners-webhook")
    # The helpline caches which numbers are listing numbers; a facility edit must forget them.
    post_save.connect(forget_helpline_numbers, sender=Facility, dispatch_uid="voice-forget-numbers-facility")
