"""Resolve a caller's location: given ZIP, Twilio FromZip/FromState, caller-ID area code.

Contract: ``resolve_location(*, given_zip="", twilio_zip="", twilio_state="",
caller_number="") -> engine.Location``; ``normalise_zip(raw) -> str | None``.
"""

from __future__ import annotations
