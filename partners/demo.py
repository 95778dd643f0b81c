"""Demo activity for ``seed_demo``: a month of calls and today's queue, made by the real call path.

Every recent call is recorded, routed and dialed through ``helpline.calls.services``
exactly as the Twilio webhooks drive it (only the HTTP and TwiML around it are
skipped), so each one has its routing decision with reasons, its dial legs,
failovers, fallbacks with a staff follow-up, and billing by the real rule; the
last three, unanswered, pause a partner through the real auto-pause path.
The month before is plain rows (bulk-inserted) billed by the same rule in
batches (``bill_calls``). Admission requests are routed by the real engine and
then walked through every state of their life (the partner-notification and
callback-call side effects are written as rows; no email, text or call goes out).

Everything is deterministic (seeded) and rerunnable: demo call SIDs and
request markers are fixed, existing ones are skipped. Caller numbers are from
the fictional 555-01xx range. Each part runs in one transaction: a handful of
commits instead of thousands, which matters on SQLite (one fsync each).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpline.admission.services import AdmissionInput, admission_request_create
from helpline.calls import services as calls
from helpline.models import AdmissionRequest, AdmissionStatusChange, Call, DialAttempt, HelplineNumber
from helpline.privacy import caller_hash
from partners.billing.invoices import generate_invoice
from partners.billing.rule import bill_calls
from partners.directory.services import AUTO_PAUSE_REASON_PREFIX, dispute_open
from partners.models import Dispute, Facility, LedgerEntry, Partner
from routing import services as routing_services
from routing.engine import RouteRequest
from routing.location import resolve_location

Progress = Callable[[str], None]
SID_PREFIX = "CAdemo"
HISTORY_FROM_DAYS = 2  # the routed story covers the last two days; the history is before it
HISTORY_BILLING_BATCH = 80  # earlier calls billed per batch (one progress line each)
O = DialAttempt.Outcome  # noqa: E741 - read as the Outcome enum, as in helpline.calls.services
S = AdmissionRequest.Status


@dataclass
class DemoReport:
    calls: int = 0
    failovers: int = 0
    fallbacks: int = 0
    live: int = 0
    requests: int = 0
    invoices: int = 0
    disputes: int = 0
    paused: int = 0

    def summary(self) -> str:
        return (
            f"{self.calls} calls ({self.failovers} failed over, {self.fallbacks} sent to the fallback line and "
            f"flagged for follow-up, {self.live} in progress), {self.requests} admission requests, "
            f"{self.invoices} invoices, {self.disputes} open dispute, "
            f"{self.paused} partner paused automatically"
        )


def _play_call(
    *,
    sid: str,
    caller: str,
    zip_code: str,
    service: str,
    language: str,
    steps: list[str],
    talk: int,
    at: dt.datetime,
    to_number: str,
    finish: bool = True,
) -> Call:
    """One call through the real services, in the order the webhooks would run them."""
    call = calls.call_record_incoming(call_sid=sid, to_number=to_number, caller_number=caller, is_test=False, now=at)
    calls.call_set_language(call=call, language=language)
    calls.call_set_service(call=call, service=service)
    calls.call_set_location(call=call, location=resolve_location(given_zip=zip_code))
    now = at + dt.timedelta(seconds=35)  # greeting and menu
    calls.call_route(call=call, now=now)
    for step in steps:
        attempt = calls.call_next_attempt(call=call, now=now)
        if attempt is None:
            break  # nobody (left): call_next_attempt sent the caller to the fallback line
        attempt.call = call
        if step == "answer":
            calls.attempt_mark_answered(attempt=attempt, dial_call_sid=f"{sid}L{attempt.sequence}", now=now)
            calls.attempt_accept(attempt=attempt, now=now + dt.timedelta(seconds=8))
            if not finish:
                return call
            now += dt.timedelta(seconds=10 + talk)
            calls.attempt_finish(
                attempt=attempt, dial_status="completed", duration_seconds=talk, dial_call_sid="", now=now
            )
            break
        if step == "caller-hangup":
            now += dt.timedelta(seconds=12)
            if not finish:
                return call
            break
        now += dt.timedelta(seconds=20 if step == "no-answer" else 4)
        calls.attempt_finish(attempt=attempt, dial_status=step, duration_seconds=0, dial_call_sid="", now=now)
    else:
        # Every scripted leg failed: the next ask finds the attempt limit or an empty list -> fallback.
        calls.call_next_attempt(call=call, now=now)
    if finish:
        calls.call_caller_gone(
            call=call, now=now + dt.timedelta(seconds=2), duration_seconds=int((now - at).total_seconds())
        )
    return call


def _seed_history(*, rng: random.Random, now: dt.datetime, days: int, per_day: int, progress: Progress) -> int:
    """Older calls for the portal's charts and last month's invoices: finished calls written as rows
    (no decision log: they predate the demo's routing story), then billed by the real billing rule."""
    places = list(
        Facility.objects.filter(is_active=True, partner__license_verified_on__isnull=False)
        .select_related("partner")
        .order_by("pk")
    )
    if not places:
        return 0
    existing = set(Call.objects.filter(call_sid__startswith=SID_PREFIX + "h").values_list("call_sid", flat=True))
    rows: list[Call] = []
    legs: list[DialAttempt] = []
    total = days * per_day
    hashes: dict[str, str] = {}  # the keyed hash of each of the hundred demo numbers, computed once
    for i in range(total):
        sid = f"{SID_PREFIX}h{i:07d}"
        facility = rng.choice(places)
        started = now - dt.timedelta(days=HISTORY_FROM_DAYS + rng.uniform(0, days))
        number = f"+1512555{rng.randint(100, 199):04d}"
        roll = rng.random()
        accepted = roll > 0.15
        talk = 0 if not accepted else (rng.randint(10, 45) if roll < 0.25 else rng.randint(70, 900))
        if sid in existing:
            continue
        if number not in hashes:
            hashes[number] = caller_hash(number)
        rows.append(
            Call(
                call_sid=sid, caller_number=number, caller_hash=hashes[number],
                caller_area=f"{facility.city}, {facility.state}", location_source="zip",
                service=rng.choice(facility.services or ["detox"]), state=facility.state,
                zip_code=facility.zip_code, status=Call.Status.COMPLETED,
                connected_partner=facility.partner if accepted else None,
                connected_facility=facility if accepted else None, talk_seconds=talk, duration_seconds=talk + 40,
                started_at=started, ended_at=started + dt.timedelta(seconds=talk + 40),
            )
        )  # fmt: skip
        legs.append(
            DialAttempt(
                sequence=1, partner=facility.partner, facility=facility,
                outcome=O.COMPLETED if accepted else O.NO_ANSWER, accepted=accepted, talk_seconds=talk,
                started_at=started, ended_at=started + dt.timedelta(seconds=talk + 30),
            )
        )  # fmt: skip
    # Plain rows, nothing decided on insert: written in a few statements, not two per call.
    Call.objects.bulk_create(rows, batch_size=500)
    for call, leg in zip(rows, legs, strict=True):
        leg.call = call
    DialAttempt.objects.bulk_create(legs, batch_size=500)
    progress(f"  {len(rows)} earlier calls written")
    # Billed as the call_final event would bill them, a batch at a time (same rule, fewer round trips).
    ids = [call.pk for call in rows]
    for start in range(0, len(ids), HISTORY_BILLING_BATCH):
        bill_calls(call_ids=ids[start : start + HISTORY_BILLING_BATCH])
        progress(f"  earlier calls billed: {min(start + HISTORY_BILLING_BATCH, len(ids))} of {len(ids)}")
    return len(rows)


# Recent calls, through the real call path. (where, service, script, hours ago)
ROUTED_CALLS: list[tuple[str, str, list[str], float]] = [
    ("78701", "detox", ["answer"], 30),
    ("60614", "residential", ["answer"], 28),
    ("33130", "mat", ["answer"], 27),
    ("78701", "residential", ["busy", "answer"], 26),
    ("80205", "detox", ["answer"], 25),
    ("78701", "detox", ["no-answer", "answer"], 24),
    ("33130", "detox", ["no-answer", "busy"], 23),  # nobody else serves Miami: fallback, follow-up
    ("60614", "detox", ["answer"], 22),
    ("78701", "mat", ["answer"], 8),
    ("78701", "residential", ["failed", "answer"], 7),
    ("59601", "detox", [], 6),  # Helena, MT: nobody eligible, fallback, follow-up
    ("78701", "detox", ["busy", "answer"], 5),
    ("60614", "dual_diagnosis", ["answer"], 4),
    ("33130", "residential", ["caller-hangup"], 3.5),
    ("78701", "residential", ["answer"], 3),
    ("78701", "detox", ["no-answer", "no-answer"], 2.5),  # both Texas partners missed it: follow-up
    ("33130", "mat", ["answer"], 2),
    ("60614", "residential", ["answer"], 1.5),
    ("78701", "dual_diagnosis", ["answer"], 1),
    ("78701", "residential", ["busy", "answer"], 0.5),
]


def _general_number() -> str:
    numbers = list(HelplineNumber.objects.filter(kind=HelplineNumber.Kind.GENERAL).values_list("number", flat=True))
    return str(numbers[0]) if numbers else "+18885550100"


def _seed_routed_calls(*, rng: random.Random, now: dt.datetime, report: DemoReport, progress: Progress) -> None:
    existing = set(Call.objects.filter(call_sid__startswith=SID_PREFIX + "r").values_list("call_sid", flat=True))
    to_number = _general_number()
    before = report.calls
    for n, (zip_code, service, steps, hours) in enumerate(ROUTED_CALLS):
        sid = f"{SID_PREFIX}r{n:04d}"
        if sid in existing:
            continue
        call = _play_call(
            sid=sid, caller=f"+1512555{120 + n:04d}", zip_code=zip_code, service=service,
            language="es" if n % 7 == 3 else "en", steps=steps, talk=rng.randint(90, 1200),
            at=now - dt.timedelta(hours=hours), to_number=to_number,
        )  # fmt: skip
        report.calls += 1
        report.failovers += call.attempts.count() > 1
        report.fallbacks += call.status == Call.Status.FALLBACK
    progress(f"  {report.calls - before} recent calls routed and dialed ({report.failovers} failovers)")
    # Calls still going on right now, for the intake home's live list.
    for n, (zip_code, service, steps, minutes) in enumerate(
        [
            ("78701", "detox", ["answer"], 6),
            ("78701", "residential", ["busy", "answer"], 2),
            ("78701", "detox", ["no-answer"], 1),
        ]
    ):
        sid = f"{SID_PREFIX}live{n}"
        if sid in existing or Call.objects.filter(call_sid=sid).exists():
            continue
        _play_call(
            sid=sid, caller=f"+1512555{180 + n:04d}", zip_code=zip_code, service=service, language="en",
            steps=steps, talk=0, at=now - dt.timedelta(minutes=minutes), to_number=to_number, finish=False,
        )  # fmt: skip
        report.calls += 1
        report.live += 1


# --- Admission requests -----------------------------------------------------------------------------------


REQUEST_STORIES: list[tuple[str, str, str, int]] = [
    # (final state, ZIP, service, hours ago). Areas with a 24/7 partner, so the engine finds one at any hour.
    (S.NEW, "78701", "detox", 0),
    (S.ROUTED, "60614", "residential", 0),
    (S.NOTIFIED, "33130", "mat", 0),
    (S.CALLBACK_ATTEMPTED, "78701", "detox", 2),
    (S.CALLBACK_ATTEMPTED, "80205", "residential", 3),
    (S.CONNECTED, "80205", "detox", 5),
    (S.CONNECTED, "33130", "residential", 20),
    (S.UNREACHABLE, "60614", "dual_diagnosis", 26),
    (S.WITHDRAWN, "78701", "mat", 8),
    (S.CLOSED, "33130", "detox", 30),
    (S.UNROUTED, "59601", "detox", 1),  # Helena, MT: no partner serves Montana
    (S.ROUTED, "78701", "residential", 4),  # overdue: still waiting hours later
    (S.HELD, "60614", "detox", 1),  # held by the new-number breaker until staff approve it
]


def _route_request(req: AdmissionRequest, *, now: dt.datetime) -> tuple[int, int] | None:
    """The real engine's decision for a request, stored; the first choice, or None when nobody is eligible."""
    decision_row, decision = routing_services.route(
        request=RouteRequest(
            service=req.service, location=resolve_location(given_zip=req.zip_code), language=req.language
        ),
        kind="admission",
        now=now,
    )
    req.routing_decision = decision_row
    if not decision.choices:
        return None
    first = decision.choices[0]
    return first.partner_id, first.facility_id


def _step(req: AdmissionRequest, to: str, at: dt.datetime, note: str = "", **fields: object) -> None:
    AdmissionStatusChange.objects.create(request=req, from_status=req.status, to_status=to, note=note, at=at)
    req.status = to
    for name, value in fields.items():
        setattr(req, name, value)


def _leg(req: AdmissionRequest, seq: int, outcome: str, at: dt.datetime, *, talk: int = 0) -> None:
    assert req.partner_id is not None and req.facility_id is not None  # noqa: S101 - only routed requests get legs
    DialAttempt.objects.create(
        admission_request=req, sequence=seq, partner_id=req.partner_id, facility_id=req.facility_id,
        outcome=outcome, accepted=outcome == O.COMPLETED, talk_seconds=talk, started_at=at,
        answered_at=at + dt.timedelta(seconds=15) if outcome in (O.COMPLETED, O.NOT_ACCEPTED) else None,
        ended_at=at + dt.timedelta(seconds=30 + talk),
    )  # fmt: skip


def _demo_request_phone(n: int) -> str:
    return f"+1512555{150 + n:04d}"


def _seed_requests(*, now: dt.datetime, report: DemoReport) -> None:
    hashes = [caller_hash(_demo_request_phone(n)) for n in range(len(REQUEST_STORIES))]
    if AdmissionRequest.objects.filter(phone_hash__in=hashes).exists():
        return  # seeded before: the queue is left as staff have worked it
    # Oldest first, as they would have arrived (and the routing's compiled directory, kept per UTC day,
    # is built once per day instead of at every change of day).
    stories = sorted(enumerate(REQUEST_STORIES), key=lambda story: -(story[1][3] * 60 + 7 * story[0]))
    for n, (final, zip_code, service, hours) in stories:
        created = now - dt.timedelta(hours=hours, minutes=7 * n + 3)
        location = resolve_location(given_zip=zip_code)
        req = admission_request_create(
            data=AdmissionInput(
                for_whom="myself" if n % 3 else "someone_else", first_name=f"Demo {chr(65 + n)}",
                phone=_demo_request_phone(n), zip_code=zip_code, state=location.state, time_zone="America/Chicago",
                service=service, language="es" if n == 2 else "en", callback_when="now",
                allow_voicemail=n % 2 == 0, allow_text=n % 2 == 1,
                substances=[["alcohol"], ["opioids"], ["benzodiazepines", "alcohol"], ["stimulants"]][n % 4],
                payment=["private", "medicaid", "self_pay", ""][n % 4],
            ),
            now=created,
            hold=final == S.HELD,  # held by the new-number breaker: saved as the real intake saves it
        )  # fmt: skip
        report.requests += 1
        if final in (S.NEW, S.HELD):
            continue
        at = created + dt.timedelta(seconds=2)
        choice = _route_request(req, now=at)
        if choice is None:
            _step(req, S.UNROUTED, at, "no eligible partner", needs_attention=True)
            req.save()
            continue
        req.partner_id, req.facility_id = choice
        partner = Partner.objects.only("display_name").get(pk=req.partner_id)
        _step(req, S.ROUTED, at, f"routed to {partner.display_name}")
        if final == S.ROUTED:
            if hours >= 4:  # stuck: its window opened hours ago and nobody was told
                req.window_start = created
            req.save()
            continue
        at += dt.timedelta(minutes=1)
        _step(req, S.NOTIFIED, at, "partner told by email and text", notified_at=at, notify_email_sent_at=at,
              next_action_at=now + dt.timedelta(minutes=25 + 10 * n))  # fmt: skip
        if final == S.WITHDRAWN:
            _step(req, S.WITHDRAWN, at + dt.timedelta(minutes=9), "withdrawn by the person (link)",
                  withdrawn_at=at + dt.timedelta(minutes=9), next_action_at=None)  # fmt: skip
        elif final == S.CLOSED:
            _step(req, S.CLOSED, at + dt.timedelta(hours=2), "Reached by phone from our line; chose a local clinic.",
                  next_action_at=None, staff_note="Reached by phone from our line; chose a local clinic.")  # fmt: skip
        elif final != S.NOTIFIED:
            legs: dict[str, list[str]] = {
                S.CONNECTED: [O.NO_ANSWER, O.COMPLETED],
                S.UNREACHABLE: [O.COMPLETED, O.COMPLETED, O.COMPLETED],
            }
            failing = [O.BUSY, O.NO_ANSWER, O.FAILED, O.NO_ANSWER] if n % 2 else [O.NO_ANSWER]
            outcomes = legs.get(str(final)) or failing
            leg_at = at + dt.timedelta(minutes=2)
            _step(req, S.CALLBACK_ATTEMPTED, leg_at, "callback call placed")
            for seq, outcome in enumerate(outcomes, start=1):
                talk = 420 if (final == S.CONNECTED and outcome == O.COMPLETED) else 0
                _leg(req, seq, outcome, leg_at, talk=talk)
                leg_at += dt.timedelta(minutes=3)
            if final == S.CONNECTED:
                _step(req, S.CONNECTED, leg_at, "partner and person connected", connected_at=leg_at,
                      next_action_at=None)  # fmt: skip
            elif final == S.UNREACHABLE:
                req.callback_attempts = 3
                _step(req, S.UNREACHABLE, leg_at, "no answer after 3 tries", needs_attention=True, next_action_at=None)
            else:
                req.next_action_at = now + dt.timedelta(minutes=15 if n % 2 else 40)
        req.save()


# --- A partner paused automatically ------------------------------------------------------------------

AUTO_PAUSE_ZIP = "33130"  # Miami: Bayfront Recovery is the only partner there, so every miss goes to the fallback line


def _seed_auto_pause(*, now: dt.datetime, report: DemoReport, progress: Progress) -> None:
    """Bayfront's line stops answering: the misses of the last few minutes pause it through the real path.

    Each unanswered leg sends the helpline's ``partner_leg_unanswered`` event, and the
    partners' handler (``partner_check_auto_pause``) pauses the partner once the
    ``AUTO_PAUSE_UNANSWERED_THRESHOLD`` is reached within ``AUTO_PAUSE_WINDOW_MINUTES``:
    the intake home's "partners paused automatically today". Run last, so the rest of
    the demo routes as if Bayfront were answering.
    """
    misses = settings.AUTO_PAUSE_UNANSWERED_THRESHOLD
    spacing = min(20.0, settings.AUTO_PAUSE_WINDOW_MINUTES / (misses + 1))
    sids = [f"{SID_PREFIX}p{n}" for n in range(misses)]
    if Call.objects.filter(call_sid__in=sids).exists():
        return  # seeded before (staff may have resumed the partner since)
    to_number = _general_number()
    for n, sid in enumerate(sids):
        started = now - dt.timedelta(minutes=spacing * (misses - 1 - n) + 1)  # the last one a minute ago
        call = _play_call(
            sid=sid, caller=f"+1512555{190 + n:04d}", zip_code=AUTO_PAUSE_ZIP, service="detox", language="en",
            steps=["no-answer"], talk=0, at=started, to_number=to_number,
        )  # fmt: skip
        report.calls += 1
        report.fallbacks += call.status == Call.Status.FALLBACK
    paused = Partner.objects.filter(
        facilities__zip_code=AUTO_PAUSE_ZIP, paused_reason__startswith=AUTO_PAUSE_REASON_PREFIX
    ).distinct()
    report.paused += paused.count()
    for partner in paused:
        progress(f"  {partner.display_name} missed {misses} calls in a row: paused automatically")


# --- Billing ----------------------------------------------------------------------------------------------


def _seed_billing(*, now: dt.datetime, report: DemoReport) -> None:
    """Last month's invoice for every partner with charges, and one dispute the partner opened and staff must decide."""
    previous = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    partner_ids = (
        LedgerEntry.objects.filter(occurred_at__date__gte=previous, occurred_at__date__lt=now.date().replace(day=1))
        .values_list("partner_id", flat=True)
        .distinct()
    )
    for billed in Partner.objects.filter(pk__in=list(partner_ids)).order_by("pk"):
        generate_invoice(partner=billed, month=previous)
        report.invoices += 1
    partner = Partner.objects.filter(slug="hill-country-recovery").first()
    if partner is None or Dispute.objects.filter(partner=partner).exists():
        return
    charge = LedgerEntry.objects.filter(partner=partner, kind=LedgerEntry.Kind.CHARGE).order_by("-occurred_at").first()
    if charge is not None:
        dispute_open(
            partner=partner, charge_id=charge.pk, by=None,
            reason="The caller said they were looking for a pharmacy, not treatment; the call was wrong-number.",
        )  # fmt: skip
        report.disputes += 1


def seed_demo_activity(
    *, days: int = 30, per_day: int = 8, seed: int = 7, progress: Progress | None = None
) -> DemoReport:
    """Calls over ``days`` days (``per_day`` a day) through the real call path, today's queue and billing."""
    say = progress or (lambda _line: None)
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    now = timezone.now()
    report = DemoReport()
    with transaction.atomic():  # one commit for the history and its billing
        report.calls += _seed_history(rng=rng, now=now, days=days, per_day=per_day, progress=say)
    with transaction.atomic():
        _seed_routed_calls(rng=rng, now=now, report=report, progress=say)
    with transaction.atomic():
        _seed_requests(now=now, report=report)
        say(f"  admission requests: {report.requests} in every state")
        _seed_billing(now=now, report=report)
    with transaction.atomic():
        _seed_auto_pause(now=now, report=report, progress=say)
    return report
