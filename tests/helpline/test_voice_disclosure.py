"""The spoken disclosure comes from the versioned record staff edit, and reaches the next caller."""

from __future__ import annotations

import importlib
from unittest import mock

import pytest
from django.apps import apps
from django.db import DatabaseError
from django.urls import reverse

from helpline.models import DisclosureVersion
from helpline.voice.prompts import PROMPTS
from tests.factories import StaffFactory, disclosure_wording
from tests.helpline.voice_support import CallDriver, make_directory, spoken

pytestmark = pytest.mark.django_db

NEW_EN = "Free and private. Every call goes to a provider who pays to advertise."  # 13 words
NEW_ES = "Gratis y privado. Cada llamada va a un proveedor que paga por anunciarse."
WORDING = disclosure_wording(spoken=NEW_EN, spoken_es=NEW_ES)


def test_a_staff_edit_of_the_spoken_disclosure_is_spoken_on_the_next_call(client):
    make_directory()
    before = spoken(CallDriver(client).incoming())  # the greeting is cached from here on
    assert PROMPTS["en"]["disclosure"] in before and NEW_EN not in before
    staff = StaffFactory()
    client.force_login(staff)
    response = client.post(reverse("admin:helpline_disclosureversion_add"), WORDING)
    assert response.status_code == 302, response.content
    client.logout()
    driver = CallDriver(client)
    after = spoken(driver.incoming())
    assert NEW_EN in after and PROMPTS["en"]["disclosure"] not in after
    spanish = spoken(driver.press("8"))
    assert NEW_ES in spanish
    assert DisclosureVersion.objects.get().created_by == staff


def test_the_admin_offers_the_words_callers_hear_now_and_refuses_a_long_one(client):
    client.force_login(StaffFactory())
    url = reverse("admin:helpline_disclosureversion_add")
    initial = client.get(url).context["adminform"].form.initial
    assert (initial["spoken"], initial["spoken_es"]) == (PROMPTS["en"]["disclosure"], PROMPTS["es"]["disclosure"])
    fourteen = "Free and confidential. Your call goes to treatment providers who pay us to advertise."
    response = client.post(url, {**WORDING, "spoken": fourteen})
    assert "Too long to speak to every caller before a provider rings: at most 13 words" in response.content.decode()
    response = client.post(url, {**WORDING, "spoken_es": "  "})
    assert "cannot be removed" in response.content.decode()
    assert not DisclosureVersion.objects.exists()


def test_a_blank_field_or_an_unreadable_database_speaks_the_default_words(client):
    make_directory()
    DisclosureVersion.objects.create(**{**WORDING, "spoken": ""})  # written around the admin
    driver = CallDriver(client)
    assert PROMPTS["en"]["disclosure"] in spoken(driver.incoming())
    assert NEW_ES in spoken(driver.press("8"))
    from helpline.voice.disclosure import forget_spoken_disclosure, spoken_disclosure

    forget_spoken_disclosure()
    with mock.patch.object(DisclosureVersion.objects, "order_by", side_effect=DatabaseError("down")):
        assert spoken_disclosure() == {"en": PROMPTS["en"]["disclosure"], "es": PROMPTS["es"]["disclosure"]}


def test_the_migration_fills_existing_versions_with_the_words_spoken_until_now():
    migration = importlib.import_module("helpline.migrations.0011_disclosure_spoken_en_es")
    old = DisclosureVersion.objects.create(spoken="", spoken_es="")
    edited = DisclosureVersion.objects.create(spoken=NEW_EN, spoken_es=NEW_ES)
    migration.fill_spoken(apps, None)
    old.refresh_from_db()
    edited.refresh_from_db()
    assert (old.spoken, old.spoken_es) == (PROMPTS["en"]["disclosure"], PROMPTS["es"]["disclosure"])
    assert (edited.spoken, edited.spoken_es) == (NEW_EN, NEW_ES)
