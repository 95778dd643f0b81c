"""Onboard partners and their facilities from one JSON file (format: docs/import-format.md).

Two phases, so a bad file changes nothing:

1. ``plan`` reads the whole file into unsaved (or modified, unsaved) model
   objects and validates every value: JSON types, unknown keys, the model
   validators (``full_clean``), real E.164 numbers, ZIPs that exist and lie in
   the facility's state, IANA time zones, ``HH:MM`` hours that do not overlap,
   service codes, and slugs or numbers repeated in the file or owned by
   someone else. Every problem is collected, each naming the partner, the
   field and the value.
2. ``apply`` writes the plan in one transaction.

Rows are matched by slug (partners, facilities) and by number (listing
numbers), and a row is saved only when a value differs, so importing the same
file twice changes nothing, not even ``updated_at``. A key left out of the
file leaves that value as it is (new rows get the model default); facilities,
numbers and partners missing from the file are never deleted.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction

from helpline.models import HelplineNumber
from helpline.phones import validate_e164_number
from partners.directory.validation import (
    parse_hhmm,
    validate_iana_timezone,
    validate_opening_spans,
    validate_real_zip,
    validate_real_zip_prefixes,
    validate_real_zips,
    validate_zip_in_state,
    zip_details,
)
from partners.models import ClosedDate, Facility, OpeningHours, Partner
from partners.webhooks.delivery import new_secret as new_webhook_secret

WEEKDAY_KEYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip

# JSON key -> expected type. "int?" and "date?" also accept null.
PARTNER_FIELDS: dict[str, str] = {
    "slug": "str", "legal_name": "str", "display_name": "str", "status": "str", "paused_reason": "str",
    "price_per_call_cents": "int", "min_billable_seconds": "int", "repeat_caller_window_days": "int",
    "daily_call_cap": "int?", "monthly_call_cap": "int?", "concurrent_call_cap": "int?",
    "monthly_budget_cents": "int?", "priority": "int", "weight": "int", "state_license_number": "str",
    "legitscript_certified": "bool", "joint_commission_accredited": "bool", "carf_accredited": "bool",
    "license_verified_on": "date?", "notify_email": "str", "notify_sms": "phone?", "webhook_url": "str",
    "webhook_secret": "str", "time_zone": "str",
}  # fmt: skip
FACILITY_FIELDS: dict[str, str] = {
    "slug": "str", "name": "str", "is_active": "bool", "address_line": "str", "city": "str", "state": "str",
    "zip_code": "str", "latitude": "number", "longitude": "number", "phone": "phone", "time_zone": "str",
    "open_24_7": "bool", "services": "list", "languages": "list", "description": "str",
}  # fmt: skip
FACILITY_EXTRA_KEYS = {"service_area", "hours", "closed_dates", "listing_numbers"}
AREA_FIELDS = {"states": "service_states", "zips": "service_zips", "zip_prefixes": "service_zip_prefixes"}
NUMBER_FIELDS = {"number": "phone", "label": "str", "is_active": "bool"}


class PartnerImportError(Exception):
    """The file cannot be imported; ``problems`` lists every reason, each naming partner, field and value."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class ImportReport:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        bucket = self.counts.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})
        bucket[outcome] += 1

    def summary(self) -> str:
        return "; ".join(
            f"{kind}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
            for kind, c in self.counts.items()
        )


@dataclass
class _NumberPlan:
    number: HelplineNumber
    outcome: str


@dataclass
class _FacilityPlan:
    facility: Facility
    outcome: str
    hours: list[tuple[int, dt.time, dt.time]] | None  # None: leave as they are
    closed_dates: dict[dt.date, str] | None
    numbers: list[_NumberPlan]


@dataclass
class _PartnerPlan:
    partner: Partner
    outcome: str
    facilities: list[_FacilityPlan]


class _Problems:
    """Collects problems with the place in the file they come from."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str, *, key: str | None = None, value: object = None) -> None:
        if key is None:
            self.items.append(f"{where}: {message}")
        else:
            self.items.append(f"{where}: field {key!r} = {json.dumps(value, default=str)}: {message}")

    def from_validation(self, where: str, exc: ValidationError, values: dict[str, Any]) -> None:
        if hasattr(exc, "error_dict"):
            for key, errors in exc.message_dict.items():
                for message in errors:
                    if key == NON_FIELD_ERRORS:
                        self.add(where, message)
                    else:
                        self.add(where, message, key=key, value=values.get(key))
        else:
            for message in exc.messages:
                self.add(where, message)


def load_partner_file(path: str | Path) -> Any:
    """Read the JSON file; a missing, unreadable or malformed file is a clear error."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PartnerImportError([f"File not found: {file_path}"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PartnerImportError([f"Cannot read {file_path}: {exc}"]) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PartnerImportError(
            [f"{file_path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."]
        ) from exc
    except RecursionError as exc:
        # The C decoder recurses per nesting level; a pathological file must not end in a traceback.
        raise PartnerImportError([f"{file_path} is nested too deeply to be a partner file."]) from exc


