"""No key skips the disclosure: a caller who presses before it ends hears it, whole, before a partner rings.

The greeting's first part (name, Spanish option, disclosure) takes keys while it speaks; its action URL
says so (``disclosed=0``). A service chosen there is answered with the disclosure in a <Say> of its own
(no <Gather> around it, so no key cuts it) before the ZIP question or the partner's <Dial>. The crisis
line (9) and Spanish (8) work from the first word.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from helpline.models import Call, DisclosureVersion
from helpline.voice.prompts import PROMPTS
from tests.helpline.voice_support import CallDriver, fresh_routing_directory, make_directory, spoken

pytestmark = pytest.mark.django_db
__all__ = ["fresh_routing_directory"]  # autouse fixture, imported to apply here

EN, ES = PROMPTS["en"]["disclosure"], PROMPTS["es"]["disclosure"]


def unskippable(root: ET.Element) -> str:
    """What the document says outside any <Gather>, in order up to its <Dial> or <Gather>: what no key can cut."""
    words = []
    for verb in root:
        if verb.tag in ("Dial", "Gather"):
            break
        if verb.tag == "Say":
            words.append(verb.text or "")
    return " ".join(words)


def test_a_service_key_pressed_during_the_first_word_hears_the_disclosure_before_the_ring(client):
    make_directory()
    driver = CallDriver(client, FromZip="78701", FromState="TX")
    driver.incoming()
    root = driver.press("1", at_once=True)
    assert root.find("Dial/Number") is not None
    before = unskippable(root)
    assert before.index(EN) < before.index("Connecting you now.")
    assert Call.objects.get().service == "detox"


def test_a_service_key_pressed_after_the_disclosure_is_not_told_twice(client):
    make_directory()
    driver = CallDriver(client, FromZip="78701", FromState="TX")
    driver.incoming()
    root = driver.press("1")  # in the greeting's second part, at "For detox, press 1."
    assert root.find("Dial/Number") is not None
    assert unskippable(root) == "Connecting you now."


def test_an_early_key_asked_for_a_zip_hears_the_disclosure_before_the_question_and_not_again(client):
    make_directory()
    driver = CallDriver(client, from_="+18005550199")  # toll-free: no place, the ZIP is asked
    driver.incoming()
    ask = driver.press("2", at_once=True)
    gather = ask.find("Gather")
    assert gather is not None and gather.get("numDigits") == "5"
    assert unskippable(ask) == EN and EN not in spoken(gather)
    root = driver.press("78701")
    assert root.find("Dial/Number") is not None and EN not in spoken(root)


def test_nine_and_eight_work_from_the_first_word(client, settings):
    make_directory()
    crisis = CallDriver(client)
    crisis.incoming()
    root = crisis.press("9", at_once=True)
    assert [d.text for d in root.findall("Dial")] == [settings.CRISIS_LINE]  # no paid partner: 988 at once
    spanish = CallDriver(client)
    spanish.incoming()
    menu = spanish.press("8", at_once=True)
    assert unskippable(menu) == ES  # said whole before the Spanish menu takes a key
    assert [el.tag for el in menu] == ["Say", "Gather", "Redirect"]
    root = spanish.press("1", at_once=True)
    assert root.find("Dial/Number") is not None and unskippable(root) == "Le comunicamos ahora."


def test_a_wrong_key_during_the_disclosure_hears_it_whole_with_the_menu_again(client):
    make_directory()
    driver = CallDriver(client, FromZip="78701", FromState="TX")
    driver.incoming()
    again = driver.press("7", at_once=True)
    assert unskippable(again) == f"Sorry, I didn't get that. {EN}"
    assert "For detox, press 1." in spoken(again.find("Gather"))
    assert "try=2" in again.find("Gather").get("action")
    root = driver.press("1", at_once=True)
    assert root.find("Dial/Number") is not None and unskippable(root) == "Connecting you now."


def test_the_disclosure_spoken_before_the_ring_is_the_one_staff_saved(client):
    make_directory()
    DisclosureVersion.objects.create(
        spoken="Free and private. Providers who pay to advertise answer.",
        spoken_es="Gratis y privado. Atienden proveedores que pagan por anunciarse.",
    )
    driver = CallDriver(client, FromZip="78701", FromState="TX")
    driver.incoming()
    root = driver.press("3", at_once=True)
    assert unskippable(root).startswith("Free and private. Providers who pay to advertise answer.")
