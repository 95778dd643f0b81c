"""A call whose plan runs out is routed once more before the fallback line, without the partners it tried.

Seen in the 500-call burst (``tests/bench/load/burst.py``, docs/scaling.md): a
call's plan (up to five choices) is fixed when the caller presses a key; the
first tier's other partners reached their caps within seconds, so after one
busy partner every choice left refused the claim and the caller heard the
fallback line while a lower-tier partner was free.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from helpline.models import Call, CallEvent, DialAttempt, HelplineNumber
from routing.models import PartnerCounter, RoutingDecision
from routing.services import claim_leg
from tests.factories import FacilityFactory, HelplineNumberFactory, PartnerFactory
from tests.helpline.voice_support import CallDriver

pytestmark = pytest.mark.django_db

TOP_TIER = 5  # DIAL_MAX_ATTEMPTS (3) + 2: the whole plan


def burst_directory(*, lower_cap: int | None = None):
    """Five first-tier partners with one slot each (the whole plan) and one lower-tier partner outside it."""
    HelplineNumberFactory(number="+18885550100", kind=HelplineNumber.Kind.GENERAL)
    top = [
        FacilityFactory(
            partner=PartnerFactory(display_name=f"Top {i}", priority=1, concurrent_call_cap=1),
            phone=f"+1512555{2001 + i:04d}",
        )
        for i in range(TOP_TIER)
    ]
    lower = FacilityFactory(
        partner=PartnerFactory(display_name="Lower", priority=3, concurrent_call_cap=lower_cap),
        phone="+15125553001",
    )
    return top, lower


def dialing(client) -> tuple[CallDriver, DialAttempt]:
    """A caller who pressed 1 and is ringing the plan's first partner."""
    driver = CallDriver(client)
    driver.incoming()
    driver.press("1")
    return driver, DialAttempt.objects.get()


def other_callers_take_the_slots(facilities, *, but) -> None:
    """Other calls of the burst claim every other partner's only slot (real claims, as their webhooks do)."""
    for facility in facilities:
        if facility.partner_id != but:
            assert claim_leg(partner_id=facility.partner_id, now=timezone.now())


def active(facility) -> int:
    counter = PartnerCounter.objects.filter(partner_id=facility.partner_id).first()
    return counter.active_calls if counter else 0


def test_a_call_whose_plan_is_capped_mid_call_reaches_a_free_lower_tier_partner(client):
    top, lower = burst_directory()
    driver, first = dialing(client)
    call = Call.objects.get()
    assert {c["partner_id"] for c in call.failover_plan} == {f.partner_id for f in top}  # the lower tier is not in it
    other_callers_take_the_slots([*top, lower], but=first.partner_id)
    PartnerCounter.objects.filter(partner_id=lower.partner_id).update(active_calls=0)  # the lower tier is free

    root = driver.dial_result("busy")

    assert root.find("Gather") is None  # the ZIP is not asked again: the call's location is reused
    assert driver.number().text == str(lower.phone)
    call.refresh_from_db()
    assert call.status == Call.Status.DIALING and not call.needs_followup
    legs = list(call.attempts.order_by("sequence").values_list("partner_id", flat=True))
    assert legs == [first.partner_id, lower.partner_id]
    assert active(lower) == 1
    # Stored like any decision, so staff see why: same service and location, the tried partners left out.
    replan = call.replan_decision
    assert replan is not None and replan.pk != call.routing_decision_id
    assert (replan.service, replan.state, replan.location_source) == ("detox", "TX", call.location_source)
    assert [c["partner_id"] for c in replan.chosen] == [lower.partner_id]
    tried = {x["partner_id"] for x in replan.excluded if x["reason"] == "already tried in this call"}
    assert tried == {f.partner_id for f in top}
    event = CallEvent.objects.get(call=call, kind="replan")
    assert event.status == f"decision-{replan.pk}"
    assert CallEvent.objects.filter(call=call, kind="skip").count() == TOP_TIER - 1  # each capped choice


