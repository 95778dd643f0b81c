"""routing.tasks.release_stale_legs: slots of legs whose end never came are freed once; counters follow open legs."""

from __future__ import annotations

import datetime as dt
import logging
from unittest import mock

import pytest
from django.utils import timezone

from helpline.calls import legs as services
from helpline.calls import services as calls
from helpline.calls.legs import reconcile_partner_counters, release_stale_legs
from helpline.calls.tasks import release_stale_legs as release_stale_legs_task
from helpline.models import AdmissionRequest, Call, DialAttempt
from routing.models import PartnerCounter
from routing.services import claim_leg
from tests.factories import FacilityFactory

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _midday_utc(time_machine):
    """Legs here start hours before "now"; counters are per day, so a run just after midnight would put them on
    yesterday. Freeze the clock at midday UTC so the day never turns inside a test."""
    time_machine.move_to(dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC), tick=True)


def open_leg(facility, *, started_at, accepted=False, call=True, sequence=1) -> DialAttempt:
    """A leg as the voice (or callback) code leaves it after claim_leg and before Twilio reports its end."""
    assert claim_leg(partner_id=facility.partner_id, now=started_at)
    owner = {}
    if call:
        owner["call"] = Call.objects.create(
            call_sid=f"CA{facility.pk:08d}{sequence:04d}{int(started_at.timestamp())}", status=Call.Status.DIALING,
            started_at=started_at, service="detox",
        )  # fmt: skip
    else:
        owner["admission_request"] = AdmissionRequest.objects.create(
            for_whom="myself", phone_hash="h" * 64, zip_code="78701", service="detox", consent_text="ok",
            consent_version="1", consented_at=started_at, status=AdmissionRequest.Status.CALLBACK_ATTEMPTED,
        )  # fmt: skip
    return DialAttempt.objects.create(
        sequence=sequence, partner=facility.partner, facility=facility, started_at=started_at,
        outcome=DialAttempt.Outcome.ACCEPTED if accepted else DialAttempt.Outcome.PENDING, accepted=accepted,
        dial_call_sid=f"CL{facility.pk:06d}{sequence:04d}{int(started_at.timestamp())}", **owner,
    )  # fmt: skip


def active(facility) -> int:
    return PartnerCounter.objects.get(partner_id=facility.partner_id).active_calls


def test_an_unanswered_call_leg_past_the_ring_timeout_is_closed_and_its_slot_freed(caplog):
    facility = FacilityFactory(partner__concurrent_call_cap=1)
    now = timezone.now()
    leg = open_leg(facility, started_at=now - HOUR)
    assert not claim_leg(partner_id=facility.partner_id, now=now)  # stuck at its cap
    with caplog.at_level(logging.WARNING, logger="helpline.calls.legs"):
        assert release_stale_legs(now=now) == 1
    leg.refresh_from_db()
    assert (leg.outcome, leg.ended_at) == (DialAttempt.Outcome.CANCELED, now)
    assert active(facility) == 0
    assert claim_leg(partner_id=facility.partner_id, now=now)  # the partner takes calls again
    assert f"stale unanswered leg {leg.pk} of partner {facility.partner_id}" in caplog.text
    assert "+1" not in caplog.text  # no phone numbers in the log


def test_release_runs_once_per_leg_whatever_arrives_later():
    facility = FacilityFactory(partner__concurrent_call_cap=5)
    now = timezone.now()
    leg = open_leg(facility, started_at=now - HOUR)
    open_leg(facility, started_at=now - dt.timedelta(seconds=5), sequence=2)  # a live leg, ringing now
    assert active(facility) == 2
    assert release_stale_legs(now=now) == 1
    assert release_stale_legs(now=now) == 0  # a second sweep finds nothing
    # Twilio's status callback for the lost leg finally arrives: the leg is already closed, nothing is released.
    leg.refresh_from_db()
    leg.call = Call.objects.get(pk=leg.call_id)
    assert not calls.attempt_finish(attempt=leg, dial_status="no-answer", duration_seconds=0, dial_call_sid="", now=now)
    assert active(facility) == 1


def test_recent_legs_and_bridged_calls_within_the_generous_limit_are_left_alone():
    facility = FacilityFactory(partner__concurrent_call_cap=5)
    now = timezone.now()
    ringing = open_leg(facility, started_at=now - dt.timedelta(seconds=30))
    talking = open_leg(facility, started_at=now - 3 * HOUR, accepted=True, sequence=2)
    assert release_stale_legs(now=now) == 0
    assert DialAttempt.objects.filter(pk__in=[ringing.pk, talking.pk], ended_at__isnull=True).count() == 2
    assert active(facility) == 2


