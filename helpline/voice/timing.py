"""Time to a human: seconds a caller spends before the first ``<Dial>``, computed from real TwiML.

Contract: ``spoken_seconds(text) -> float``; ``seconds_before_dial(steps) -> float``;
``heard_before_dial(steps) -> str`` (what was spoken until then). ``steps`` are
the TwiML documents the views returned, in order, each with the key the
caller pressed on it (None: silent). Speech is counted at 150 words a minute,
every digit read one by one ("9 1 1" is three words, "988" too). ``<Gather>``
around ``<Say>`` takes keys while it speaks (barge-in): a caller who presses a
key hears the Gather's speech up to the end of the sentence that offered it,
and no wait; a silent caller hears it all, then the Gather's timeout, and
goes on to the document's next verb (the greeting has two Gathers). A key
written ``AT_ONCE + key`` is pressed during the first sentence of the first
Gather: the caller who knows the number by heart and hears nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.etree.ElementTree import Element

WORDS_PER_MINUTE = 150
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
AT_ONCE = "!"  # "!1": the caller presses 1 as the first <Gather> starts speaking, before hearing any option


def spoken_seconds(text: str) -> float:
    words = len(_WORD.findall(text)) + len(_DIGIT.findall(text))
    return words * 60 / WORDS_PER_MINUTE


def _offered_at(text: str, key: str) -> int | None:
    """Index of the end of the first sentence offering ``key`` ("press 1", "oprima 2"), or None."""
    at = 0
    for sentence in _SENTENCE.split(text):
        at += len(sentence) + 1
        if re.search(rf"\b(press|oprima|marque)\s+{re.escape(key)}\b", sentence, re.IGNORECASE):
            return at
    return None


def _gather_text(gather: Element) -> str:
    return " ".join((say.text or "") for say in gather.iter("Say"))


def pressed_in(gathers: Sequence[Element], key: str) -> int:
    """Which of a document's ``<Gather>``s takes ``key``: the first to offer it.

    A key written ``AT_ONCE + key`` is pressed in the first one, as it starts
    speaking. A key none offers (a wrong key, a ZIP) is pressed in the last,
    after the caller has heard them all.
    """
    if key.startswith(AT_ONCE):
        return 0
    for index, gather in enumerate(gathers):
        if len(key) == 1 and _offered_at(_gather_text(gather), key) is not None:
            return index
    return len(gathers) - 1


def document_heard(root: Element, key: str | None) -> tuple[list[str], float, bool]:
    """(the words heard on this document, seconds spent before it hands over, whether it reached a ``<Dial>``).

    Twilio plays the verbs in order: a ``<Gather>`` that gets no key waits its
    timeout, then goes on to the next verb (or posts to its action at once with
    ``actionOnEmptyResult``); a ``<Redirect>`` leaves the document.
    """
    gathers = [verb for verb in root if verb.tag == "Gather"]
    target = gathers[pressed_in(gathers, key)] if key is not None and gathers else None
    heard: list[str] = []
    seconds = 0.0
    for verb in root:
        if verb.tag == "Say":
            heard.append(verb.text or "")
            seconds += spoken_seconds(verb.text or "")
        elif verb.tag == "Pause":
            seconds += float(verb.get("length", "1"))
        elif verb.tag == "Dial":
            return heard, seconds, True
        elif verb.tag == "Redirect":
            return heard, seconds, False
        elif verb.tag == "Gather":
            text = _gather_text(verb)
            if verb is target and key is not None:
                if key.startswith(AT_ONCE):
                    cut: int | None = len(_SENTENCE.split(text, maxsplit=1)[0])  # the first sentence
                else:
                    cut = _offered_at(text, key) if len(key) == 1 else None
                heard.append(text[:cut] if cut is not None else text)
                return heard, seconds + spoken_seconds(heard[-1]), False
            heard.append(text)
            seconds += spoken_seconds(text) + float(verb.get("timeout", "5"))
            if verb.get("actionOnEmptyResult") == "true":
                return heard, seconds, False
    return heard, seconds, False


def document_seconds(root: Element, key: str | None) -> tuple[float, bool]:
    """(seconds spent on this document before it hands over, whether it reached a ``<Dial>``)."""
    _heard, seconds, dialed = document_heard(root, key)
    return seconds, dialed


def heard_before_dial(steps: Sequence[tuple[Element, str | None]]) -> str:
    """Everything the caller heard before the first ``<Dial>`` (barge-in cuts as in ``seconds_before_dial``)."""
    heard: list[str] = []
    for root, key in steps:
        words, _seconds, dialed = document_heard(root, key)
        heard += words
        if dialed:
            break
    return " ".join(heard)


def seconds_before_dial(steps: Sequence[tuple[Element, str | None]]) -> float:
    """Seconds of speech and waits before the first ``<Dial>`` over the documents of one call."""
    total = 0.0
    for root, key in steps:
        seconds, dialed = document_seconds(root, key)
        total += seconds
        if dialed:
            return total
    return total
