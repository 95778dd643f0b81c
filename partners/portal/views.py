"""Partner portal views: a partner's own calls, requests, billing, disputes, webhooks and settings.

Every view resolves the partner from the logged-in user's membership and
reads through ``partners.selectors`` scoped to that partner; an object of
another partner is a 404. Views that take an object id declare the model with
``@owned(Model)`` so the isolation test can find every such URL by walking the
URL conf.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from config.staff_access import admin_login_redirect, staff_view
from helpline.audit import audit_record
from helpline.models import AdmissionRequest, Call
from helpline.privacy import csv_safe
from partners import selectors
from partners.billing.invoices import dollars, invoice_csv, invoice_pdf
from partners.directory import services
from partners.models import BillingDecision, Dispute, Facility, Invoice, LedgerEntry, OpeningHours, Partner
from partners.templatetags.billing_tags import masked_caller
from partners.webhooks import delivery as webhooks
from routing.vocabulary import written_label

PAGE_SIZE = 50


# --- access ------------------------------------------------------------------------


def partner_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Login required; attaches ``request.partner``. Staff accounts go to the staff reports (behind the staff gate)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_staff:
            return redirect("portal:staff_reports")
        partner = selectors.partner_for_user(request.user)
        if partner is None:
            raise PermissionDenied("This account is not linked to a partner.")
        request.partner = partner  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


class PortalLoginView(auth_views.LoginView):
    """The partner login. A staff account is never logged in here: it goes to the admin login,
    which asks for the second factor (``STAFF_REQUIRE_OTP``)."""

    template_name = "portal/login.html"

    def form_valid(self, form: Any) -> HttpResponse:
        if form.get_user().is_staff:
            messages.info(self.request, "Staff accounts sign in through the staff admin.")
            return admin_login_redirect(self.request, next_url=reverse("portal:staff_reports"))
        return super().form_valid(form)


def owned(model: type[Model]) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Marks the model a view's URL id refers to (read by the isolation test)."""

    def mark(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        view.portal_model = model  # type: ignore[attr-defined]
        return view

    return mark


class RangeForm(forms.Form):
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))
    billable = forms.ChoiceField(required=False, choices=[("", "All"), ("yes", "Billable"), ("no", "Not billable")])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("The start date is after the end date.")
        return data


def _range(request: HttpRequest) -> tuple[RangeForm, dict[str, Any]]:
    form = RangeForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data
    return form, {}