def _typed(kind: str, value: Any) -> Any:
    """Check a JSON value against the expected type; return the Python value or raise ValidationError."""
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None:
        if nullable:
            return None if kind != "phone" else ""
        raise ValidationError("must not be null")
    if kind in ("str", "phone"):
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; catching it here names the field instead of failing the write.
            raise ValidationError("must not contain NUL (\\u0000) characters")
        value = value.strip()
        if kind == "phone" and (value or not nullable):
            validate_e164_number(value)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be a whole number")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("must be a number")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value
    if kind == "date":
        if not isinstance(value, str):
            raise ValidationError("must be a date written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError("must be a date written YYYY-MM-DD") from exc
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("must be a list of strings")
        if any("\x00" in v for v in value):
            raise ValidationError("must not contain NUL (\\u0000) characters")
        return value
    raise AssertionError(kind)  # pragma: no cover


def _assign(obj: models.Model, data: dict[str, Any], spec: dict[str, str], where: str, problems: _Problems) -> set[str]:
    """Set each given key on ``obj`` after its type check; returns the names of fields whose value changed."""
    changed: set[str] = set()
    for key, value in data.items():
        if key not in spec:
            continue
        try:
            new = _typed(spec[key], value)
        except ValidationError as exc:
            problems.add(where, "; ".join(exc.messages), key=key, value=value)
            continue
        old = getattr(obj, key)
        if key in ("phone", "notify_sms"):
            old = str(old or "")
        if old != new:
            setattr(obj, key, new)
            changed.add(key)
    return changed


def _unknown_keys(data: dict[str, Any], allowed: set[str], where: str, problems: _Problems) -> None:
    for key in sorted(set(data) - allowed):
        problems.add(where, f"unknown field {key!r} (allowed: {', '.join(sorted(allowed))})")


def _plan_hours(raw: Any, where: str, problems: _Problems) -> list[tuple[int, dt.time, dt.time]] | None:
    if not isinstance(raw, dict):
        problems.add(where, 'must be an object like {"monday": [["08:00", "17:00"]]}', key="hours", value=raw)
        return None
    spans: list[tuple[int, dt.time, dt.time]] = []
    seen_days: set[int] = set()
    for day, day_spans in raw.items():
        weekday = WEEKDAY_KEYS.get(str(day).lower())
        if weekday is None:
            problems.add(where, "is not a weekday (monday ... sunday)", key=f"hours.{day}", value=day)
            continue
        if weekday in seen_days:
            problems.add(where, "weekday given twice", key=f"hours.{day}", value=day)
            continue
        seen_days.add(weekday)
        if not isinstance(day_spans, list):
            problems.add(where, 'must be a list of ["HH:MM", "HH:MM"] pairs', key=f"hours.{day}", value=day_spans)
            continue
        for pair in day_spans:
            if not (isinstance(pair, list) and len(pair) == 2):
                problems.add(where, 'each span must be ["opens", "closes"]', key=f"hours.{day}", value=pair)
                continue
            try:
                spans.append((weekday, parse_hhmm(pair[0]), parse_hhmm(pair[1])))
            except ValidationError as exc:
                problems.add(where, "; ".join(exc.messages), key=f"hours.{day}", value=pair)
    try:
        validate_opening_spans(spans)
    except ValidationError as exc:
        for message in exc.messages:
            problems.add(where, message, key="hours", value=raw)
    return sorted(spans)


def _plan_closed_dates(raw: Any, where: str, problems: _Problems) -> dict[dt.date, str] | None:
    if not isinstance(raw, list):
        problems.add(where, 'must be a list of {"date": "YYYY-MM-DD", "note": "..."}', key="closed_dates", value=raw)
        return None
    dates: dict[dt.date, str] = {}
    for item in raw:
        if not isinstance(item, dict) or "date" not in item or set(item) - {"date", "note"}:
            problems.add(
                where, 'each entry must be {"date": "YYYY-MM-DD", "note": "..."}', key="closed_dates", value=item
            )
            continue
        try:
            day = _typed("date", item["date"])
            note = _typed("str", item.get("note", ""))
        except ValidationError as exc:
            problems.add(where, "; ".join(exc.messages), key="closed_dates", value=item)
            continue
        if day in dates:
            problems.add(where, "date listed twice", key="closed_dates", value=item["date"])
        if len(note) > ClosedDate._meta.get_field("note").max_length:  # type: ignore[operator]
            problems.add(where, "note is longer than 120 characters", key="closed_dates", value=note)
        dates[day] = note
    return dates


def _plan_area(facility: Facility, raw: Any, where: str, problems: _Problems) -> set[str]:
    changed: set[str] = set()
    if not isinstance(raw, dict):
        problems.add(
            where,
            "must be an object with states, zips, zip_prefixes and/or radius_miles",
            key="service_area",
            value=raw,
        )
        return changed
    _unknown_keys(raw, {*AREA_FIELDS, "radius_miles"}, f"{where}, service_area", problems)
    for key, attr in AREA_FIELDS.items():
        value = raw.get(key, [])
        try:
            value = _typed("list", value)
            if key == "zips":
                validate_real_zips(value)
            elif key == "zip_prefixes":
                validate_real_zip_prefixes(value)
        except ValidationError as exc:
            problems.add(where, "; ".join(exc.messages), key=f"service_area.{key}", value=value)
            continue
        if getattr(facility, attr) != value:
            setattr(facility, attr, value)
            changed.add(attr)
    radius = raw.get("radius_miles")
    if radius is not None and (isinstance(radius, bool) or not isinstance(radius, int) or radius < 1):
        problems.add(
            where, "must be a whole number of miles (1 or more), or null", key="service_area.radius_miles", value=radius
        )
    elif facility.service_radius_miles != radius:
        facility.service_radius_miles = radius
        changed.add("service_radius_miles")
    return changed


def _plan_numbers(
    facility: Facility, raw: Any, where: str, problems: _Problems, seen_numbers: dict[str, str]
) -> list[_NumberPlan]:
    plans: list[_NumberPlan] = []
    if not isinstance(raw, list):
        problems.add(where, 'must be a list of {"number": "+1...", "label": "..."}', key="listing_numbers", value=raw)
        return plans
    for item in raw:
        if not isinstance(item, dict) or "number" not in item:
            problems.add(
                where, 'each entry must be {"number": "+1...", "label": "..."}', key="listing_numbers", value=item
            )
            continue
        number_where = f"{where}, listing number {item.get('number')!r}"
        _unknown_keys(item, set(NUMBER_FIELDS), number_where, problems)
        try:
            text = _typed("phone", item["number"])
        except ValidationError as exc:
            problems.add(where, "; ".join(exc.messages), key="listing_numbers.number", value=item["number"])
            continue
        if text in seen_numbers:
            problems.add(
                where, f"number also listed for {seen_numbers[text]}", key="listing_numbers.number", value=text
            )
            continue
        seen_numbers[text] = where
        existing = HelplineNumber.objects.select_related("facility").filter(number=text).first()
        if existing is not None and (existing.kind != HelplineNumber.Kind.LISTING or existing.facility_id is None):
            problems.add(where, "is already a general helpline number", key="listing_numbers.number", value=text)
            continue
        if existing is not None and existing.facility is not None and existing.facility.slug != facility.slug:
            problems.add(
                where, f"already rings facility {existing.facility.slug!r}", key="listing_numbers.number", value=text
            )
            continue
        number = existing or HelplineNumber(number=text, kind=HelplineNumber.Kind.LISTING, facility=facility)
        changed = _assign(
            number, {k: v for k, v in item.items() if k != "number"}, NUMBER_FIELDS, number_where, problems
        )
        plans.append(_NumberPlan(number, "created" if existing is None else ("updated" if changed else "unchanged")))
    return plans


def _plan_facility(
    partner: Partner,
    raw: Any,
    where: str,
    problems: _Problems,
    seen_slugs: dict[str, str],
    seen_numbers: dict[str, str],
) -> _FacilityPlan | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("slug"), str) or not raw["slug"].strip():
        problems.add(where, 'each facility must be an object with a "slug"')
        return None
    slug = raw["slug"].strip()
    if "\x00" in slug:
        problems.add(where, "must not contain NUL (\\u0000) characters", key="slug", value=slug)
        return None
    where = f'{where} "{slug}"'
    _unknown_keys(raw, set(FACILITY_FIELDS) | FACILITY_EXTRA_KEYS, where, problems)
    if slug in seen_slugs:
        problems.add(where, f"facility slug also used {seen_slugs[slug]}", key="slug", value=slug)
        return None
    seen_slugs[slug] = f"in {where}"
    existing = Facility.objects.select_related("partner").filter(slug=slug).first()
    if existing is not None and existing.partner.slug != partner.slug:
        problems.add(where, f"this facility belongs to partner {existing.partner.slug!r}", key="slug", value=slug)
        return None
    facility = existing or Facility(slug=slug)
    old_zip = facility.zip_code
    changed = _assign(facility, raw, FACILITY_FIELDS, where, problems)
    if "time_zone" in changed or (existing is None and "time_zone" in raw):
        try:
            validate_iana_timezone(facility.time_zone)
        except ValidationError as exc:
            problems.add(where, "; ".join(exc.messages), key="time_zone", value=raw.get("time_zone"))
    if "zip_code" in changed or existing is None:
        try:
            validate_real_zip(facility.zip_code)
            validate_zip_in_state(zip_code=facility.zip_code, state=facility.state)
        except ValidationError as exc:
            problems.add(where, "; ".join(exc.messages), key="zip_code", value=raw.get("zip_code"))
    elif "state" in changed:
        try:
            validate_zip_in_state(zip_code=facility.zip_code, state=facility.state)
        except ValidationError as exc:
            problems.add(where, "; ".join(exc.messages), key="state", value=raw.get("state"))
    # Coordinates and time zone default to the ZIP's when the file leaves them out.
    details = zip_details(facility.zip_code) if (existing is None or facility.zip_code != old_zip) else None
    if details is not None:
        for key, value in (("latitude", float(details["lat"])), ("longitude", float(details["long"]))):
            if key not in raw and getattr(facility, key) != value:
                setattr(facility, key, value)
                changed.add(key)
        if "time_zone" not in raw and existing is None:
            facility.time_zone = details["timezone"]
    if "service_area" in raw:
        changed |= _plan_area(facility, raw["service_area"], where, problems)
    hours = _plan_hours(raw["hours"], where, problems) if "hours" in raw else None
    closed = _plan_closed_dates(raw["closed_dates"], where, problems) if "closed_dates" in raw else None
    # Hours must agree with the 24/7 flag once the file is applied.
    effective = (
        hours
        if hours is not None
        else ([(h.weekday, h.opens, h.closes) for h in existing.hours.all()] if existing is not None else [])
    )
    if facility.open_24_7 and effective:
        problems.add(
            where,
            "a 24/7 facility has no weekly hours; remove them or set open_24_7 to false",
            key="hours",
            value=raw.get("hours"),
        )
    if not facility.open_24_7 and not effective:
        problems.add(where, 'give weekly "hours" or set "open_24_7": true', key="open_24_7", value=facility.open_24_7)
    try:
        facility.full_clean(exclude=["partner"])
    except ValidationError as exc:
        values = dict(raw)
        area = raw.get("service_area")
        if isinstance(area, dict):
            values.update({AREA_FIELDS.get(k, "service_radius_miles"): v for k, v in area.items()})
        problems.from_validation(where, exc, values)
    numbers = (
        _plan_numbers(facility, raw["listing_numbers"], where, problems, seen_numbers)
        if "listing_numbers" in raw
        else []
    )
    outcome = "created" if existing is None else ("updated" if changed else "unchanged")
    return _FacilityPlan(facility, outcome, hours, closed, numbers)


