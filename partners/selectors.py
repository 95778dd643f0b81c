"""Reads for the portal, the API and staff reports.

Every partner-facing read takes the partner explicitly; ``None`` means staff
(everything). Lists are sliced with keyset cursors so a partner with a million
calls costs the same as one with ten, and each list is a fixed number of
queries whatever the page size.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from helpline.models import AdmissionRequest, Call
from partners.models import (
    BillingDecision,
    Dispute,
    Invoice,
    LedgerEntry,
    Partner,
    PartnerChangeLog,
    PartnerDailyStats,
    PartnerMembership,
    WebhookDelivery,
    WebhookEvent,
)


def partner_for_user(user: Any) -> Partner | None:
    """The partner a logged-in user belongs to, or None (staff or a stray account)."""
    if user is None or not user.is_authenticated:
        return None
    membership = PartnerMembership.objects.select_related("partner").filter(user=user).first()
    return membership.partner if membership else None


def _scoped(qs: QuerySet, partner: Partner | None, field_name: str = "partner") -> QuerySet:
    return qs if partner is None else qs.filter(**{field_name: partner})


def _date_range(qs: QuerySet, field_name: str, since: dt.date | None, until: dt.date | None) -> QuerySet:
    if since is not None:
        qs = qs.filter(**{f"{field_name}__gte": dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)})
    if until is not None and until < dt.date.max:
        # ``until`` is inclusive: everything before the next midnight. The last representable
        # date has no next midnight (``?until=9999-12-31`` overflowed into a 500): no upper bound.
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        qs = qs.filter(**{f"{field_name}__lt": end})
    return qs


def call_records(
    *,
    partner: Partner | None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    billable: bool | None = None,
) -> QuerySet[BillingDecision]:
    """The partner's dialed legs (calls and callbacks) with billing verdicts, newest first."""
    qs = _scoped(BillingDecision.objects.all(), partner)
    qs = _date_range(qs, "occurred_at", since, until)
    if billable is not None:
        qs = qs.filter(billable=billable)
    # Only what lists show: a Call or Facility row is wide, and a page builds 50 of each.
    own = [f.attname for f in BillingDecision._meta.concrete_fields]
    return (
        qs.select_related("call", "admission_request", "facility", "ledger_entry")
        .only(
            *own,
            "call__caller_number",
            "admission_request__phone",
            "admission_request__public_id",
            "admission_request__status",
            "facility__name",
            "ledger_entry__id",
        )  # fmt: skip
        .order_by("-occurred_at", "-id")
    )


