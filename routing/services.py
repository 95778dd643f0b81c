"""Writes of the routing app: run the engine and store its decision.

Contract used by helpline (voice and admission requests):

- ``route(*, request, kind, now=None) -> tuple[RoutingDecision, Decision]``:
  load candidates (``routing.selectors``), run ``engine.decide``, store a
  ``RoutingDecision`` row and return both.
- ``call_leg_started(*, partner_id) -> bool`` / ``call_leg_ended(*, partner_id)``:
  claim / release one of the partner's concurrent-call slots and count the
  day's calls; ``False`` means the partner is at its cap (try the next one).
"""

from __future__ import annotations
