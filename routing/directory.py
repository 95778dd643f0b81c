"""The directory as routing sees it: a narrow interface that ``partners`` provides at start-up.

Routing imports no other app. The partners app owns the directory tables
(partners, facilities, hours, closed dates) and registers a ``DirectorySource``
in its ``AppConfig.ready()`` (``partners.directory.routing_source``). Routing
reads rows through it, as plain tuples, so the compiled area index and the
live partner state keep their shape and their round trips: the live state of
the matched partners, the directory key and the rotation count are still one
query (see ``DirectorySource.live_partner_rows``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

# A partner that may take calls (``partners.models.Partner.Status.ACTIVE``).
PARTNER_ACTIVE = "active"

DirectoryKey = tuple[int, int]  # (version, token) of routing.models.DirectoryVersion

# Live partner state, in this order, after the partner id: what a pause, a licence
# change, a cap edit or a call changes. The last six are routing's own PartnerCounter.
LIVE_FIELDS = (
    "status",
    "license_verified_on",
    "daily_call_cap",
    "monthly_call_cap",
    "concurrent_call_cap",
    "monthly_budget_cents",
    "routing_counter__active_calls",
    "routing_counter__day",
    "routing_counter__calls_today",
    "routing_counter__month",
    "routing_counter__calls_this_month",
    "routing_counter__spend_this_month_cents",
)

# Columns of ``active_facilities()`` rows, in order.
FACILITY_FIELDS = (
    "id",
    "name",
    "partner_id",
    "phone",
    "services",
    "languages",
    "time_zone",
    "open_24_7",
    "latitude",
    "longitude",
    "service_states",
    "service_zips",
    "service_zip_prefixes",
    "service_radius_miles",
)


@dataclass(frozen=True)
class DialableFacility:
    """A facility that may be dialed now: active, and its partner active and licence-verified."""

    facility_id: int
    partner_id: int
    phone: str  # E.164
    partner_label: str  # the partner's name, for staff-facing notes


class DirectorySource(Protocol):
    def opening_hours(self) -> Iterable[tuple[int, int, Any, Any]]:
        """(facility id, weekday, opens, closes) of active facilities."""

    def closed_dates(self, *, since: date) -> Iterable[tuple[int, date]]:
        """(facility id, date) of active facilities' closed dates from ``since`` on."""

    def partner_terms(self) -> Iterable[tuple]:
        """(id, display_name, priority, weight, caps time zone, *LIVE_FIELDS) of every partner.

        The caps time zone is the IANA zone whose calendar days and months count the
        partner's caps and budget (its own, else its first facility's).
        """

    def active_facilities(self) -> Iterable[tuple]:
        """``FACILITY_FIELDS`` of every active facility."""

    def live_partner_rows(
        self, ids: list[int], *, rotation: tuple[str, date] | None
    ) -> tuple[dict[int, tuple], DirectoryKey | None, int | None]:
        """Rows (id, *LIVE_FIELDS) of ``ids``, the directory key and the rotation count, in one query.

        The key is None when it could not ride along (no rows off PostgreSQL): routing
        then reads it itself. The rotation count is None unless the source counted
        ``rotation`` (scope, UTC day) in the same statement.
        """

    def dialable_facility(self, facility_id: int) -> DialableFacility | None:
        """The facility's line if it may be dialed now (see ``DialableFacility``), else None."""

    def partner_caps(self, partner_id: int) -> tuple | None:
        """(status, license_verified_on, daily, monthly, concurrent caps, monthly_budget_cents, caps zone) or None."""


_source: DirectorySource | None = None


def register(source: DirectorySource) -> None:
    """Called once by the app that owns the directory, in its ``AppConfig.ready()``."""
    global _source
    _source = source


def source() -> DirectorySource:
    if _source is None:
        raise RuntimeError("no directory source registered (is 'partners' in INSTALLED_APPS?)")
    return _source
