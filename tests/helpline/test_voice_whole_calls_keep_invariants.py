"""QA property test: whole calls played as Twilio plays them, with random keys, outcomes, hang-ups and replays.

After every webhook: no fault was logged (a fault would have been papered over with the fallback line),
the answer is a valid, non-empty TwiML document, every <Dial> has a timeout, the call's status never moves
back, partner slot counters match the live legs, and the call ends connected or on the fallback line within a
bounded number of turns. No partner rings before the caller heard the whole disclosure: a key may be pressed
in any of a document's <Gather>s, as it starts speaking, so only what was spoken before it counts as heard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET
from django.conf import settings
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from helpline.calls.services import LIVE_OUTCOMES, STATUS_RANK, TERMINAL_STATUSES, forget_helpline_numbers
from helpline.models import Call, DialAttempt, HelplineNumber
from helpline.voice.prompts import PROMPTS
from routing.models import PartnerCounter
from routing.selectors import directory_cache
from tests.factories import HelplineNumberFactory
from tests.helpline.voice_support import make_directory, new_sid, payload, post

pytestmark = pytest.mark.django_db

VERBS = {"Say", "Play", "Dial", "Gather", "Redirect", "Hangup", "Pause", "Reject"}
MAX_CALLER_MENUS = 8  # greeting (1) + service menu (2) + ZIP (2), with room to spare; never more
MAX_STEPS = 60
LISTING = "+18885550199"

DIGITS = st.one_of(
    st.sampled_from(["", "1", "2", "3", "4", "5", "9", "0", "#", "*", "1#", "12345", "78701", "00000", "99999"]),
    st.text(alphabet="0123456789#*", max_size=40),
    st.text(max_size=8),
)
LEG_OUTCOME = st.sampled_from(
    ["busy", "no-answer", "failed", "voicemail", "decline", "accept", "caller-hangs-up-ringing", "accept-then-hangup"]
)
CALLER_MOVE = st.sampled_from(["press", "press", "press", "silence", "hangup"])


class Fault(AssertionError):
    pass


@dataclass
class Twilio:
    """Follows the caller's TwiML and plays the partner legs, checking every answer."""

    client: Any
    from_: str
    to: str
    extra: dict[str, str]
    sid: str = field(default_factory=new_sid)
    root: Any = None
    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    menus: int = 0
    partner_dials: int = 0
    last_rank: int = 0
    seq: int = 0
    ended: str = ""  # "", "partner", "fallback", "crisis", "hangup"
    heard: list[str] = field(default_factory=list)  # spoken in full to the caller so far

    def hear(self, root: Any, stop: Any = None) -> None:
        """The caller hears ``root`` up to ``stop`` (a verb), or to its <Redirect> or <Dial> (silent throughout)."""
        for verb in root:
            if verb is stop or verb.tag in ("Redirect", "Dial"):
                return
            self.heard += [say.text or "" for say in verb.iter("Say")]

    def heard_the_disclosure(self) -> bool:
        heard = " ".join(self.heard)
        return any(lines["disclosure"] in heard for lines in PROMPTS.values())

    def base(self, name: str, **overrides: str) -> dict[str, str]:
        params = payload(name, CallSid=self.sid, From=self.from_, Caller=self.from_, To=self.to, Called=self.to)
        for key in ("FromZip", "FromState", "CallerZip", "CallerState", "FromCity", "CallerCity"):
            params.pop(key, None)
        params.update(self.extra)
        params.update(overrides)
        return params

    def send(self, url: str, params: dict[str, str], *, twiml: bool = True) -> Any:
        self.sent.append((url, params))
        response = post(self.client, url, params)
        assert response.status_code < 500, (url, response.status_code)
        self.check_invariants()
        if not twiml:
            assert response.status_code in (200, 204), (url, response.status_code)
            return None
        return check_twiml(response, url)

    def check_invariants(self) -> None:
        call = Call.objects.filter(call_sid=self.sid).first()
        if call is not None:
            rank = STATUS_RANK[call.status]
            assert rank >= self.last_rank, f"call status went back to {call.status}"
            self.last_rank = rank
        for counter in PartnerCounter.objects.all():
            live = DialAttempt.objects.filter(partner_id=counter.partner_id, outcome__in=LIVE_OUTCOMES).count()
            assert counter.active_calls == live, (counter.partner_id, counter.active_calls, live)

    def caller_status(self, status: str) -> None:
        self.seq += 1
        params = payload("status_callback", CallSid=self.sid, From=self.from_, To=self.to)
        params.update(CallStatus=status, SequenceNumber=str(self.seq), CallDuration="42")
        self.send("/twilio/voice/status", params, twiml=False)