def test_a_bridged_leg_past_the_limit_is_closed_as_completed(settings):
    settings.ROUTING_STALE_ACCEPTED_LEG_SECONDS = 2 * 3600
    facility = FacilityFactory(partner__concurrent_call_cap=5)
    now = timezone.now()
    leg = open_leg(facility, started_at=now - 3 * HOUR, accepted=True)
    assert release_stale_legs(now=now) == 1
    leg.refresh_from_db()
    assert (leg.outcome, leg.talk_seconds) == (DialAttempt.Outcome.COMPLETED, 0)
    assert Call.objects.get(pk=leg.call_id).status == Call.Status.COMPLETED
    assert active(facility) == 0
    counter = PartnerCounter.objects.get(partner_id=facility.partner_id)
    assert counter.calls_today == 1  # an accepted call keeps its count


def test_a_lost_callback_leg_is_closed_by_the_admission_code_and_the_next_partner_is_due():
    facility = FacilityFactory(partner__concurrent_call_cap=1)
    now = timezone.now()
    leg = open_leg(facility, started_at=now - HOUR, call=False)
    assert release_stale_legs(now=now) == 1
    leg.refresh_from_db()
    assert (leg.outcome, leg.ended_at) == (DialAttempt.Outcome.CANCELED, now)
    request = AdmissionRequest.objects.get(pk=leg.admission_request_id)
    assert (request.callback_choice_index, request.next_action_at) == (1, now)
    assert active(facility) == 0


def test_one_failing_leg_does_not_keep_the_others_claimed():
    a, b = FacilityFactory(), FacilityFactory()
    now = timezone.now()
    bad = open_leg(a, started_at=now - 2 * HOUR)
    open_leg(b, started_at=now - HOUR)
    real = services._close_stale_leg

    def flaky(*, attempt_id, now):
        if attempt_id == bad.pk:
            raise RuntimeError("boom")
        return real(attempt_id=attempt_id, now=now)

    with mock.patch("helpline.calls.legs._close_stale_leg", side_effect=flaky):
        assert release_stale_legs(now=now) == 1
    assert (active(a), active(b)) == (1, 0)


# --- Counter drift -----------------------------------------------------------------


def drifted(facility, *, recorded: int, now, quiet_for=HOUR) -> None:
    PartnerCounter.objects.filter(partner_id=facility.partner_id).update(
        active_calls=recorded, updated_at=now - quiet_for
    )


def test_a_counter_left_high_by_a_crash_is_set_to_the_open_legs():
    facility = FacilityFactory()
    now = timezone.now()
    open_leg(facility, started_at=now - dt.timedelta(seconds=30))
    drifted(facility, recorded=3, now=now)  # two slots claimed by workers that died before recording a leg
    assert reconcile_partner_counters(now=now) == 1
    assert active(facility) == 1
    assert reconcile_partner_counters(now=now) == 0


def test_a_counter_that_moved_recently_or_whose_leg_just_ended_is_left_for_the_next_run():
    busy, ending = FacilityFactory(), FacilityFactory()
    now = timezone.now()
    open_leg(busy, started_at=now - dt.timedelta(seconds=30))
    drifted(busy, recorded=3, now=now, quiet_for=dt.timedelta(seconds=10))  # claimed a moment ago
    leg = open_leg(ending, started_at=now - dt.timedelta(seconds=30))
    drifted(ending, recorded=1, now=now)
    DialAttempt.objects.filter(pk=leg.pk).update(ended_at=now, outcome="completed")  # its release is on its way
    assert reconcile_partner_counters(now=now) == 0
    assert (active(busy), active(ending)) == (3, 1)


def test_a_claim_between_the_count_and_the_correction_wins():
    facility = FacilityFactory(partner__concurrent_call_cap=10)
    now = timezone.now()
    assert claim_leg(partner_id=facility.partner_id, now=now - HOUR)
    drifted(facility, recorded=2, now=now)  # no open leg: should become 0 ...
    real = services._open_legs

    def claim_meanwhile(*, partner_id):
        n = real(partner_id=partner_id)
        assert claim_leg(partner_id=partner_id, now=now)  # ... but a worker claims a slot right now
        return n

    with mock.patch("helpline.calls.legs._open_legs", side_effect=claim_meanwhile):
        assert reconcile_partner_counters(now=now) == 0
    assert active(facility) == 3  # the claim is kept; the next quiet run corrects the rest


def test_the_periodic_task_runs_both(settings):
    facility = FacilityFactory()
    now = timezone.now()
    open_leg(facility, started_at=now - HOUR)
    other = FacilityFactory()
    assert claim_leg(partner_id=other.partner_id, now=now - HOUR)
    drifted(other, recorded=1, now=now)
    assert release_stale_legs_task.delay().get() == {"released": 1, "corrected": 1}
    assert (active(facility), active(other)) == (0, 0)
    assert release_stale_legs_task.name == "routing.tasks.release_stale_legs"
