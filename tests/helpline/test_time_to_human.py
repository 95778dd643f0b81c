"""Time to a human: seconds of speech and Gather waits before the first <Dial>, from the TwiML the views return."""

from __future__ import annotations

import pytest

from helpline.voice.prompts import PROMPTS
from helpline.voice.timing import AT_ONCE, heard_before_dial, seconds_before_dial, spoken_seconds
from tests.factories import FacilityFactory, HelplineNumberFactory
from tests.helpline.voice_support import CallDriver

pytestmark = pytest.mark.django_db

TARGETS = {
    "silent": 30.0,
    "knows what they want": 15.0,
    "presses 1 at once": 15.0,
    "Spanish, knows": 15.0,
    "asked for a ZIP": 25.0,
}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("Press 1.", 0.8),  # two words
        ("dial 9 1 1", 1.6),  # digits read one by one
        ("Call 988 now.", 2.0),
        ("Para español, oprima 2.", 1.6),
        ("", 0.0),
    ],
)
def test_spoken_seconds_count_words_at_150_a_minute_and_digits_one_by_one(text, seconds):
    assert spoken_seconds(text) == pytest.approx(seconds)


def walk(client, *, from_: str, keys: list[str | None], **extra: str) -> tuple[float, str]:
    """Play one call, pressing ``keys`` in turn (None: silent, Twilio follows the <Redirect>).

    A key is pressed in the <Gather> that offers it; ``AT_ONCE + key`` in the first one, as it starts.

    Returns the seconds before the first partner rings and what the caller heard until then.
    """
    driver = CallDriver(client, from_=from_, **extra)
    steps = []
    root = driver.incoming()
    for key in keys:
        steps.append((root, key))
        if root.find("Dial") is not None:
            break
        if key is None:
            root = driver.silence()
        else:
            root = driver.press(key.removeprefix(AT_ONCE), at_once=key.startswith(AT_ONCE))
    steps.append((root, None))
    assert root.find("Dial/Number") is not None, "the path must end ringing a partner"
    return seconds_before_dial(steps), heard_before_dial(steps)


def play_paths(client) -> dict[str, tuple[float, str]]:
    HelplineNumberFactory(number="+18885550100")
    FacilityFactory(service_states=["TX"], phone="+15125550901", languages=["en", "es"])
    FacilityFactory(
        city="Chicago", state="IL", zip_code="60601", latitude=41.8858, longitude=-87.6181,
        service_states=[], service_zip_prefixes=["606"], phone="+13125550902",
    )  # fmt: skip
    texan = "+15125550123"
    return {
        "silent": walk(client, from_=texan, FromZip="78701", FromState="TX", keys=[None, None]),
        "knows what they want": walk(client, from_=texan, FromZip="78701", FromState="TX", keys=["1"]),
        # Barge-in during the first word ("Clearline."): the disclosure is spoken before the ring all the same.
        "presses 1 at once": walk(client, from_=texan, FromZip="78701", FromState="TX", keys=[AT_ONCE + "1"]),
        "Spanish, knows": walk(client, from_=texan, FromZip="78701", FromState="TX", keys=["8", "1"]),
        "asked for a ZIP": walk(client, from_="+13125550142", keys=["2", "60601"]),
    }


def measure(client) -> dict[str, float]:
    return {path: seconds for path, (seconds, _heard) in play_paths(client).items()}


def test_time_to_a_human_per_path(client):
    """The table in README ("Time to a human"); a change to any prompt or timeout moves it."""
    seconds = measure(client)
    assert seconds == pytest.approx(
        {
            "silent": 29.0,
            "knows what they want": 14.6,
            "presses 1 at once": 6.4,
            "Spanish, knows": 14.0,
            "asked for a ZIP": 23.8,
        },
        abs=0.05,
    ), seconds


def test_time_to_a_human_meets_the_targets(client):
    seconds = measure(client)
    assert all(seconds[path] <= limit for path, limit in TARGETS.items()), seconds


def test_every_path_hears_the_whole_disclosure_before_a_ring(client):
    """Heard in full: a <Gather> the caller cut short counts only up to the key, so a skipped disclosure fails."""
    for path, (_seconds, heard) in play_paths(client).items():
        language = "es" if path.startswith("Spanish") else "en"
        assert PROMPTS[language]["disclosure"] in heard, (path, heard)


def test_every_path_hears_the_spanish_option_the_paid_advertiser_truth_and_the_crisis_line_before_a_ring(client):
    for path, (_seconds, heard) in play_paths(client).items():
        if path == "presses 1 at once":  # pressed before any option was spoken: the disclosure (above) only
            continue
        assert "Para español, oprima 8." in heard, path
        assert "press 9" in heard or "oprima 9" in heard, path  # the crisis line
        assert (
            "treatment providers who pay to advertise" in heard
            or "proveedores de tratamiento que pagan por anunciarse" in heard
        ), path
        if path.startswith("Spanish"):
            assert "oprima 9" in heard and "pagan por anunciarse" in heard, "the Spanish caller hears both in Spanish"


def test_a_silent_caller_hears_the_menu_once_and_goes_on_as_not_sure(client):
    HelplineNumberFactory(number="+18885550100")
    FacilityFactory(service_states=["TX"], phone="+15125550901")
    driver = CallDriver(client, FromZip="78701", FromState="TX")
    first = driver.incoming()
    assert [g.get("timeout") for g in first.findall("Gather")] == ["1", "4"]  # the greeting's two parts
    root = driver.silence()
    assert root.find("Gather") is None and root.find("Dial/Number") is not None
    assert "For detox" not in " ".join(s.text or "" for s in root.iter("Say"))


def test_the_longest_spoken_disclosure_staff_may_save_still_meets_the_targets(client):
    """The admin's limit (SPOKEN_BUDGET_SECONDS) is what keeps a staff edit from breaking the targets."""
    from helpline.models import DisclosureVersion
    from helpline.voice.disclosure import SPOKEN_BUDGET_SECONDS

    en = "Free and confidential. Calls go to treatment providers who pay us to advertise."
    es = "Ayuda gratis y confidencial. Su llamada va a proveedores de tratamiento que nos pagan por anunciarse."
    assert (spoken_seconds(en), spoken_seconds(es)) == (SPOKEN_BUDGET_SECONDS["en"], SPOKEN_BUDGET_SECONDS["es"])
    DisclosureVersion.objects.create(spoken=en, spoken_es=es)
    paths = play_paths(client)
    seconds = {path: s for path, (s, _heard) in paths.items()}
    assert all(seconds[path] <= limit for path, limit in TARGETS.items()), seconds
    assert en in paths["knows what they want"][1] and es in paths["Spanish, knows"][1]
    assert en in paths["presses 1 at once"][1]