def plan(data: Any) -> list[_PartnerPlan]:
    """Validate the whole file; raise ``PartnerImportError`` listing every problem, or return the plan."""
    problems = _Problems()
    if not isinstance(data, dict) or not isinstance(data.get("partners"), list):
        raise PartnerImportError(['The file must be a JSON object with a "partners" list: {"partners": [...]}'])
    _unknown_keys(data, {"partners"}, "file", problems)
    if not data["partners"]:
        raise PartnerImportError(['The "partners" list is empty: nothing to import.'])
    plans: list[_PartnerPlan] = []
    seen_partners: dict[str, str] = {}
    seen_facilities: dict[str, str] = {}
    seen_numbers: dict[str, str] = {}
    for index, raw in enumerate(data["partners"]):
        where = f"partners[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("slug"), str) or not raw["slug"].strip():
            problems.add(where, 'each partner must be an object with a "slug"')
            continue
        slug = raw["slug"].strip()
        if "\x00" in slug:
            problems.add(where, "must not contain NUL (\\u0000) characters", key="slug", value=slug)
            continue
        where = f'partner "{slug}" ({where})'
        _unknown_keys(raw, {*PARTNER_FIELDS, "facilities"}, where, problems)
        if slug in seen_partners:
            problems.add(where, f"partner slug already used by {seen_partners[slug]}", key="slug", value=slug)
            continue
        seen_partners[slug] = f"partners[{index}]"
        existing = Partner.objects.filter(slug=slug).first()
        partner = existing or Partner(slug=slug)
        changed = _assign(partner, raw, PARTNER_FIELDS, where, problems)
        if "time_zone" in raw and partner.time_zone:
            try:
                validate_iana_timezone(partner.time_zone)
            except ValidationError as exc:
                problems.add(where, "; ".join(exc.messages), key="time_zone", value=raw.get("time_zone"))
        if partner.webhook_url and not partner.webhook_secret:
            partner.webhook_secret = new_webhook_secret()  # made here; the partner rotates it in the portal to see it
        try:
            partner.full_clean()
        except ValidationError as exc:
            problems.from_validation(where, exc, raw)
        facilities: list[_FacilityPlan] = []
        raw_facilities = raw.get("facilities", [])
        if not isinstance(raw_facilities, list):
            problems.add(where, "must be a list of facilities", key="facilities", value=raw_facilities)
            raw_facilities = []
        for f_index, raw_facility in enumerate(raw_facilities):
            facility_plan = _plan_facility(
                partner, raw_facility, f"{where}, facilities[{f_index}]", problems, seen_facilities, seen_numbers
            )
            if facility_plan is not None:
                facilities.append(facility_plan)
        outcome = "created" if existing is None else ("updated" if changed else "unchanged")
        plans.append(_PartnerPlan(partner, outcome, facilities))
    if problems.items:
        raise PartnerImportError(problems.items)
    return plans


