"""import_partners with hostile files: a clear error naming the place, nothing written, never a traceback."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from partners.models import Facility, Partner

pytestmark = pytest.mark.django_db

EXAMPLE = json.loads((Path(__file__).resolve().parents[2] / "examples" / "partners.json").read_text())


def _import(tmp_path: Path, text: str) -> tuple[str, str]:
    path = tmp_path / "partners.json"
    path.write_text(text, encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_partners", str(path), stderr=err, stdout=io.StringIO())
    return str(excinfo.value), err.getvalue()


def _example_with(change) -> str:
    data = copy.deepcopy(EXAMPLE)
    change(data)
    return json.dumps(data)


def test_deeply_nested_json_is_a_clear_error_not_a_recursion_traceback(tmp_path):
    message, problems = _import(tmp_path, "[" * 100_000 + "]" * 100_000)

    assert "Nothing was imported" in message
    assert "nested too deeply" in problems
    assert Partner.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["partners"][0].__setitem__("display_name", "Hill\x00Country"), "display_name"),
        (lambda d: d["partners"][0]["facilities"][0].__setitem__("city", "Aus\x00tin"), "city"),
        (lambda d: d["partners"][0]["facilities"][0].__setitem__("slug", "hill\x00austin"), "slug"),
        (lambda d: d["partners"][0].__setitem__("slug", "hill\x00country"), "slug"),
        (lambda d: d["partners"][0]["facilities"][0]["listing_numbers"][0].__setitem__("label", "x\x00"), "label"),
        (lambda d: d["partners"][0]["facilities"][0]["service_area"].__setitem__("states", ["T\x00X"]), "states"),
    ],
)
def test_nul_character_in_a_string_names_the_field_and_writes_nothing(tmp_path, change, field):
    # PostgreSQL text cannot store NUL: the importer must say which field, not fail in the database.
    message, problems = _import(tmp_path, _example_with(change))

    assert "NUL" in problems
    assert field in problems
    assert "database" not in problems
    assert Partner.objects.count() == 0
    assert Facility.objects.count() == 0