def test_a_call_with_nobody_left_after_the_second_routing_reaches_the_fallback_line_flagged(client, settings):
    top, lower = burst_directory(lower_cap=1)
    driver, first = dialing(client)
    other_callers_take_the_slots([*top, lower], but=first.partner_id)

    root = driver.dial_result("busy")

    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    assert call.status == Call.Status.FALLBACK and call.needs_followup
    assert call.outcome_reason == "no partner left after 1 attempt(s) and a second routing"
    assert call.replan_decision is not None and call.replan_decision.chosen == []
    reasons = {x["partner_id"]: x["reason"] for x in call.replan_decision.excluded}
    assert reasons[lower.partner_id].startswith("at concurrent-call cap")
    assert DialAttempt.objects.count() == 1


def test_a_call_is_routed_again_at_most_once(client, settings):
    top, lower = burst_directory()
    driver, first = dialing(client)
    other_callers_take_the_slots(top, but=first.partner_id)
    driver.dial_result("busy")
    assert driver.number().text == str(lower.phone)

    root = driver.dial_result("busy")  # the lower tier is busy too: 2 of 3 attempts, but no third routing

    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    assert call.status == Call.Status.FALLBACK and call.needs_followup
    assert RoutingDecision.objects.count() == 2
    assert CallEvent.objects.filter(call=call, kind="replan").count() == 1
    assert active(lower) == 0 and active(first.facility) == 0  # both legs gave their slots back
    assert [active(f) for f in top if f.partner_id != first.partner_id] == [1] * (TOP_TIER - 1)  # the others' stay


def test_no_second_routing_past_the_attempt_limit(client, settings):
    settings.DIAL_MAX_ATTEMPTS = 1
    top, _lower = burst_directory()
    driver, first = dialing(client)
    other_callers_take_the_slots(top, but=first.partner_id)
    root = driver.dial_result("busy")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    assert call.replan_decision is None and "after 1 attempts" in call.outcome_reason


def test_no_second_routing_past_the_routing_deadline(client, settings):
    settings.CALL_ROUTING_DEADLINE_SECONDS = 60
    top, _lower = burst_directory()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        driver, first = dialing(client)
        other_callers_take_the_slots(top, but=first.partner_id)
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        root = driver.dial_result("no-answer")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    assert call.replan_decision is None and "deadline" in call.outcome_reason


def test_a_fault_in_the_second_routing_gives_the_fallback_line(client, settings):
    top, _lower = burst_directory()
    driver, first = dialing(client)
    other_callers_take_the_slots(top, but=first.partner_id)
    with mock.patch("routing.services.route", autospec=True, side_effect=RuntimeError("bug")) as route:
        root = driver.dial_result("busy")
    assert route.call_count == 1
    assert root.find("Dial").text == settings.FALLBACK_LINE
    assert DialAttempt.objects.count() == 1


def test_a_call_whose_first_decision_was_empty_is_not_routed_again(client, settings):
    HelplineNumberFactory(number="+18885550100", kind=HelplineNumber.Kind.GENERAL)
    FacilityFactory(partner=PartnerFactory(status="paused"))
    driver = CallDriver(client, FromZip="78701")  # a ZIP already known: nothing to ask
    driver.incoming()
    root = driver.press("1")
    assert root.find("Dial").text == settings.FALLBACK_LINE
    call = Call.objects.get()
    assert call.outcome_reason == "nobody eligible" and call.replan_decision is None
    assert RoutingDecision.objects.count() == 1


def test_staff_see_the_second_routing_on_the_call_page(client):
    from tests.factories import StaffFactory

    top, lower = burst_directory()
    driver, first = dialing(client)
    other_callers_take_the_slots(top, but=first.partner_id)
    driver.dial_result("busy")
    call = Call.objects.get()
    client.force_login(StaffFactory())
    body = client.get(f"/admin/helpline/call/{call.pk}/change/").content.decode()
    assert "Second routing (every partner in the list was tried)" in body
    assert "Routed again (every partner in the list was tried)" in body  # the timeline's event
    assert "already tried in this call" in body and lower.name in body