def check_twiml(response: Any, url: str) -> Any:
    assert response.status_code == 200, (url, response.status_code)
    assert response["Content-Type"].startswith("text/xml"), url
    root = SafeET.fromstring(response.content)
    assert root.tag == "Response", url
    assert len(root) > 0, (url, response.content)
    assert {el.tag for el in root} <= VERBS, response.content
    for dial in root.iter("Dial"):
        assert dial.get("timeout"), response.content
    if root[-1].tag not in ("Hangup", "Redirect", "Dial", "Gather") and root.find("Dial") is None:
        # Only a partner's "Connecting you now." (ends the whisper and bridges) may end on a Say.
        assert "whisper-choice" in url, (url, response.content)
    return root


def play_leg(tw: Twilio, outcome: str, data: Any) -> None:
    """One partner <Dial>: ring, maybe answer and whisper, then the Dial action (and late callbacks)."""
    dial = tw.root.find("Dial")
    number = dial.find("Number")
    action = dial.get("action")
    leg = new_sid()
    status_url = number.get("statusCallback")
    leg_seq = 0

    def leg_status(status: str, duration: str | None = None) -> None:
        nonlocal leg_seq
        params = payload(
            "leg_status_callback", CallSid=leg, ParentCallSid=tw.sid, CallStatus=status, SequenceNumber=str(leg_seq)
        )
        if duration:
            params["CallDuration"] = duration
        leg_seq += 1
        tw.send(status_url, params, twiml=False)

    leg_status("initiated")
    leg_status("ringing")
    dial_status, accepted, caller_gone = outcome, False, False
    if outcome in ("voicemail", "decline", "accept", "accept-then-hangup"):
        leg_status("in-progress")
        whisper = tw.send(number.get("url"), payload("whisper", CallSid=leg, ParentCallSid=tw.sid, To=number.text))
        gather = whisper.find("Gather")
        dial_status = "completed"
        if gather is not None and outcome != "voicemail":
            key = "1" if outcome.startswith("accept") else data.draw(DIGITS.filter(lambda d: d.strip() != "1"))
            tw.send(
                gather.get("action"),
                payload("whisper_gather", CallSid=leg, ParentCallSid=tw.sid, Digits=key),
            )
            accepted = outcome.startswith("accept")
        if outcome == "accept-then-hangup":
            tw.caller_status("completed")  # the caller hangs up mid-conversation: parent callback first
            caller_gone = True
    elif outcome == "caller-hangs-up-ringing":
        dial_status, caller_gone = "canceled", True
        if data.draw(st.booleans()):
            tw.caller_status("completed")
    late_order = data.draw(st.booleans())
    if late_order:  # the leg's final status callback before the Dial action
        leg_status(dial_status if dial_status != "canceled" else "canceled", "30" if accepted else None)
    params = tw.base("dial_action", DialCallStatus=dial_status, DialCallSid=leg)
    params["CallStatus"] = "completed" if caller_gone else "in-progress"
    if accepted:
        params["DialCallDuration"] = "30"
        params["DialBridged"] = "true"
    root = tw.send(action, params)
    if not late_order:
        leg_status(dial_status, "30" if accepted else None)
    if accepted:
        tw.ended = "partner"
        if not caller_gone:
            tw.caller_status("completed")
        return
    if caller_gone:
        tw.ended = "hangup"
        if data.draw(st.booleans()):
            tw.caller_status("completed")  # Twilio's own final callback, late and maybe again
        return
    tw.root = root