def ledger_entries(
    *, partner: Partner | None, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[LedgerEntry]:
    qs = _date_range(_scoped(LedgerEntry.objects.all(), partner), "occurred_at", since, until)
    return qs.select_related("decision", "created_by").order_by("-occurred_at", "-id")


def invoices(
    *, partner: Partner | None, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[Invoice]:
    qs = _scoped(Invoice.objects.all(), partner).select_related("partner")
    if since is not None:
        qs = qs.filter(month__gte=since.replace(day=1))
    if until is not None:
        qs = qs.filter(month__lte=until)
    return qs.order_by("-month", "-id")


def admission_requests(
    *, partner: Partner | None, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[AdmissionRequest]:
    qs = _date_range(_scoped(AdmissionRequest.objects.all(), partner), "created_at", since, until)
    return qs.select_related("facility", "partner").order_by("-created_at", "-id")


def disputes(*, partner: Partner | None) -> QuerySet[Dispute]:
    return (
        _scoped(Dispute.objects.all(), partner)
        .select_related("charge", "charge__decision", "opened_by", "resolved_by", "credit", "partner")
        .order_by("-opened_at", "-id")
    )


def webhook_deliveries(*, partner: Partner) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(partner=partner).select_related("webhook_event").order_by("-at", "-id")


def change_log(*, partner: Partner) -> QuerySet[PartnerChangeLog]:
    return PartnerChangeLog.objects.filter(partner=partner).order_by("-at", "-id")


# --- keyset pages ---------------------------------------------------------------


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None
    is_first: bool


class InvalidCursor(ValueError):
    """A page cursor we did not make (cut short, edited, or out of range)."""


def parse_cursor(raw: str | None) -> tuple[dt.datetime, int] | None:
    """``<ISO time>~<id>`` of the last row shown; None (the first page) when absent.

    Anything else is an ``InvalidCursor``: the portal answers it with a 400 that says so, as
    the API does, rather than quietly showing page one as if the link had worked.
    """
    if not raw:
        return None
    when, tilde, pk = raw.rpartition("~")
    if not tilde:
        raise InvalidCursor(raw)
    try:
        at = dt.datetime.fromisoformat(when)
        number = int(pk)
        # In UTC now, so a hand-made cursor at the edge of the calendar (0001-01-01T00:00+14:00)
        # fails here as malformed rather than overflowing in the database adapter.
        utc = at.astimezone(dt.UTC) if at.tzinfo is not None else None
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor(raw) from exc
    # Beyond a bigint the database errors instead of finding nothing.
    if utc is None or not 0 < number < 2**63:
        raise InvalidCursor(raw)
    return utc, number


def keyset_page(qs: QuerySet, *, cursor: str | None, time_field: str, size: int = 50) -> Page:
    """Rows strictly older than the cursor, ordered (time desc, id desc), plus the next cursor.

    Raises ``InvalidCursor`` for a cursor that is not one of ours.
    """
    position = parse_cursor(cursor)
    if position is not None:
        at, pk = position
        # The plain ``<=`` bound lets the index range scan start at the cursor; the OR settles ties.
        qs = qs.filter(**{f"{time_field}__lte": at}).filter(
            Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "pk__lt": pk})
        )
    rows = list(qs.order_by(f"-{time_field}", "-pk")[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = f"{getattr(last, time_field).isoformat()}~{last.pk}"
    return Page(rows=rows, next_cursor=next_cursor, is_first=position is None)


# --- dashboard ---------------------------------------------------------------------


@dataclass
class DayStats:
    day: dt.date
    offered: int = 0
    accepted: int = 0
    billable: int = 0
    talk_seconds: int = 0


@dataclass
class Dashboard:
    days: list[DayStats]
    offered: int
    accepted: int
    billable: int
    answer_rate: float | None
    avg_talk_seconds: int | None
    spend_cents: int
    budget_cents: int | None
    budget_used: float | None
    month_start: dt.date
    open_disputes: int
    max_per_day: int = field(default=1)


def dashboard(*, partner: Partner, now: dt.datetime | None = None, days: int = 30) -> Dashboard:
    """Per-day counts for the last ``days`` days (from the daily rollup) and this month's spend."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    first_day = today - dt.timedelta(days=days - 1)
    # The rollup written with each decision: at most ``days`` rows whatever the call volume.
    rows = PartnerDailyStats.objects.filter(partner=partner, day__gte=first_day).values(
        "day", n_offered=F("offered"), n_accepted=F("accepted"), n_billable=F("billable"), talk=F("talk_seconds")
    )
    by_day = {r["day"]: r for r in rows}
    series = []
    for i in range(days):
        day = first_day + dt.timedelta(days=i)
        r = by_day.get(day)
        series.append(
            DayStats(
                day=day,
                offered=r["n_offered"],
                accepted=r["n_accepted"],
                billable=r["n_billable"],
                talk_seconds=r["talk"] or 0,
            )  # fmt: skip
            if r
            else DayStats(day=day)
        )
    offered = sum(d.offered for d in series)
    accepted = sum(d.accepted for d in series)
    billable = sum(d.billable for d in series)
    talk = sum(d.talk_seconds for d in series)
    # The budget is a limit on the partner's own month (as routing counts it), not the UTC invoice month.
    zone = ZoneInfo(partner.caps_time_zone())
    local_first = now.astimezone(zone).date().replace(day=1)
    month_start = dt.datetime(local_first.year, local_first.month, 1, tzinfo=zone)
    next_first = (local_first + dt.timedelta(days=32)).replace(day=1)
    month_end = dt.datetime(next_first.year, next_first.month, 1, tzinfo=zone)
    spend = (
        LedgerEntry.objects.filter(partner=partner, occurred_at__gte=month_start, occurred_at__lt=month_end).aggregate(
            s=Sum("amount_cents")
        )["s"]
        or 0
    )
    budget = partner.monthly_budget_cents
    return Dashboard(
        days=series,
        offered=offered,
        accepted=accepted,
        billable=billable,
        answer_rate=(accepted / offered) if offered else None,
        avg_talk_seconds=round(talk / accepted) if accepted else None,
        spend_cents=spend,
        budget_cents=budget,
        budget_used=(spend / budget) if budget else None,
        month_start=month_start.date(),
        open_disputes=Dispute.objects.filter(partner=partner, status=Dispute.Status.OPEN).count(),
        max_per_day=max([d.offered for d in series] + [1]),
    )


@dataclass(frozen=True)
class LastInvoice:
    invoice: Invoice
    open_disputes: int  # charges on this invoice a dispute is still open for


def last_invoice(*, partner: Partner) -> LastInvoice | None:
    """The partner's most recent invoice (by billed month) and how many of its charges are in dispute."""
    invoice = Invoice.objects.filter(partner=partner).order_by("-month", "-id").first()
    if invoice is None:
        return None
    open_disputes = Dispute.objects.filter(
        partner=partner, status=Dispute.Status.OPEN, charge__invoice_line__invoice=invoice
    ).count()
    return LastInvoice(invoice=invoice, open_disputes=open_disputes)


def dashboard_breakdowns(
    *, partner: Partner, now: dt.datetime | None = None, days: int = 30
) -> dict[str, list[tuple[str, int]]]:
    """Calls and callbacks of the last ``days`` days (UTC, as the dashboard's day chart) counted by
    billing outcome (``reason``) and by service code, largest first (ties by code).

    One grouped query by (reason, service), summed here: the window's rows are read once, not
    once per breakdown (a month of a busy partner is tens of thousands of rows; the groups are a
    few dozen)."""
    now = now or timezone.now()
    first_day = now.astimezone(dt.UTC).date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first_day, dt.time.min, tzinfo=dt.UTC)
    groups = (
        BillingDecision.objects.filter(partner=partner, occurred_at__gte=since)
        .values_list("reason", "service")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_reason: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    for reason, service, n in groups:
        by_reason[reason or ""] += n
        by_service[service or ""] += n

    def largest_first(counts: Counter[str]) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    return {"reason": largest_first(by_reason), "service": largest_first(by_service)}


# --- staff reports --------------------------------------------------------------------


def staff_report(*, since: dt.date, until: dt.date) -> dict[str, Any]:
    """Across partners: calls by day/partner/service/state/location source, answer rates, revenue, follow-ups."""
    calls = _date_range(Call.objects.all(), "started_at", since, until)
    legs = _date_range(BillingDecision.objects.all(), "occurred_at", since, until)
    ledger = _date_range(LedgerEntry.objects.all(), "occurred_at", since, until)

    def grouped(qs: QuerySet, key: str) -> list[dict[str, Any]]:
        return list(
            qs.values(key)
            .annotate(
                calls=Count("id"),
                connected=Count("id", filter=Q(connected_partner__isnull=False)),
                followup=Count("id", filter=Q(needs_followup=True)),
            )
            .order_by(key)
        )

    by_day = list(
        calls.annotate(day=TruncDate("started_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(
            calls=Count("id"),
            connected=Count("id", filter=Q(connected_partner__isnull=False)),
            followup=Count("id", filter=Q(needs_followup=True)),
        )
        .order_by("day")
    )
    by_partner = list(
        legs.values("partner_id", "partner__display_name")
        .annotate(
            offered=Count("id"),
            n_accepted=Count("id", filter=Q(accepted=True)),
            n_billable=Count("id", filter=Q(billable=True)),
            avg_talk=Avg("talk_seconds", filter=Q(accepted=True)),
        )
        .order_by("partner__display_name")
    )
    revenue = {r["partner_id"]: r["s"] for r in ledger.values("partner_id").annotate(s=Sum("amount_cents")).order_by()}
    for row in by_partner:
        row["accepted"], row["billable"] = row.pop("n_accepted"), row.pop("n_billable")
        row["answer_rate"] = row["accepted"] / row["offered"] if row["offered"] else None
        row["revenue_cents"] = revenue.get(row["partner_id"], 0)
    totals = calls.aggregate(
        calls=Count("id"),
        connected=Count("id", filter=Q(connected_partner__isnull=False)),
        followup=Count("id", filter=Q(needs_followup=True)),
    )
    totals["answer_rate"] = totals["connected"] / totals["calls"] if totals["calls"] else None
    totals["revenue_cents"] = ledger.aggregate(s=Sum("amount_cents"))["s"] or 0
    unanswered = list(
        Call.objects.filter(needs_followup=True)
        .filter(Q(followup_note="") | Q(followup_note__isnull=True))
        .only("id", "call_sid", "started_at", "service", "state", "status", "caller_area")
        .order_by("-started_at")[:100]
    )
    requests_attention = list(
        AdmissionRequest.objects.filter(
            Q(needs_attention=True)
            | Q(status__in=[AdmissionRequest.Status.NEW, AdmissionRequest.Status.UNROUTED])
            | Q(status=AdmissionRequest.Status.UNREACHABLE)
        )
        .exclude(status__in=[AdmissionRequest.Status.CLOSED, AdmissionRequest.Status.WITHDRAWN])
        .only("id", "public_id", "created_at", "status", "service", "state", "needs_attention")
        .order_by("-created_at")[:100]
    )
    return {
        "since": since,
        "until": until,
        "totals": totals,
        "by_day": by_day,
        "by_partner": by_partner,
        "by_service": grouped(calls, "service"),
        "by_state": grouped(calls, "state"),
        "by_location_source": grouped(calls, "location_source"),
        "by_location_precision": grouped(calls, "location_precision"),
        "unanswered_calls": unanswered,
        "requests_needing_followup": requests_attention,
    }


def webhook_events_failing_q() -> Q:
    """Webhook events we gave up on, or that failed at least once and are being retried."""
    return Q(status=WebhookEvent.Status.FAILED) | Q(status=WebhookEvent.Status.PENDING, attempts__gte=1)


# --- which page brought the calls (by source) -----------------------------------------------------------

UNATTRIBUTED = "unattributed"  # a ledger adjustment tied to no call or request: no page brought it
SOURCE_ORDER = {"guide": 0, "campaign": 1, "": 2, UNATTRIBUTED: 3}


@dataclass
class SourceRow:
    """One source's calls, requests and money in a date range. ``kind`` "" is direct."""

    kind: str
    key: str
    calls: int = 0
    connected: int = 0
    billable: int = 0  # ledger charges: billable calls and billable callbacks
    revenue_cents: int = 0  # US cents; charges less adjustments, as the ledger has them
    requests: int = 0

    @property
    def label(self) -> str:
        return {"guide": "Guide", "campaign": "Campaign", "": "Direct", UNATTRIBUTED: "Other"}.get(self.kind, self.kind)


@dataclass
class SourceReport:
    since: dt.date
    until: dt.date
    rows: list[SourceRow]
    total: SourceRow


def _ledger_source(part: str) -> Coalesce:
    """A ledger entry's source: its call's, its callback's request's, or those of the charge it corrects."""
    return Coalesce(
        F(f"call__source_{part}"),
        F(f"dial_attempt__admission_request__source_{part}"),
        F(f"corrects__call__source_{part}"),
        F(f"corrects__dial_attempt__admission_request__source_{part}"),
    )


def source_report(*, since: dt.date, until: dt.date) -> SourceReport:
    """Calls, connected calls, billable calls, revenue and admission requests by source, for staff.

    Calls and requests count by when they came in; billable calls and revenue by the
    ledger's ``occurred_at``, exactly as the ledger (and the staff report) sums them, so
    the report's revenue adds up to the ledger's for the range. Simulated calls are left out
    (they are never billed). Three grouped queries whatever the volume.
    """
    rows: dict[tuple[str, str], SourceRow] = {}

    def row(kind: str | None, key: str | None) -> SourceRow:
        ident = (kind, key or "") if kind is not None else (UNATTRIBUTED, "")
        return rows.setdefault(ident, SourceRow(*ident))

    calls = _date_range(Call.objects.filter(is_test=False), "started_at", since, until)
    for r in (
        calls.values("source_kind", "source_key")
        .annotate(n=Count("id"), n_connected=Count("id", filter=Q(connected_partner__isnull=False)))
        .order_by()
    ):
        target = row(r["source_kind"], r["source_key"])
        target.calls, target.connected = r["n"], r["n_connected"]
    ledger = _date_range(LedgerEntry.objects.all(), "occurred_at", since, until)
    for r in (
        ledger.annotate(src_kind=_ledger_source("kind"), src_key=_ledger_source("key"))
        .values("src_kind", "src_key")
        .annotate(revenue=Sum("amount_cents"), charges=Count("id", filter=Q(kind=LedgerEntry.Kind.CHARGE)))
        .order_by()
    ):
        target = row(r["src_kind"], r["src_key"])
        target.revenue_cents, target.billable = r["revenue"] or 0, r["charges"]
    requests = _date_range(AdmissionRequest.objects.all(), "created_at", since, until)
    for r in requests.values("source_kind", "source_key").annotate(n=Count("id")).order_by():
        row(r["source_kind"], r["source_key"]).requests = r["n"]

    ordered = sorted(rows.values(), key=lambda r: (SOURCE_ORDER.get(r.kind, 9), r.key))
    total = SourceRow("total", "")
    for r in ordered:
        total.calls += r.calls
        total.connected += r.connected
        total.billable += r.billable
        total.revenue_cents += r.revenue_cents
        total.requests += r.requests
    return SourceReport(since=since, until=until, rows=ordered, total=total)
