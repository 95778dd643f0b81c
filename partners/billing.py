"""Billing: turns finished calls into ledger entries (see the billing work).

Contract used by helpline.voice / helpline tasks: ``bill_call(*, call_id)`` and
``bill_admission_callback(*, attempt_id)`` are called on commit once a call
(or bridged callback) has ended; both are idempotent.
"""

from __future__ import annotations


def bill_call(*, call_id: int) -> None:
    """Placeholder until the billing work lands."""


def bill_admission_callback(*, attempt_id: int) -> None:
    """Placeholder until the billing work lands."""
