"""Handlers of the helpline's events (see ``helpline.calls.events``), connected in ``PartnersConfig.ready``."""

from __future__ import annotations


def connect() -> None:
    """Connect the partners' handlers to the helpline's events (none yet: the helpline still calls billing)."""
