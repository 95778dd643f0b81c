"""What the helpline tells the rooms above it (``partners``): events, never imports.

The helpline does not import ``partners``. Where a call or a request must cause
partner-side work (bill it, maybe pause the partner, send the partner's
webhook), the helpline sends one of these signals and ``partners`` connects its
handlers in ``PartnersConfig.ready`` (``partners.events``). The sweepers
(``partners.webhooks.tasks.sweep_unbilled_calls`` etc.) stay the backstop, so
an event lost to a crash is still handled.

When each is sent (timing unchanged from the direct calls they replace):

- ``call_final`` (``call_id``): after commit, once a call is over and no leg
  is open: bill it.
- ``admission_callback_leg_final`` (``attempt_id``): after commit, once a
  bridged callback leg has ended: bill it.
- ``partner_leg_unanswered`` (``partner_id``, ``now``): inside the leg's
  transaction (a savepoint), when a leg went unanswered, failed or was not
  accepted: the partner may be paused (compare-and-set, logged).
- ``partner_webhook`` (``partner_id``, ``event``, ``payload``): inside the
  transaction that recorded the fact ("call.connected",
  "admission_request.routed"), so the webhook row commits with it. Payloads
  carry ids and needs, never a caller's name or number.

Handlers run synchronously (Django signals), so eager Celery, the embedded
mode and the tests see the same order of effects as before.
"""

from __future__ import annotations

from django.dispatch import Signal

call_final = Signal()
admission_callback_leg_final = Signal()
partner_leg_unanswered = Signal()
partner_webhook = Signal()