def _billable_filter(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def _paged_list(
    request: HttpRequest, qs: QuerySet[Any], *, time_field: str, template: str, context: dict[str, Any]
) -> HttpResponse:
    """A list newest first, ``PAGE_SIZE`` rows a page; ``?before=`` is the cursor of the next page.

    A cursor that is not one we made (cut short when copied, or edited) is a 400 that
    says so and links to the first page, as the API answers one, never page one as if
    the link had worked. The other query parameters (the filters) ride along on the pager.
    """
    query = request.GET.copy()
    query.pop("before", None)
    try:
        page = selectors.keyset_page(qs, cursor=request.GET.get("before"), time_field=time_field, size=PAGE_SIZE)
    except selectors.InvalidCursor:
        first_page = request.path + (f"?{query.urlencode()}" if query else "")
        return render(request, "portal/bad_cursor.html", {**context, "first_page": first_page}, status=400)
    return render(request, template, {**context, "page": page, "query": query.urlencode()})


def _csv(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    """Stream a CSV; every cell goes through ``csv_safe`` so formulas are inert in spreadsheets."""

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def generate() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_safe(cell) for cell in row])

    response = StreamingHttpResponse(generate(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- dashboard ---------------------------------------------------------------------


def _day_chart(stats: selectors.Dashboard) -> dict[str, Any]:
    """Bar heights (percent of the busiest day) for the CSS bar chart of calls per day.

    HTML and CSS rather than a scaled SVG: the labels are real text at the page's font size,
    so they stay readable on a phone (an SVG viewBox shrinks its text with the chart).
    """
    peak = stats.max_per_day
    n = len(stats.days)
    bars = [
        {
            "day": day,
            "offered_pct": round(day.offered * 100 / peak, 1),
            "billable_pct": round(day.billable * 100 / peak, 1),
        }
        for day in stats.days
    ]
    # Four evenly spaced date labels under the bars (first, two between, last).
    ticks = sorted({0, n // 3, 2 * n // 3, n - 1}) if n else []
    return {
        "bars": bars,
        "max": peak,
        "ticks": [stats.days[i].day for i in ticks],
        "first": stats.days[0].day if n else None,
        "last": stats.days[-1].day if n else None,
    }


def _rows(counts: list[tuple[str, int]], label: Callable[[str], str]) -> list[dict[str, Any]]:
    """Horizontal-bar rows: label, count, width as a percent of the largest."""
    peak = max([n for _key, n in counts] + [1])
    return [{"label": label(key), "count": n, "pct": round(n * 100 / peak, 1)} for key, n in counts]


def _reason_label(code: str) -> str:
    return dict(BillingDecision.Reason.choices).get(code, code or "Unknown")


def _service_label(code: str) -> str:
    return written_label(code) if code else "Not asked"


@partner_view
def dashboard(request: HttpRequest) -> HttpResponse:
    """Money and calls at a glance: spend against budget, the last invoice, price, answer rate, charts."""
    partner: Partner = request.partner  # type: ignore[attr-defined]
    now = timezone.now()
    stats = selectors.dashboard(partner=partner, now=now)
    breakdowns = selectors.dashboard_breakdowns(partner=partner, now=now)
    budget_pct = round(stats.budget_used * 100) if stats.budget_used is not None else None
    return render(
        request,
        "portal/dashboard.html",
        {
            "partner": partner,
            "stats": stats,
            "month": stats.month_start,
            "answer_pct": round(stats.answer_rate * 100) if stats.answer_rate is not None else None,
            "budget_pct": budget_pct,
            "budget_bar_pct": min(budget_pct, 100) if budget_pct is not None else None,
            "budget_over": stats.budget_used is not None and stats.budget_used >= 1,
            "last_invoice": selectors.last_invoice(partner=partner),
            "chart": _day_chart(stats),
            "outcomes": _rows(breakdowns["reason"], _reason_label),
            "services": _rows(breakdowns["service"], _service_label),
        },
    )


# --- calls -------------------------------------------------------------------------


@partner_view
def calls(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    form, data = _range(request)
    qs = selectors.call_records(
        partner=partner,
        since=data.get("since"),
        until=data.get("until"),
        billable=_billable_filter(data.get("billable")),
    )
    return _paged_list(
        request, qs, time_field="occurred_at", template="portal/calls.html", context={"partner": partner, "form": form}
    )


def _call_rows(records: Iterable[BillingDecision]) -> Iterator[list[Any]]:
    for r in records:
        yield [
            r.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.get_kind_display(),
            r.service,
            r.caller_area,
            masked_caller(r),
            r.outcome,
            r.talk_seconds,
            "yes" if r.billable else "no",
            r.get_reason_display(),
            dollars(r.price_cents) if r.billable else "",
        ]


@partner_view
def calls_export(request: HttpRequest) -> StreamingHttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    _form, data = _range(request)
    qs = selectors.call_records(
        partner=partner,
        since=data.get("since"),
        until=data.get("until"),
        billable=_billable_filter(data.get("billable")),
    )
    header = ["started_utc", "kind", "service", "caller_area", "caller", "outcome", "talk_seconds", "billable",
              "why", "price_usd"]  # fmt: skip
    # A bulk copy of caller data (masked numbers, areas) leaves the system: audit it like a view.
    audit_record(request=request, where="portal", action="export", obj=partner, fields=["calls", "caller (masked)"])
    return _csv(f"calls-{partner.slug}.csv", header, _call_rows(qs.iterator(chunk_size=2000)))


class DisputeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, strip=True)


@owned(BillingDecision)
@partner_view
@require_http_methods(["GET", "POST"])
def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    record = get_object_or_404(selectors.call_records(partner=partner), pk=pk)
    charge: LedgerEntry | None = getattr(record, "ledger_entry", None)
    form = DisputeForm(request.POST or None)
    if request.method == "POST":
        if charge is None:
            raise Http404("Only billed calls can be disputed.")
        if form.is_valid():
            try:
                services.dispute_open(partner=partner, charge_id=charge.pk, reason=form.cleaned_data["reason"],
                                      by=request.user)  # fmt: skip
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Dispute sent. Our staff will review it.")
                return redirect("portal:call_detail", pk=record.pk)
    audit_record(request=request, where="portal", action="view", obj=record.call or record.admission_request or record,
                 fields=["caller_number_masked"])  # fmt: skip
    history = list(selectors.disputes(partner=partner).filter(charge=charge)) if charge else []
    return render(
        request,
        "portal/call_detail.html",
        {
            "partner": partner,
            "r": record,
            "masked": masked_caller(record),
            "charge": charge,
            "form": form,
            "history": history,
            "can_dispute": charge is not None and not any(d.status in ("open", "approved") for d in history),
        },
    )


# --- admission requests -------------------------------------------------------------


@partner_view
def requests_list(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    form, data = _range(request)
    qs = selectors.admission_requests(partner=partner, since=data.get("since"), until=data.get("until"))
    return _paged_list(
        request,
        qs,
        time_field="created_at",
        template="portal/requests.html",
        context={"partner": partner, "form": form},
    )


@partner_view
def requests_export(request: HttpRequest) -> StreamingHttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    _form, data = _range(request)
    qs = selectors.admission_requests(partner=partner, since=data.get("since"), until=data.get("until"))
    rows = (
        [
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(r.public_id),
            r.get_status_display(),
            r.service,
            r.state,
            r.zip_code[:3] + "xx" if r.zip_code else "",
            r.get_callback_when_display(),
            r.facility.name if r.facility else "",
        ]
        for r in qs.iterator(chunk_size=2000)
    )
    header = ["created_utc", "request_id", "status", "service", "state", "zip_area", "callback", "facility"]
    audit_record(request=request, where="portal", action="export", obj=partner, fields=["admission_requests"])
    return _csv(f"requests-{partner.slug}.csv", header, rows)


@owned(AdmissionRequest)
@partner_view
def request_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    req = get_object_or_404(selectors.admission_requests(partner=partner), public_id=public_id)
    withdrawn = req.status == AdmissionRequest.Status.WITHDRAWN or req.withdrawn_at is not None
    purged = req.purged_at is not None
    shown = [] if (withdrawn or purged) else ["first_name", "phone"]
    audit_record(request=request, where="portal", action="view", obj=req, fields=shown)
    return render(
        request,
        "portal/request_detail.html",
        {
            "partner": partner,
            "req": req,
            "withdrawn": withdrawn,
            "purged": purged,
            "changes": list(req.status_changes.order_by("at", "id")),
        },
    )


# --- billing: ledger, invoices, disputes -----------------------------------------------


@partner_view
def ledger(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    form, data = _range(request)
    qs = selectors.ledger_entries(partner=partner, since=data.get("since"), until=data.get("until"))
    return _paged_list(
        request, qs, time_field="occurred_at", template="portal/ledger.html", context={"partner": partner, "form": form}
    )


@partner_view
def ledger_export(request: HttpRequest) -> StreamingHttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    _form, data = _range(request)
    qs = selectors.ledger_entries(partner=partner, since=data.get("since"), until=data.get("until"))
    rows = (
        [e.pk, e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), e.kind, e.description, e.reason, dollars(e.amount_cents)]
        for e in qs.iterator(chunk_size=2000)
    )
    return _csv(f"ledger-{partner.slug}.csv", ["entry", "occurred_utc", "kind", "description", "reason", "amount_usd"],
                rows)  # fmt: skip


@partner_view
def invoices(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    rows = list(selectors.invoices(partner=partner)[:120])
    return render(request, "portal/invoices.html", {"partner": partner, "invoices": rows})


@partner_view
def invoices_export(request: HttpRequest) -> StreamingHttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    rows = ([i.number, f"{i.month:%Y-%m}", i.charge_count, dollars(i.total_cents)] for i in
            selectors.invoices(partner=partner))  # fmt: skip
    return _csv(f"invoices-{partner.slug}.csv", ["invoice", "month", "billable_calls", "total_usd"], rows)


def _attachment(body: str | bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _invoice_for(request: HttpRequest, pk: int) -> Invoice:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    return get_object_or_404(selectors.invoices(partner=partner), pk=pk)


@owned(Invoice)
@partner_view
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for(request, pk)
    lines = list(invoice.lines.select_related("ledger_entry").order_by("occurred_at", "id")[:2000])
    return render(request, "portal/invoice_detail.html", {"partner": invoice.partner, "invoice": invoice,
                                                           "lines": lines})  # fmt: skip


@owned(Invoice)
@partner_view
def invoice_download_csv(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for(request, pk)
    return _attachment(invoice_csv(invoice), content_type="text/csv; charset=utf-8", filename=f"{invoice.number}.csv")


@owned(Invoice)
@partner_view
def invoice_download_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for(request, pk)
    return _attachment(invoice_pdf(invoice), content_type="application/pdf", filename=f"{invoice.number}.pdf")


@partner_view
def disputes(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    rows = list(selectors.disputes(partner=partner)[:200])
    return render(request, "portal/disputes.html", {"partner": partner, "disputes": rows})


@partner_view
def disputes_export(request: HttpRequest) -> StreamingHttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    rows = (
        [
            d.pk,
            d.opened_at.strftime("%Y-%m-%d %H:%M"),
            d.charge_id,
            d.reason,
            d.get_status_display(),
            d.resolved_at.strftime("%Y-%m-%d %H:%M") if d.resolved_at else "",
            d.resolution_note,
            dollars(d.credit.amount_cents) if d.credit else "",
        ]  # fmt: skip
        for d in selectors.disputes(partner=partner).iterator(chunk_size=500)
    )
    header = ["dispute", "opened_utc", "ledger_entry", "reason", "status", "resolved_utc", "note", "credit_usd"]
    return _csv(f"disputes-{partner.slug}.csv", header, rows)


# --- webhooks and settings -------------------------------------------------------------


@partner_view
def webhook_log(request: HttpRequest) -> HttpResponse:
    return _webhook_page(request, request.partner)  # type: ignore[attr-defined]


def _webhook_page(request: HttpRequest, partner: Partner, new_secret: str = "") -> HttpResponse:
    response = _paged_list(
        request,
        selectors.webhook_deliveries(partner=partner),
        time_field="at",
        template="portal/webhooks.html",
        context={"partner": partner, "new_secret": new_secret},
    )
    if new_secret:
        response["Cache-Control"] = "no-store"  # shown once: not kept by the browser or a proxy
    return response


@partner_view
@require_POST
def webhook_secret_rotate(request: HttpRequest) -> HttpResponse:
    """A new signing secret, made here and shown on this one response; the old one stops working at once."""
    partner: Partner = request.partner  # type: ignore[attr-defined]
    if not partner.webhook_url:
        raise Http404("No webhook is set up for this account.")
    secret = webhooks.webhook_secret_rotate(partner_id=partner.pk)
    audit_record(request=request, where="portal", action="change", obj=partner, fields=["webhook_secret"])
    return _webhook_page(request, partner, new_secret=secret)


class PauseForm(forms.Form):
    reason = forms.CharField(required=False, max_length=200, strip=True)


@partner_view
def account(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    return render(
        request,
        "portal/settings.html",
        {
            "partner": partner,
            "pause_form": PauseForm(),
            "facilities": list(partner.facilities.order_by("name")),
            "log": list(selectors.change_log(partner=partner)[:100]),
        },
    )


@partner_view
@require_POST
def pause(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    form = PauseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if services.partner_pause(partner=partner, by=request.user, reason=reason):
        messages.success(request, "Paused: no new calls or requests will be sent to you until you resume.")
    return redirect("portal:settings")


@partner_view
@require_POST
def resume(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    if services.partner_resume(partner=partner, by=request.user):
        messages.success(request, "Resumed: calls will be routed to you again.")
    return redirect("portal:settings")


SPANS_PER_DAY = 2


class HoursForm(forms.Form):
    """Up to two opening spans per weekday, in the facility's own time zone."""

    open_24_7 = forms.BooleanField(required=False, label="Open 24/7")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for weekday, _name in OpeningHours.WEEKDAYS:
            for n in range(SPANS_PER_DAY):
                self.fields[f"d{weekday}_{n}_opens"] = forms.TimeField(required=False, input_formats=["%H:%M"])
                self.fields[f"d{weekday}_{n}_closes"] = forms.TimeField(required=False, input_formats=["%H:%M"])

    def spans(self) -> list[tuple[int, dt.time, dt.time]]:
        result = []
        for weekday, name in OpeningHours.WEEKDAYS:
            for n in range(SPANS_PER_DAY):
                opens = self.cleaned_data.get(f"d{weekday}_{n}_opens")
                closes = self.cleaned_data.get(f"d{weekday}_{n}_closes")
                if (opens is None) != (closes is None):
                    raise ValidationError(f"{name}: give both an opening and a closing time.")
                if opens is not None and closes is not None:
                    result.append((weekday, opens, closes))
        return result

    def rows(self) -> list[tuple[str, list[tuple[forms.BoundField, forms.BoundField]]]]:
        return [
            (name, [(self[f"d{weekday}_{n}_opens"], self[f"d{weekday}_{n}_closes"]) for n in range(SPANS_PER_DAY)])
            for weekday, name in OpeningHours.WEEKDAYS
        ]


def _hours_initial(facility: Facility) -> dict[str, Any]:
    initial: dict[str, Any] = {"open_24_7": facility.open_24_7}
    seen: dict[int, int] = {}
    for h in facility.hours.order_by("weekday", "opens"):
        n = seen.get(h.weekday, 0)
        if n < SPANS_PER_DAY:
            initial[f"d{h.weekday}_{n}_opens"] = h.opens.strftime("%H:%M")
            initial[f"d{h.weekday}_{n}_closes"] = h.closes.strftime("%H:%M")
        seen[h.weekday] = n + 1
    return initial


@owned(Facility)
@partner_view
@require_http_methods(["GET", "POST"])
def facility_hours(request: HttpRequest, pk: int) -> HttpResponse:
    partner: Partner = request.partner  # type: ignore[attr-defined]
    facility = get_object_or_404(Facility.objects.filter(partner=partner), pk=pk)
    if request.method == "POST":
        form = HoursForm(request.POST)
        if form.is_valid():
            try:
                services.facility_hours_set(facility=facility, by=request.user,
                                            open_24_7=form.cleaned_data["open_24_7"], spans=form.spans())  # fmt: skip
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Hours of {facility.name} saved.")
                return redirect("portal:settings")
    else:
        form = HoursForm(initial=_hours_initial(facility))
    return render(request, "portal/facility_hours.html", {"partner": partner, "facility": facility, "form": form})


# --- staff reports ------------------------------------------------------------------


@staff_view(Call, BillingDecision, LedgerEntry, Dispute)
def staff_reports(request: HttpRequest) -> HttpResponse:
    form, data = _range(request)
    today = timezone.now().date()
    until = data.get("until") or today
    since = data.get("since") or until - dt.timedelta(days=29)
    report = selectors.staff_report(since=since, until=until)
    peak = max([r["calls"] for r in report["by_day"]] + [1])
    for row in report["by_day"]:
        row["pct"] = round(row["calls"] * 100 / peak)
    report["revenue"] = dollars(report["totals"]["revenue_cents"])
    for row in report["by_partner"]:
        row["revenue"] = dollars(row["revenue_cents"])
    return render(
        request,
        "portal/staff_reports.html",
        {
            "form": form,
            "report": report,
            "admin_url": reverse("admin:index"),
            "open_disputes": Dispute.objects.filter(status=Dispute.Status.OPEN).count(),
        },  # fmt: skip
    )


def _report_range(data: dict[str, Any]) -> tuple[dt.date, dt.date]:
    """The range asked for; by default the 30 days to today (clamped at the calendar's first day)."""
    until = data.get("until") or timezone.now().date()
    since = data.get("since") or (
        until - dt.timedelta(days=29) if until > dt.date.min + dt.timedelta(days=29) else dt.date.min
    )
    return since, until


@staff_view(Call, AdmissionRequest, LedgerEntry)
def staff_sources(request: HttpRequest) -> HttpResponse:
    """Which pages brought the calls: by guide, campaign or direct, with the ledger's revenue."""
    form, data = _range(request)
    since, until = _report_range(data)
    report = selectors.source_report(since=since, until=until)
    return render(
        request,
        "portal/staff_sources.html",
        {
            "form": form,
            "report": report,
            "export_query": request.GET.urlencode(),
        },
    )


@staff_view(Call, AdmissionRequest, LedgerEntry)
def staff_sources_export(request: HttpRequest) -> StreamingHttpResponse:
    """The same report as CSV (counts and money only: no caller data), every cell formula-safe."""
    form, data = _range(request)
    since, until = _report_range(data)
    report = selectors.source_report(since=since, until=until)
    header = ["source", "name", "calls", "connected_calls", "billable_calls", "revenue_usd", "admission_requests"]
    rows = (
        [r.label.lower(), r.key, r.calls, r.connected, r.billable, dollars(r.revenue_cents), r.requests]
        for r in report.rows
    )
    return _csv(f"calls-by-source-{since:%Y-%m-%d}-{until:%Y-%m-%d}.csv", header, rows)