def play_call(client: Any, data: Any) -> Twilio:
    extra = data.draw(
        st.sampled_from(
            [{}, {"FromZip": "78701", "FromState": "TX"}, {"FromZip": "ZZZ"}, {"FromState": "XX", "FromZip": "00000"}]
        )
    )
    from_ = data.draw(st.sampled_from(["+15125550123", "anonymous", "+266696687", "", "+442071838750"]))
    to = data.draw(st.sampled_from(["+18885550100", LISTING, "+19995550000"]))
    tw = Twilio(client=client, from_=from_, to=to, extra=extra)
    if data.draw(st.integers(0, 9)) == 0:
        # The caller hangs up while the incoming webhook is still being answered: the final status
        # callback gets here first. The late incoming must still leave a closed call.
        tw.caller_status("completed")
        tw.send("/twilio/voice/incoming", tw.base("incoming"))
        tw.ended = "hangup"
        return tw
    tw.root = tw.send("/twilio/voice/incoming", tw.base("incoming"))
    for _step in range(MAX_STEPS):
        if tw.ended:
            break
        if data.draw(st.integers(0, 9)) == 0 and tw.sent:  # Twilio re-sends something it already sent
            url, params = data.draw(st.sampled_from(tw.sent))
            is_status = "/status" in url
            tw.send(url, params, twiml=not is_status)
        if data.draw(st.integers(0, 15)) == 0:  # a status callback for a call we never saw
            tw.send("/twilio/voice/status", {"CallSid": new_sid(), "CallStatus": "completed"}, twiml=False)
        root = tw.root
        dial = root.find("Dial")
        if dial is not None and dial.find("Number") is not None and dial.find("Number").get("url"):
            tw.hear(root, dial)
            assert tw.heard_the_disclosure(), ("a partner rings before the disclosure was heard", tw.heard)
            tw.partner_dials += 1
            assert tw.partner_dials <= settings.DIAL_MAX_ATTEMPTS
            play_leg(tw, data.draw(LEG_OUTCOME), data)
            continue
        if dial is not None:
            number = (dial.find("Number").text if dial.find("Number") is not None else dial.text or "").strip()
            if number == settings.CRISIS_LINE:
                tw.ended = "crisis"
                status = data.draw(st.sampled_from(["completed", "busy", "no-answer", "failed"]))
                params = tw.base("dial_action", DialCallStatus=status, DialCallSid=new_sid())
                after = tw.send(dial.get("action"), params)
                if status != "completed":
                    assert after.find("Dial") is not None
            else:
                assert number == settings.FALLBACK_LINE, number
                tw.ended = "fallback"
            tw.caller_status("completed")
            break
        gathers = root.findall("Gather")
        gather = gathers[data.draw(st.integers(0, len(gathers) - 1))] if gathers else None
        if gather is None:
            assert root.find("Hangup") is not None
            tw.ended = "hangup"
            break
        tw.menus += 1
        assert tw.menus <= MAX_CALLER_MENUS, "the caller is kept in menus"
        move = data.draw(CALLER_MOVE)
        if move == "hangup":
            tw.caller_status("completed")
            tw.ended = "hangup"
            if data.draw(st.booleans()):  # Twilio still posts the Gather action of a call that hung up
                tw.send(gather.get("action"), tw.base("gather", Digits="", CallStatus="completed"))
            break
        if move == "silence":
            tw.hear(root)
            redirect = root.find("Redirect")
            assert redirect is not None and redirect.text, "a Gather with nothing after it: silence"
            tw.root = tw.send(redirect.text, tw.base("redirect"))
        else:
            tw.hear(root, gather)  # pressed as this <Gather> starts: none of its words count as heard
            tw.root = tw.send(gather.get("action"), tw.base("gather", Digits=data.draw(DIGITS)))
    assert tw.ended, "the call did not end in a bounded number of turns"
    if __import__("os").environ.get("QA_TRACE"):
        print("END", tw.ended, tw.partner_dials, tw.menus, len(tw.sent))
    return tw


@hsettings(
    max_examples=int(__import__("os").environ.get("QA_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_whole_calls_keep_every_invariant(client, caplog, data):
    caplog.set_level(logging.ERROR, logger="helpline.voice.inbound")
    caplog.clear()
    with transaction.atomic():
        directory_cache.clear()
        forget_helpline_numbers()
        facilities = make_directory(data.draw(st.integers(0, 4)))
        if facilities and data.draw(st.booleans()):  # a facility's own listing number, failing over to the pool
            HelplineNumberFactory(number=LISTING, kind=HelplineNumber.Kind.LISTING, facility=facilities[0])
        tw = play_call(client, data)
        faults = [r.getMessage() for r in caplog.records if r.name == "helpline.voice.inbound"]
        assert faults == [], faults
        call = Call.objects.get(call_sid=tw.sid)
        assert not call.attempts.filter(outcome__in=LIVE_OUTCOMES).exists(), "a leg was left open"
        assert call.status in TERMINAL_STATUSES, call.status
        for counter in PartnerCounter.objects.all():
            assert counter.active_calls == 0
        transaction.set_rollback(True)
    directory_cache.clear()
    forget_helpline_numbers()
