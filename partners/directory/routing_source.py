"""The directory as routing reads it: ``routing.directory.DirectorySource`` over the partners' tables.

Registered in ``PartnersConfig.ready()``. Rows are plain tuples in the column
order ``routing.directory`` documents; the live partner state of a decision is
one query (on PostgreSQL it also counts the rotation and reads the directory
key, in the same statement).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Subquery

from partners.models import ClosedDate, Facility, OpeningHours, Partner, caps_time_zone_expression
from routing.directory import FACILITY_FIELDS, LIVE_FIELDS, DialableFacility, DirectoryKey
from routing.models import DirectoryVersion, PartnerCounter, RotationCounter
from routing.selectors import async_commit_sql


def _column(meta: Any, name: str) -> str:
    return str(meta.get_field(name).column)


class PartnersDirectory:
    """The partners app's implementation of ``routing.directory.DirectorySource``."""

    def opening_hours(self) -> Iterable[tuple[int, int, Any, Any]]:
        return OpeningHours.objects.filter(facility__is_active=True).values_list(
            "facility_id", "weekday", "opens", "closes"
        )

    def closed_dates(self, *, since: date) -> Iterable[tuple[int, date]]:
        return ClosedDate.objects.filter(facility__is_active=True, date__gte=since).values_list("facility_id", "date")

    def partner_terms(self) -> Iterable[tuple]:
        return Partner.objects.annotate(caps_zone=caps_time_zone_expression()).values_list(
            "id", "display_name", "priority", "weight", "caps_zone", *LIVE_FIELDS
        )

    def active_facilities(self) -> Iterable[tuple]:
        return Facility.objects.filter(is_active=True).values_list(*FACILITY_FIELDS)

    def dialable_facility(self, facility_id: int) -> DialableFacility | None:
        facility = Facility.objects.select_related("partner").filter(id=facility_id).first()
        if facility is None or not facility.is_active or not facility.partner.is_routable:
            return None
        return DialableFacility(
            facility_id=facility.pk,
            partner_id=facility.partner_id,
            phone=str(facility.phone),
            partner_label=str(facility.partner),
        )

    def partner_caps(self, partner_id: int) -> tuple | None:
        return (
            Partner.objects.filter(id=partner_id)
            .annotate(caps_zone=caps_time_zone_expression())
            .values_list(
                "status",
                "license_verified_on",
                "daily_call_cap",
                "monthly_call_cap",
                "concurrent_call_cap",
                "monthly_budget_cents",
                "caps_zone",
            )
            .first()
        )

    def live_partner_rows(
        self, ids: list[int], *, rotation: tuple[str, date] | None
    ) -> tuple[dict[int, tuple], DirectoryKey | None, int | None]:
        if connection.vendor == "postgresql":
            return _partner_rows_postgresql(ids, rotation)
        current = DirectoryVersion.objects.filter(id=1)
        rows = list(
            Partner.objects.filter(id__in=ids)
            .annotate(
                directory_version=Subquery(current.values("version")[:1]),
                directory_token=Subquery(current.values("token")[:1]),
            )
            .values_list("id", *LIVE_FIELDS, "directory_version", "directory_token")
        )
        out = {row[0]: row[:-2] for row in rows}
        if not rows:
            return out, None, None
        last = rows[len(rows) - 1]
        return out, (int(last[-2] or 0), int(last[-1] or 0)), None


def _partner_rows_postgresql(
    ids: list[int], rotation: tuple[str, date] | None
) -> tuple[dict[int, tuple], DirectoryKey | None, int | None]:
    qn = connection.ops.quote_name
    partner, counter = Partner._meta, PartnerCounter._meta
    rotation_table, version_table = qn(RotationCounter._meta.db_table), qn(DirectoryVersion._meta.db_table)
    columns = [f"p.{qn(_column(partner, name))}" for name in LIVE_FIELDS if "__" not in name]
    columns += [f"c.{qn(_column(counter, name.split('__', 1)[1]))}" for name in LIVE_FIELDS if "__" in name]
    params: list[Any] = []
    with_sql, rotation_sql = "", "NULL"
    if rotation is not None:
        with_sql = (
            f"WITH rot AS (INSERT INTO {rotation_table} (day, scope, value) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (day, scope) DO UPDATE SET value = {rotation_table}.value + 1 RETURNING value) "
        )
        params += [rotation[1], rotation[0][:40]]
        rotation_sql = "(SELECT value FROM rot)"
    params.append(ids)
    sql = (
        f"{with_sql}SELECT p.{qn(partner.pk.column)}, {', '.join(columns)}, dv.version, dv.token, "  # noqa: S608 - our tables
        f"{rotation_sql}{async_commit_sql() if rotation is not None else ''} "
        f"FROM (SELECT 1) AS one LEFT JOIN {version_table} dv ON dv.id = 1 "
        f"LEFT JOIN {qn(partner.db_table)} p ON p.{qn(partner.pk.column)} = ANY(%s) "
        f"LEFT JOIN {qn(counter.db_table)} c ON c.{qn(counter.pk.column)} = p.{qn(partner.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = 1 + len(LIVE_FIELDS)
    out = {row[0]: tuple(row[:width]) for row in rows if row[0] is not None}
    first = rows[0]
    key = (int(first[width] or 0), int(first[width + 1] or 0))
    value = first[width + 2]
    return out, key, int(value) if value is not None else None
