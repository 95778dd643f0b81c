"""The intake home: what needs a person now, on one page, and the calls in progress.

The staff admin opens on this page (``ClearlineAdminSite.index``); Django's
list of every model is one click away (``admin:model_index``). Each tile is a
count with a short list, and the count links to the admin list filtered to
exactly those rows, so the number and the list a worker lands on agree.

It reads across the rooms (calls and requests from ``helpline``, partners and
webhooks from ``partners``, guides when that app is installed), which is why it
lives in ``config`` beside the admin site and not in one of them. A handful
of queries whatever the data: one aggregate per table and one short list per
tile, no per-row lookups (guarded by a query-count test).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, Q
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone

from config.staff_time import staff_datetime, staff_local, start_of_staff_day
from helpline.admission import selectors as admission_selectors
from helpline.models import AdmissionRequest, Call
from partners.directory.services import AUTO_PAUSE_REASON_PREFIX
from partners.models import Partner, WebhookEvent
from partners.selectors import webhook_events_failing_q
from routing.vocabulary import readable_location, written_label

LIVE_CALL_STATUSES = (Call.Status.IVR, Call.Status.DIALING, Call.Status.CONNECTED)
LIVE_CALLS_SHOWN = 20
ITEMS_SHOWN = 5

Status = AdmissionRequest.Status
Row = TypeVar("Row")


@dataclass(frozen=True)
class Item:
    text: str
    detail: str
    url: str


@dataclass(frozen=True)
class Tile:
    key: str
    title: str
    count: int
    url: str
    empty: str
    items: list[Item] = field(default_factory=list)
    # A count of zero is good news on every tile; only a non-zero one asks for action.

    @property
    def needs_action(self) -> bool:
        return self.count > 0


def _changelist(name: str, query: str = "") -> str:
    return reverse(f"admin:{name}_changelist") + (f"?{query}" if query else "")


def _change(name: str, pk: int) -> str:
    return reverse(f"admin:{name}_change", args=[pk])


# Each tile's words and the admin list its count links to: (title, list, filter, what an empty tile says).
TILE_TEXT: dict[str, tuple[str, str, str, str]] = {
    "followup": ("Calls to follow up", "helpline_call", "needs_followup__exact=1",
                 "No call is waiting for a follow-up."),
    "attention": ("Requests needing attention", "helpline_admissionrequest", "attention=any",
                  "Every open request is on track."),
    "due": ("Callbacks due within the hour", "helpline_admissionrequest", "callback=next_hour",
            "No callback is due in the next hour."),
    "paused": ("Partners paused automatically today", "partners_partner", "paused=auto_today",
               "No partner was paused automatically today."),
    "webhooks": ("Webhook deliveries failing", "partners_webhookevent", "delivery=failing",
                 "Every partner webhook is being delivered."),
    "guides": ("Guides past their review date", "guides_guide", "review=past",
               "Every published guide is within its review date."),
}  # fmt: skip


def _tile(key: str, *, count: int, rows: Iterable[Row], item: Callable[[Row], Item]) -> Tile:
    """The tile ``key`` (``TILE_TEXT``): its count, and the first ``ITEMS_SHOWN`` rows as items."""
    title, changelist, query, empty = TILE_TEXT[key]
    return Tile(
        key=key,
        title=title,
        count=count,
        url=_changelist(changelist, query),
        empty=empty,
        items=[item(row) for row in itertools.islice(rows, ITEMS_SHOWN)],
    )


def _ago(at: dt.datetime | None, now: dt.datetime) -> str:
    if at is None:
        return ""
    seconds = int((now - at).total_seconds())
    if seconds < 0:
        minutes = -seconds // 60
        return f"in {minutes} min" if minutes < 90 else f"at {staff_datetime(at, date=False)}"
    if seconds < 60:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return staff_datetime(at)


def _service(code: str) -> str:
    return written_label(code) if code and code != "unsure" else "Not sure of the service"


# --- Calls --------------------------------------------------------------------------------------------


def _call_item(call: Call, now: dt.datetime) -> Item:
    where = readable_location(call.caller_area, call.location_source)
    partner = call.connected_partner.display_name if call.connected_partner else call.get_status_display()
    return Item(
        text=f"{_service(call.service)} · {where}",
        detail=f"{partner} · {_ago(call.started_at, now)}",
        url=_change("helpline_call", call.pk),
    )


def live_calls(*, now: dt.datetime, limit: int = LIVE_CALLS_SHOWN) -> list[dict[str, Any]]:
    """The calls in progress, newest first, as plain values (for the page and its JSON endpoint).

    No caller number or name: this list is on a screen other people may see.
    """
    rows = (
        Call.objects.filter(status__in=LIVE_CALL_STATUSES)
        .select_related("connected_partner")
        .only(
            "pk",
            "status",
            "service",
            "caller_area",
            "location_source",
            "started_at",
            "connected_partner__display_name",
            "is_test",
        )  # fmt: skip
        .order_by("-started_at")[:limit]
    )
    return [
        {
            "id": call.pk,
            "url": _change("helpline_call", call.pk),
            "started": staff_datetime(call.started_at, date=False),
            "elapsed": _ago(call.started_at, now),
            "status": call.get_status_display(),
            "service": _service(call.service) if call.service else "Choosing in the menu",
            "area": readable_location(call.caller_area, call.location_source),
            "partner": call.connected_partner.display_name if call.connected_partner else "",
            "test": call.is_test,
        }
        for call in rows
    ]


# --- The page -----------------------------------------------------------------------------------------


def _request_item(req: AdmissionRequest, now: dt.datetime, *, why: str) -> Item:
    return Item(
        text=f"{_service(req.service)} · ZIP {req.zip_code}",
        detail=f"{why} · {_partner_name(req)} · {_ago(req.created_at, now)}",
        url=_change("helpline_admissionrequest", req.pk),
    )


def _due_item(req: AdmissionRequest, now: dt.datetime) -> Item:
    return Item(
        text=f"{_service(req.service)} · ZIP {req.zip_code}",
        detail=f"{_partner_name(req)} · due {_ago(req.next_action_at, now)}",
        url=_change("helpline_admissionrequest", req.pk),
    )


def _partner_name(req: AdmissionRequest) -> str:
    return req.partner.display_name if req.partner else "No partner"


def _why(req: AdmissionRequest) -> str:
    if req.status == Status.HELD:
        return "Held for approval"
    if req.status == Status.UNROUTED:
        return "Nobody eligible"
    if req.status == Status.UNREACHABLE:
        return "Unreachable"
    failed = getattr(req, "failed_legs", 0)
    if failed >= admission_selectors.FAILED_LEGS_FOR_ATTENTION:
        return f"{failed} callback legs failed"
    return "Overdue"


def intake_summary(*, now: dt.datetime, may_view: Callable[[type[Model]], bool] = lambda _m: True) -> dict[str, Any]:
    """Every tile of the intake home a staff member may see, and the calls in progress.

    ``may_view(Model)`` is the staff gate's per-model view permission (config.staff_access):
    a tile about a model the person may not view is left out, and its queries are not run.
    """
    tiles: list[Tile] = []
    summary: dict[str, Any] = {"tiles": tiles, "request_breakdown": [], "updated": staff_datetime(now, date=False)}
    if may_view(Call):
        _call_tiles(now=now, tiles=tiles, summary=summary)
    if may_view(AdmissionRequest):
        _request_tiles(now=now, tiles=tiles, summary=summary)
    if may_view(Partner):
        tiles.append(_paused_tile(now=now))
    if may_view(WebhookEvent):
        tiles.append(_webhooks_tile(now=now))
    guides = _guides_tile(now=now, may_view=may_view)
    if guides is not None:
        tiles.append(guides)
    return summary


def _call_tiles(*, now: dt.datetime, tiles: list[Tile], summary: dict[str, Any]) -> None:
    calls = Call.objects.aggregate(
        followup=Count("id", filter=Q(needs_followup=True)),
        live=Count("id", filter=Q(status__in=LIVE_CALL_STATUSES)),
    )
    followup_calls = list(
        Call.objects.filter(needs_followup=True)
        .select_related("connected_partner")
        .only(
            "pk", "status", "service", "caller_area", "location_source", "started_at", "connected_partner__display_name"
        )
        .order_by("-started_at")[:ITEMS_SHOWN]
    )
    tiles.append(_tile("followup", count=calls["followup"], rows=followup_calls, item=lambda c: _call_item(c, now)))
    summary["live_count"] = calls["live"]
    summary["live_calls"] = live_calls(now=now)
    summary["live_url"] = _changelist("helpline_call", "status__in=" + ",".join(LIVE_CALL_STATUSES))


REQUEST_KINDS = [
    ("held", "Held", "Held by the new-number breaker: approve or close before anyone is called."),
    ("unrouted", "Unrouted", "Nobody was eligible: find a partner or call the person back."),
    ("overdue", "Overdue", "Not connected 30 minutes after they were due."),
    ("unreachable", "Unreachable", "Every callback round went unanswered."),
    ("failed_callbacks", "Failed callbacks", "Open requests whose partners did not pick up twice or more."),
]


def _request_tiles(*, now: dt.datetime, tiles: list[Tile], summary: dict[str, Any]) -> None:
    open_requests = admission_selectors.with_leg_counts(
        AdmissionRequest.objects.exclude(status__in=admission_selectors.DONE_STATUSES)
    )
    due_q = admission_selectors.callbacks_due_q(now=now, within=admission_selectors.CALLBACK_DUE_WITHIN)
    counts = open_requests.aggregate(
        attention=Count("id", filter=admission_selectors.attention_q(now=now)),
        held=Count("id", filter=Q(status=Status.HELD)),
        unrouted=Count("id", filter=Q(status=Status.UNROUTED)),
        overdue=Count("id", filter=admission_selectors.overdue_q(now=now)),
        unreachable=Count("id", filter=Q(status=Status.UNREACHABLE)),
        failed_callbacks=Count("id", filter=admission_selectors.failed_callbacks_q()),
        due=Count("id", filter=due_q),
    )
    request_fields = ("pk", "status", "service", "zip_code", "created_at", "next_action_at", "partner__display_name")
    attention = list(
        open_requests.filter(admission_selectors.attention_q(now=now))
        .select_related("partner")
        .only(*request_fields)
        .order_by("created_at")[:ITEMS_SHOWN]
    )
    due = list(
        open_requests.filter(due_q)
        .select_related("partner")
        .only(*request_fields)
        .order_by("next_action_at")[:ITEMS_SHOWN]
    )
    tiles.append(
        _tile("attention", count=counts["attention"], rows=attention, item=lambda r: _request_item(r, now, why=_why(r)))
    )
    tiles.append(_tile("due", count=counts["due"], rows=due, item=lambda r: _due_item(r, now)))
    summary["request_breakdown"] = [
        {"key": key, "title": title, "hint": hint, "count": counts[key],
         "url": _changelist("helpline_admissionrequest", f"attention={key}")}
        for key, title, hint in REQUEST_KINDS
    ]  # fmt: skip


def _paused_tile(*, now: dt.datetime) -> Tile:
    paused_today = list(
        Partner.objects.filter(
            status=Partner.Status.PAUSED,
            paused_reason__startswith=AUTO_PAUSE_REASON_PREFIX,
            updated_at__gte=start_of_staff_day(now),
        )
        .only("pk", "display_name", "paused_reason", "updated_at")
        .order_by("-updated_at")
    )

    def item(p: Partner) -> Item:
        return Item(
            text=p.display_name,
            detail=f"{p.paused_reason} · {_ago(p.updated_at, now)}",
            url=_change("partners_partner", p.pk),
        )

    return _tile("paused", count=len(paused_today), rows=paused_today, item=item)


def _webhooks_tile(*, now: dt.datetime) -> Tile:
    failing_q = webhook_events_failing_q()
    failing = list(
        WebhookEvent.objects.filter(failing_q)
        .select_related("partner")
        .only("pk", "event", "status", "attempts", "created_at", "partner__display_name")
        .order_by("-created_at")[: ITEMS_SHOWN + 1]
    )
    count = len(failing) if len(failing) <= ITEMS_SHOWN else WebhookEvent.objects.filter(failing_q).count()

    def item(e: WebhookEvent) -> Item:
        return Item(
            text=f"{e.partner.display_name} · {e.event}",
            detail=f"{'Gave up' if e.status == WebhookEvent.Status.FAILED else 'Retrying'} after "
            f"{e.attempts} attempt{'s' if e.attempts != 1 else ''} · {_ago(e.created_at, now)}",
            url=_change("partners_webhookevent", e.pk),
        )

    return _tile("webhooks", count=count, rows=failing, item=item)


def _guides_tile(*, now: dt.datetime, may_view: Callable[[type[Model]], bool]) -> Tile | None:
    """Guides past their clinical review date, once the guides app is installed."""
    if not apps.is_installed("helpline.site.guides"):
        return None
    from helpline.site.guides.models import Guide  # the app is optional
    from helpline.site.guides.selectors import guides_past_review

    if not may_view(Guide):
        return None

    past = list(guides_past_review(today=staff_local(now).date()).only("pk", "title", "language", "next_review_due"))

    def item(g: Guide) -> Item:
        return Item(
            text=g.title,
            detail=f"{g.language} · review was due {g.next_review_due:%b %-d, %Y}",
            url=_change("guides_guide", g.pk),
        )

    return _tile("guides", count=len(past), rows=past, item=item)


def may_view_for(request: HttpRequest) -> Callable[[type[Model]], bool]:
    """The staff gate's third condition: the ``view_`` permission of the model a tile shows."""
    user = request.user

    def may_view(model: type[Model]) -> bool:
        return user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")

    return may_view


def live_calls_view(request: HttpRequest) -> JsonResponse:
    """The calls in progress for the intake home's script (staff only; wrapped by ``admin_view``)."""
    if not may_view_for(request)(Call):
        raise PermissionDenied("Your staff account may not view calls.")
    now = timezone.now()
    calls = live_calls(now=now)
    count = Call.objects.filter(status__in=LIVE_CALL_STATUSES).count() if len(calls) >= LIVE_CALLS_SHOWN else len(calls)
    response = JsonResponse({"count": count, "calls": calls, "updated": staff_datetime(now, date=False)})
    response["Cache-Control"] = "no-store"
    return response