def _apply_facility(facility_plan: _FacilityPlan, partner: Partner, report: ImportReport) -> None:
    facility = facility_plan.facility
    facility.partner = partner
    if facility_plan.outcome != "unchanged":
        facility.save()
    report.count("facilities", facility_plan.outcome)
    if facility_plan.hours is not None:
        current = sorted((h.weekday, h.opens, h.closes) for h in facility.hours.all())
        if current != facility_plan.hours:
            facility.hours.all().delete()
            for weekday, opens, closes in facility_plan.hours:
                OpeningHours.objects.create(facility=facility, weekday=weekday, opens=opens, closes=closes)
            report.count("weekly hours", "updated" if current else "created")
        else:
            report.count("weekly hours", "unchanged")
    if facility_plan.closed_dates is not None:
        current_dates = {c.date: c for c in facility.closed_dates.all()}
        for day, stale in current_dates.items():
            if day not in facility_plan.closed_dates:
                stale.delete()
        for day, note in facility_plan.closed_dates.items():
            row = current_dates.get(day)
            if row is None:
                ClosedDate.objects.create(facility=facility, date=day, note=note)
                report.count("closed dates", "created")
            elif row.note != note:
                row.note = note
                row.save(update_fields=["note"])
                report.count("closed dates", "updated")
            else:
                report.count("closed dates", "unchanged")
    for number_plan in facility_plan.numbers:
        number_plan.number.facility = facility
        if number_plan.outcome != "unchanged":
            number_plan.number.full_clean()
            number_plan.number.save()
        report.count("listing numbers", number_plan.outcome)


def apply(plans: list[_PartnerPlan]) -> ImportReport:
    """Write a validated plan in one transaction: all of it or, on any database error, none."""
    report = ImportReport()
    try:
        with transaction.atomic():
            for partner_plan in plans:
                partner = partner_plan.partner
                if partner_plan.outcome != "unchanged":
                    partner.save()
                report.count("partners", partner_plan.outcome)
                for facility_plan in partner_plan.facilities:
                    _apply_facility(facility_plan, partner, report)
    except (IntegrityError, ValidationError) as exc:
        raise PartnerImportError([f"Nothing was imported: the database refused a row ({exc})."]) from exc
    except DatabaseError as exc:
        raise PartnerImportError([f"Nothing was imported: database error ({exc})."]) from exc
    return report


def import_partners(*, data: Any, dry_run: bool = False) -> ImportReport:
    """Validate everything, then import all of it in one transaction (or, with ``dry_run``, nothing)."""
    plans = plan(data)
    if dry_run:
        report = ImportReport()
        for partner_plan in plans:
            report.count("partners", partner_plan.outcome)
            for facility_plan in partner_plan.facilities:
                report.count("facilities", facility_plan.outcome)
        return report
    return apply(plans)
