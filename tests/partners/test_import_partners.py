"""``import_partners``: validates everything first, imports all or nothing, idempotent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.forms.models import model_to_dict

from helpline.models import HelplineNumber
from partners.models import ClosedDate, Facility, OpeningHours, Partner
from tests.factories import FacilityFactory, HelplineNumberFactory, PartnerFactory

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "partners.json"


def _example() -> dict:
    return json.loads(EXAMPLE.read_text())


def _write(tmp_path: Path, data: object, name: str = "partners.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def _snapshot() -> dict[str, list[dict]]:
    """Every imported row with every value, updated_at included."""
    return {
        "partners": [model_to_dict(p) | {"updated_at": p.updated_at} for p in Partner.objects.order_by("pk")],
        "facilities": [model_to_dict(f) | {"updated_at": f.updated_at} for f in Facility.objects.order_by("pk")],
        "hours": [model_to_dict(h) for h in OpeningHours.objects.order_by("pk")],
        "closed": [model_to_dict(c) for c in ClosedDate.objects.order_by("pk")],
        "numbers": [model_to_dict(n) for n in HelplineNumber.objects.order_by("pk")],
    }


def _import_error(path: Path, capsys) -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("import_partners", str(path))
    return str(excinfo.value) + "\n" + capsys.readouterr().err


def test_example_file_imports_everything(capsys):
    call_command("import_partners", str(EXAMPLE))
    assert "partners: 3 created" in capsys.readouterr().out
    austin = Facility.objects.get(slug="hill-country-austin")
    assert austin.partner.display_name == "Hill Country Recovery Center"
    assert austin.open_24_7 and austin.languages == ["en", "es"] and austin.service_states == ["TX"]
    assert HelplineNumber.objects.get(number="+18665550110").facility == austin
    assert HelplineNumber.objects.get(number="+18665550110").kind == HelplineNumber.Kind.LISTING
    san_marcos = Facility.objects.get(slug="hill-country-san-marcos")
    # Coordinates and time zone left out of the file come from the ZIP.
    assert san_marcos.latitude == pytest.approx(29.8754) and san_marcos.time_zone == "America/Chicago"
    assert san_marcos.service_zip_prefixes == ["786", "787"] and san_marcos.service_radius_miles == 40
    assert san_marcos.hours.count() == 6
    assert list(san_marcos.closed_dates.values_list("date", "note")) == [
        (dt.date(2026, 11, 26), "Thanksgiving"),
        (dt.date(2026, 12, 25), "Christmas Day"),
    ]
    asheville = Facility.objects.get(slug="blue-ridge-asheville")
    assert [(h.weekday, h.opens, h.closes) for h in asheville.hours.filter(weekday=0)] == [
        (0, dt.time(7), dt.time(12)),
        (0, dt.time(13), dt.time(18)),
    ]
    partner = Partner.objects.get(slug="hill-country-recovery")
    assert partner.price_per_call_cents == 4500 and partner.license_verified_on == dt.date(2026, 1, 12)
    assert str(partner.notify_sms) == "+15125550101"


def test_importing_the_same_file_twice_changes_nothing(capsys):
    call_command("import_partners", str(EXAMPLE))
    before = _snapshot()
    capsys.readouterr()
    call_command("import_partners", str(EXAMPLE))
    out = capsys.readouterr().out
    assert "partners: 0 created, 0 updated, 3 unchanged" in out
    assert "facilities: 0 created, 0 updated, 4 unchanged" in out
    assert _snapshot() == before


def test_reimport_updates_changed_values_and_keeps_the_rest(tmp_path):
    call_command("import_partners", str(EXAMPLE))
    data = _example()
    data["partners"][0]["price_per_call_cents"] = 5000
    data["partners"][0]["facilities"][1]["hours"]["saturday"] = [["10:00", "14:00"]]
    data["partners"][0]["facilities"][1]["closed_dates"] = [{"date": "2026-12-25", "note": "Closed"}]
    call_command("import_partners", str(_write(tmp_path, data)))
    assert Partner.objects.get(slug="hill-country-recovery").price_per_call_cents == 5000
    san_marcos = Facility.objects.get(slug="hill-country-san-marcos")
    assert san_marcos.hours.get(weekday=5).opens == dt.time(10)
    assert list(san_marcos.closed_dates.values_list("date", "note")) == [(dt.date(2026, 12, 25), "Closed")]
    assert Partner.objects.count() == 3 and Facility.objects.count() == 4


def test_keys_left_out_leave_staff_changes_alone(tmp_path):
    call_command("import_partners", str(EXAMPLE))
    Partner.objects.filter(slug="blue-ridge-behavioral").update(status="paused", paused_reason="Invoice overdue")
    call_command("import_partners", str(EXAMPLE))  # the file says nothing about this partner's status
    assert Partner.objects.get(slug="blue-ridge-behavioral").status == "paused"


def _bad(mutate) -> dict:
    data = _example()
    mutate(data)
    return data


def _set(path: list, value):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


FACILITY = ["partners", 0, "facilities", 0]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set([*FACILITY, "phone"], "+15555550100"), "field 'phone' = \"+15555550100\": '+15555550100' is not a valid"),
        (_set([*FACILITY, "phone"], "512-555-0110"), "is not an E.164 number"),
        (_set([*FACILITY, "zip_code"], "00000"), "field 'zip_code' = \"00000\": ZIP code 00000 does not exist"),
        (_set([*FACILITY, "zip_code"], "90026"), "ZIP code 90026 is in CA, not TX"),
        (_set([*FACILITY, "time_zone"], "Central"), "'Central' is not an IANA time zone"),
        (_set([*FACILITY, "services"], ["detox", "rehab"]), "Unknown service code(s) ['rehab']"),
        (_set([*FACILITY, "languages"], ["fr"]), "Unknown language code(s) ['fr']"),
        (_set([*FACILITY, "state"], "XX"), "field 'state' = \"XX\""),
        (_set([*FACILITY, "open_24_7"], "yes"), "must be true or false"),
        (_set([*FACILITY, "service_area"], {"zips": ["99999"]}), "These ZIP codes do not exist: 99999"),
        (_set([*FACILITY, "service_area"], {"zip_prefixes": ["000"]}), "No US ZIP code starts with: 000"),
        (_set([*FACILITY, "service_area"], {"states": []}), "Give a service area"),
        (_set([*FACILITY, "listing_numbers"], [{"number": "+1866"}]), "is not an E.164 number"),
        (_set(["partners", 0, "price_per_call_cents"], "45.00"), "'price_per_call_cents' = \"45.00\": must be a whole"),
        (_set(["partners", 0, "price_per_call_cents"], 0), "Ensure this value is greater than or equal to 1"),
        (_set(["partners", 0, "license_verified_on"], "12/01/2026"), "must be a date written YYYY-MM-DD"),
        (_set(["partners", 0, "priority"], 500), "Ensure this value is less than or equal to 99"),
        (_set(["partners", 0, "status"], "on-hold"), "field 'status' = \"on-hold\""),
        (_set(["partners", 0, "zip"], "78701"), "unknown field 'zip'"),
        (_set(["partners", 0, "time_zone"], "EST"), "'EST' is not an IANA time zone"),
        (_set(["partners", 0, "time_zone"], 7), "field 'time_zone' = 7"),
        (_set(["partners", 0, "notify_sms"], "+10000000000"), "is not a valid phone number"),
        (_set(["partners", 1, "slug"], "hill-country-recovery"), "partner slug already used by partners[0]"),
        (_set(["partners", 1, "facilities", 0, "slug"], "hill-country-austin"), "facility slug also used"),
        (
            _set(["partners", 1, "facilities", 0, "listing_numbers"], [{"number": "+18665550110"}]),
            "number also listed for",
        ),
    ],
)
def test_bad_value_is_named_and_nothing_is_imported(tmp_path, capsys, mutate, expected):
    message = _import_error(_write(tmp_path, _bad(mutate)), capsys)
    assert expected in message, message
    assert "Nothing was imported" in message
    assert Partner.objects.count() == 0
    assert Facility.objects.count() == 0
    assert HelplineNumber.objects.count() == 0


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ({"monday": [["08:00", "17:00"], ["16:00", "20:00"]]}, "Monday 08:00-17:00 overlaps Monday 16:00-20:00"),
        ({"monday": [["8am", "5pm"]]}, "'8am' is not a time of day"),
        ({"monday": [["25:00", "17:00"]]}, "'25:00' is not a time of day"),
        ({"funday": [["08:00", "17:00"]]}, "is not a weekday"),
        ({"monday": [["08:00", "08:00"]]}, "opening and closing times are the same"),
        ({"monday": ["08:00-17:00"]}, 'each span must be ["opens", "closes"]'),
        ({}, 'give weekly "hours" or set "open_24_7": true'),
    ],
)
def test_bad_hours_are_named_and_nothing_is_imported(tmp_path, capsys, hours, expected):
    data = _example()
    data["partners"][0]["facilities"][1]["hours"] = hours
    message = _import_error(_write(tmp_path, data), capsys)
    assert expected in message, message
    assert 'partner "hill-country-recovery"' in message and "hill-country-san-marcos" in message
    assert Facility.objects.count() == 0


def test_error_names_partner_facility_field_and_value(tmp_path, capsys):
    data = _bad(_set([*FACILITY, "zip_code"], "00000"))
    message = _import_error(_write(tmp_path, data), capsys)
    assert (
        'partner "hill-country-recovery" (partners[0]), facilities[0] "hill-country-austin": '
        "field 'zip_code' = \"00000\": ZIP code 00000 does not exist." in message
    )


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    data = _example()
    data["partners"][0]["facilities"][0]["zip_code"] = "00000"
    data["partners"][2]["price_per_call_cents"] = -5
    message = _import_error(_write(tmp_path, data), capsys)
    assert "ZIP code 00000 does not exist" in message
    assert 'partner "sunrise-pathways"' in message
    assert "2 problem(s)" in message


def test_a_bad_file_changes_nothing_already_imported(tmp_path, capsys):
    call_command("import_partners", str(EXAMPLE))
    before = _snapshot()
    data = _example()
    data["partners"][0]["price_per_call_cents"] = 9900  # a valid change ...
    data["partners"][2]["facilities"][0]["phone"] = "not a phone"  # ... and a bad one
    _import_error(_write(tmp_path, data), capsys)
    assert _snapshot() == before


def test_facility_slug_of_another_partner_is_refused(tmp_path, capsys):
    FacilityFactory(slug="hill-country-austin", partner=PartnerFactory(slug="someone-else"))
    message = _import_error(_write(tmp_path, _example()), capsys)
    assert "this facility belongs to partner 'someone-else'" in message
    assert Partner.objects.count() == 1


def test_general_number_cannot_become_a_listing_number(tmp_path, capsys):
    HelplineNumberFactory(number="+18665550110", kind=HelplineNumber.Kind.GENERAL)
    message = _import_error(_write(tmp_path, _example()), capsys)
    assert "field 'listing_numbers.number' = \"+18665550110\": is already a general helpline number" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"partners": [', "is not valid JSON: Expecting value at line 1, column 15"),
        ("[]", 'must be a JSON object with a "partners" list'),
        ('{"partners": []}', "nothing to import"),
        ('{"partners": [42]}', 'each partner must be an object with a "slug"'),
    ],
)
def test_malformed_file_gets_a_clear_error(tmp_path, capsys, content, expected):
    message = _import_error(_write(tmp_path, content), capsys)
    assert expected in message, message


def test_missing_file_gets_a_clear_error(tmp_path, capsys):
    message = _import_error(tmp_path / "nope.json", capsys)
    assert "File not found:" in message and "nope.json" in message


def test_dry_run_writes_nothing(capsys):
    call_command("import_partners", str(EXAMPLE), "--dry-run")
    assert "Would import: partners: 3 created" in capsys.readouterr().out
    assert Partner.objects.count() == 0


def test_command_exits_non_zero_on_a_bad_file(tmp_path):
    import subprocess
    import sys

    path = _write(tmp_path, '{"partners": "none"}')
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    result = subprocess.run(
        [sys.executable, str(manage), "import_partners", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Nothing was imported" in result.stderr


def test_partner_time_zone_is_imported_and_blank_follows_the_first_facility(tmp_path):
    data = _example()
    data["partners"][0]["time_zone"] = "America/Denver"
    data["partners"][1].pop("time_zone", None)
    call_command("import_partners", str(_write(tmp_path, data)))
    first, second = (Partner.objects.get(slug=p["slug"]) for p in data["partners"][:2])
    assert (first.time_zone, first.caps_time_zone()) == ("America/Denver", "America/Denver")
    first_facility = second.facilities.order_by("id").first()
    assert second.time_zone == "" and second.caps_time_zone() == first_facility.time_zone
