"""``manage.py load_guides``: idempotent, all or nothing, names the file and field, keeps staff edits."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from helpline.site.guides.models import Guide

pytestmark = pytest.mark.django_db


def load(directory: Path, *args: str) -> str:
    out = StringIO()
    call_command("load_guides", "--dir", str(directory), *args, stdout=out)
    return out.getvalue()


def test_first_load_creates_every_guide_in_review_without_a_reviewer(content_copy):
    output = load(content_copy)
    assert "11 created" in output
    assert Guide.objects.count() == 11
    assert set(Guide.objects.values_list("status", flat=True)) == {"in_review"}
    assert set(Guide.objects.values_list("reviewer_name", flat=True)) == {""}
    assert Guide.objects.get(slug="klonopin", language="es").title.startswith("Klonopin")


def test_loading_twice_changes_nothing(content_copy):
    load(content_copy)
    before = {g.pk: (g.updated_at, g.history.count()) for g in Guide.objects.all()}
    output = load(content_copy)
    assert "0 created, 0 updated, 11 unchanged" in output
    assert {g.pk: (g.updated_at, g.history.count()) for g in Guide.objects.all()} == before


def test_a_changed_file_updates_its_guide(content_copy):
    load(content_copy)
    path = content_copy / "cocaine.en.md"
    path.write_text(path.read_text().replace("substance: Cocaine", 'substance: "Cocaine (crack)"'))
    assert "1 updated" in load(content_copy)
    guide = Guide.objects.get(slug="cocaine", language="en")
    assert guide.substance == "Cocaine (crack)"
    assert guide.history.first().history_change_reason == "Updated from file"


def test_staff_edits_are_kept_unless_forced(content_copy):
    load(content_copy)
    guide = Guide.objects.get(slug="xanax", language="en")
    guide.summary = "Edited by staff in the admin."
    guide.save()
    path = content_copy / "xanax.en.md"
    path.write_text(path.read_text().replace("drug_class: Benzodiazepine", "drug_class: Benzodiazepine (sedative)"))

    output = load(content_copy)
    assert "1 kept" in output and "xanax.en" in output
    assert Guide.objects.get(pk=guide.pk).summary == "Edited by staff in the admin."

    assert "1 updated" in load(content_copy, "--force")
    forced = Guide.objects.get(pk=guide.pk)
    assert forced.summary != "Edited by staff in the admin."
    assert forced.drug_class == "Benzodiazepine (sedative)"


def test_one_bad_file_loads_nothing_and_names_file_and_field(content_copy):
    path = content_copy / "opioids.en.md"
    path.write_text(path.read_text().replace("class_group: opioids", "class_group: painkillers"))
    bad_source = content_copy / "cocaine.en.md"
    bad_source.write_text(bad_source.read_text().replace("https://www.cdc.gov", "https://www.example.com", 1))
    with pytest.raises(CommandError) as excinfo:
        load(content_copy)
    message = str(excinfo.value)
    assert "No guide was loaded" in message
    assert "opioids.en.md: class_group: 'painkillers' must be one of" in message
    assert "cocaine.en.md: sources[" in message and "not an allowed publisher" in message
    assert Guide.objects.count() == 0


def test_a_failure_midway_rolls_back_what_was_written(content_copy, monkeypatch):
    from helpline.site.guides import loader

    calls = {"n": 0}
    real_apply = loader._apply

    def apply_then_fail(guide, values, file_hash):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk on fire")
        real_apply(guide, values, file_hash)

    monkeypatch.setattr(loader, "_apply", apply_then_fail)
    with pytest.raises(RuntimeError):
        load(content_copy)
    assert Guide.objects.count() == 0


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("language: en", "language: fr", "language: 'fr' must be one of"),
        ("slug: cocaine", "slug: Cocaine!", "slug: 'Cocaine!' must be lowercase"),
        ("substances_form_value: stimulants", "substances_form_value: crack", "substances_form_value:"),
        ("services: [", "services: [spa, ", "services: types-of-care codes only"),
        (
            "## What it is and its medical use\n",
            "## What it is and its medical use\n\nA fact [99].\n",
            "body: cites [99]",
        ),
        ("## Overdose signs\n\n>", "## Overdose signs\n\nCall Poison Control.\n\n>", "must begin with a blockquote"),
    ],
)
def test_validation_messages_name_the_field(content_copy, old, new, expected):
    path = content_copy / "cocaine.en.md"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CommandError, match="cocaine.en.md") as excinfo:
        load(content_copy)
    assert expected in str(excinfo.value)


def test_front_matter_that_is_not_yaml_is_reported(content_copy):
    (content_copy / "broken.en.md").write_text("no front matter here\n")
    with pytest.raises(CommandError, match="broken.en.md: front matter: the file must start with '---'"):
        load(content_copy)
