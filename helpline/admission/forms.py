"""The admission request form, and the field checks the API shares with it.

Every check answers in plain words a worried person can act on, and the form
keeps what was typed. The phone number and first name go only into the
encrypted fields (see ``helpline.admission.services``).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
import unicodedata
import zoneinfo
from dataclasses import dataclass

import phonenumbers
import zipcodes
from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberType

from routing.location import resolve_location
from routing.vocabulary import LANGUAGE_CHOICES, SERVICE_CHOICES, written_label

SERVICE_FORM_CHOICES = [*SERVICE_CHOICES, ("unsure", "Not sure")]
SUBSTANCE_CHOICES = [
    ("alcohol", gettext_noop("Alcohol")),
    ("opioids", gettext_noop("Opioids (heroin, fentanyl, pain pills)")),
    ("stimulants", gettext_noop("Stimulants (meth, cocaine)")),
    ("benzodiazepines", gettext_noop("Benzodiazepines (Xanax, Valium)")),
    ("cannabis", gettext_noop("Cannabis")),
    ("other", gettext_noop("Something else")),
]
PAYMENT_CHOICES = [
    ("", gettext_noop("Prefer not to say")),
    ("private", gettext_noop("Private insurance")),
    ("medicaid", gettext_noop("Medicaid")),
    ("medicare", gettext_noop("Medicare")),
    ("self_pay", gettext_noop("Self-pay")),
    ("none", gettext_noop("None")),
]
# Time windows, in the caller's own time zone: (start hour, end hour, label).
# Labels are marked with gettext_noop so makemessages keeps them; the form translates them as it renders.
WINDOW_SLOTS = {
    "morning": (9, 12, gettext_noop("Morning, 9 am to noon")),
    "afternoon": (12, 17, gettext_noop("Afternoon, noon to 5 pm")),
    "evening": (17, 20, gettext_noop("Evening, 5 pm to 8 pm")),
}
WINDOW_MAX_DAYS_AHEAD = 14
NAME_MAX_LENGTH = 30
# Letters (any script, with their combining marks: Hindi vowel signs, Vietnamese tones), spaces, hyphens,
# apostrophes and dots: names and initials, never markup or formulas. A name starts with a letter, so
# it can never open a spreadsheet formula (=, +, -, @).
_NAME_PUNCTUATION = frozenset(" .'’-")
_ZIP_RE = re.compile(r"^([0-9]{5})(?:-[0-9]{4})?$")  # ASCII digits only
FORM_STAMP_SALT = "helpline.admission.services.form-stamp"
FORM_STAMP_MAX_AGE_SECONDS = 2 * 60 * 60

DIALABLE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _is_name(name: str) -> bool:
    if not name or not unicodedata.category(name[0]).startswith("L"):
        return False
    return all(unicodedata.category(ch)[0] in "LM" or ch in _NAME_PUNCTUATION for ch in name)


def clean_first_name(raw: str) -> str:
    # NFKC: a decomposed "é" (e + U+0301, as some keyboards and pastes send it) and full-width letters
    # are the same name as their composed, ordinary forms; checked and stored in that form.
    name = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    if not name:
        raise ValidationError(gettext("Enter a first name or initials, so the caller knows who to ask for."))
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            gettext("Use a first name or initials only, up to %(count)s letters.") % {"count": NAME_MAX_LENGTH}
        )
    if not _is_name(name):
        raise ValidationError(gettext("Use letters only: a first name or initials."))
    return name


def is_fictional_number(number: phonenumbers.PhoneNumber) -> bool:
    """NXX-555-0100 to NXX-555-0199: reserved for fiction in the North American plan, never a person's line."""
    national = f"{number.national_number:010d}"
    return number.country_code == 1 and national[3:6] == "555" and national[6:8] == "01"


def clean_callback_phone(raw: str) -> str:
    """The number in E.164 if it is a real US number a person can answer; otherwise a plain error."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(gettext("Enter the phone number we should call, with area code."))
    if len(text) > 30:
        raise ValidationError(gettext("That is too long for a phone number. Enter 10 digits, like 512-555-0123."))
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        raise ValidationError(
            gettext("That does not look like a phone number. Enter 10 digits, like 512-555-0123.")
        ) from None
    if number.extension:
        # The bridged callback dials the number only: an extension would be dropped and the call would
        # reach a switchboard or a stranger's desk instead of the person.
        raise ValidationError(
            gettext("We cannot dial an extension. Enter a direct number that rings the person, like 512-555-0123.")
        )
    us_only = gettext("We can only call US phone numbers. Enter a US number with area code.")
    if number.country_code != 1:
        raise ValidationError(us_only)
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(gettext("That is not a working US phone number. Check the area code and the digits."))
    if phonenumbers.region_code_for_number(number) not in ("US", "PR"):
        raise ValidationError(us_only)
    if is_fictional_number(number):
        raise ValidationError(
            gettext(
                "Numbers from 555-0100 to 555-0199 are for films and examples and cannot ring anyone. "
                "Enter the number of the phone you will answer."
            )
        )
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.TOLL_FREE:
        raise ValidationError(
            gettext(
                "Toll-free numbers (800, 888 and so on) cannot take our call. "
                "Enter the number of the phone you will answer."
            )
        )
    if kind in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST):
        raise ValidationError(
            gettext("Premium-rate numbers (900 and so on) cannot take our call. Enter a mobile or home number.")
        )
    if kind not in DIALABLE_TYPES:
        raise ValidationError(gettext("That kind of number cannot take our call. Enter a mobile or home phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class PlacedZip:
    zip_code: str
    state: str
    label: str
    time_zone: str


def zip_time_zone(zip_code: str, state: str) -> str:
    """The IANA time zone of a ZIP (from the offline ZIP table), so windows mean the caller's local time."""
    try:
        rows = zipcodes.matching(zip_code)
    except (TypeError, ValueError):
        rows = []
    for row in rows:
        name = str(row.get("timezone") or "")
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return {"HI": "Pacific/Honolulu", "AK": "America/Anchorage", "PR": "America/Puerto_Rico"}.get(
        state, "America/New_York"
    )


def clean_zip(raw: str) -> PlacedZip:
    text = (raw or "").strip()
    if not text:
        raise ValidationError(gettext("Enter the ZIP code where the person needing care is, like 78701."))
    m = _ZIP_RE.match(text)
    if m is None:
        raise ValidationError(gettext("Enter a 5-digit ZIP code, like 78701 (or ZIP+4, like 78701-1234)."))
    location = resolve_location(given_zip=m.group(1))
    if location.source != "zip" or not location.state:
        raise ValidationError(
            gettext("We could not find ZIP code %(zip)s. Check it and try again.") % {"zip": m.group(1)}
        )
    return PlacedZip(
        zip_code=location.zip_code,
        state=location.state,
        label=location.label,
        time_zone=zip_time_zone(location.zip_code, location.state),
    )


def window_bounds(*, day: dt.date, slot: str, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC start and end of a named window on ``day`` in the caller's zone."""
    start_hour, end_hour, _label = WINDOW_SLOTS[slot]
    tz = zoneinfo.ZoneInfo(time_zone)
    start = dt.datetime.combine(day, dt.time(start_hour), tzinfo=tz)
    end = dt.datetime.combine(day, dt.time(end_hour), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def clean_window(
    *, day: dt.date | None, slot: str, time_zone: str, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """Check a requested window against the caller's local today; returns UTC bounds.

    Raises ``ValidationError`` with a dict of field -> message (``window_date`` / ``window_slot``).
    """
    errors: dict[str, str] = {}
    if day is None:
        errors["window_date"] = gettext("Choose the day we should call.")
    if slot not in WINDOW_SLOTS:
        errors["window_slot"] = gettext("Choose a time of day: morning, afternoon or evening.")
    if errors or day is None:
        raise ValidationError(errors)
    local_today = now.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
    if day < local_today:
        raise ValidationError({"window_date": gettext("That day has passed. Choose today or a later day.")})
    if day > local_today + dt.timedelta(days=WINDOW_MAX_DAYS_AHEAD):
        raise ValidationError(
            {"window_date": gettext("Choose a day within the next %(days)s days.") % {"days": WINDOW_MAX_DAYS_AHEAD}}
        )
    start, end = window_bounds(day=day, slot=slot, time_zone=time_zone)
    if end <= now + dt.timedelta(minutes=15):
        raise ValidationError(
            {"window_slot": gettext("That time has already passed today. Choose a later time or day.")}
        )
    return start, end


def new_form_stamp(now: float | None = None) -> str:
    """A signed "form shown at" time, so a submission faster than a person can type is spotted."""
    # The nonce makes every stamp distinct, so "used once" is about this page, not this second.
    return signing.dumps(
        {"t": now if now is not None else time.time(), "n": secrets.token_hex(8)}, salt=FORM_STAMP_SALT
    )


def form_age_seconds(stamp: str, now: float | None = None) -> float | None:
    """Seconds since the form was shown, or None if the stamp is missing, forged or too old."""
    try:
        data = signing.loads(stamp or "", salt=FORM_STAMP_SALT, max_age=FORM_STAMP_MAX_AGE_SECONDS)
        shown = float(data["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    age = (now if now is not None else time.time()) - shown
    if age > FORM_STAMP_MAX_AGE_SECONDS:
        return None
    return age


def min_fill_seconds() -> float:
    return float(getattr(settings, "ADMISSION_MIN_FILL_SECONDS", 3))


def _service_choices() -> list[tuple[str, str]]:
    """The kinds of care in the page's language (labels from routing.vocabulary), evaluated per form."""
    language = (translation.get_language() or "en")[:2]
    codes = [code for code, _label in SERVICE_FORM_CHOICES]
    return [("", gettext("Choose one")), *[(code, written_label(code, language=language)) for code in codes]]


def page_language() -> str:
    """The language of the page being shown ("es" under /es/), the call's language unless the person changes it."""
    return "es" if (translation.get_language() or "en")[:2] == "es" else "en"


class AdmissionRequestForm(forms.Form):
    for_whom = forms.ChoiceField(
        label=_("Who is the call for?"),
        choices=[("myself", _("Myself")), ("someone_else", _("Someone else"))],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Tell us who the call is for."),
            "invalid_choice": _("Choose myself or someone else."),
        },
    )
    first_name = forms.CharField(
        label=_("First name or initials"),
        max_length=60,
        help_text=_("Only a first name or initials. The caller will ask for this name."),
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "maxlength": NAME_MAX_LENGTH}),
        error_messages={"required": _("Enter a first name or initials, so the caller knows who to ask for.")},
    )
    phone = forms.CharField(
        label=_("Phone number to call"),
        max_length=40,
        help_text=_("A US mobile or home number, with area code."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel", "maxlength": 30}),
        error_messages={"required": _("Enter the phone number we should call, with area code.")},
    )
    zip_code = forms.CharField(
        label=_("ZIP code"),
        max_length=10,
        help_text=_("Where the person who needs care is. We use it to find providers nearby and your time zone."),
        widget=forms.TextInput(
            attrs={"autocomplete": "postal-code", "inputmode": "numeric", "maxlength": 10, "size": 10}
        ),
        error_messages={"required": _("Enter the ZIP code where the person needing care is, like 78701.")},
    )
    service = forms.ChoiceField(
        label=_("What kind of care?"),
        choices=_service_choices,
        error_messages={
            "required": _("Choose the kind of care, or 'Not sure'."),
            "invalid_choice": _("Choose from the list."),
        },
    )
    substances = forms.MultipleChoiceField(
        label=_("Substances of concern (optional)"),
        choices=[(code, _(label)) for code, label in SUBSTANCE_CHOICES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Choose from the list.")},
    )
    payment = forms.ChoiceField(
        label=_("Insurance or payment (optional)"),
        choices=[(code, _(label)) for code, label in PAYMENT_CHOICES],
        required=False,
        error_messages={"invalid_choice": _("Choose from the list.")},
    )
    language = forms.ChoiceField(
        label=_("Language for the call"),
        choices=[(code, _(label)) for code, label in LANGUAGE_CHOICES],
        initial=page_language,  # a callable: evaluated when the form is shown, in the language of its page
        error_messages={"required": _("Choose a language."), "invalid_choice": _("Choose English or Spanish.")},
    )
    callback_when = forms.ChoiceField(
        label=_("When should we call?"),
        choices=[("now", _("As soon as possible")), ("window", _("At a time I choose"))],
        initial="now",
        widget=forms.RadioSelect,
        error_messages={"required": _("Tell us when to call."), "invalid_choice": _("Choose now or a time.")},
    )
    window_date = forms.DateField(
        label=_("Day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date, like 2026-11-23.")},
    )
    window_slot = forms.ChoiceField(
        label=_("Time of day (your local time)"),
        choices=[("", _("Choose a time")), *[(k, _(v[2])) for k, v in WINDOW_SLOTS.items()]],
        required=False,
        error_messages={"invalid_choice": _("Choose morning, afternoon or evening.")},
    )
    allow_voicemail = forms.BooleanField(label=_("You may leave a voicemail"), required=False)
    allow_text = forms.BooleanField(label=_("You may send a text message"), required=False)
    consent = forms.BooleanField(
        required=True,
        error_messages={"required": _("Tick the box to agree to be called, or we cannot call you.")},
    )
    # Abuse traps: a field people never see, and when the form was shown.
    website = forms.CharField(required=False, max_length=200, label="Leave this field empty")
    started = forms.CharField(required=False, max_length=300, widget=forms.HiddenInput)

    def __init__(self, *args: object, now: dt.datetime | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.now = now
        self.placed_zip: PlacedZip | None = None
        self.fields["consent"].label = consent_label()

    def clean_first_name(self) -> str:
        return clean_first_name(self.cleaned_data.get("first_name", ""))

    def clean_phone(self) -> str:
        return clean_callback_phone(self.cleaned_data.get("phone", ""))

    def clean_zip_code(self) -> str:
        self.placed_zip = clean_zip(self.cleaned_data.get("zip_code", ""))
        return self.placed_zip.zip_code

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("callback_when") == "window" and self.placed_zip is not None:
            from django.utils import timezone

            try:
                start, end = clean_window(
                    day=cleaned.get("window_date"),
                    slot=str(cleaned.get("window_slot") or ""),
                    time_zone=self.placed_zip.time_zone,
                    now=self.now or timezone.now(),
                )
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    for message in messages:
                        self.add_error(name, message)
            else:
                cleaned["window_start"], cleaned["window_end"] = start, end
        elif cleaned.get("callback_when") == "window" and not self.has_error("zip_code"):
            self.add_error("window_date", "Enter your ZIP code above so we know your time zone.")
        return cleaned

    @property
    def is_trap_filled(self) -> bool:
        return bool((self.data.get("website") or "").strip())


CONSENT_VERSION = "2026-11-21.1"


def consent_label() -> str:
    """The exact consent wording; stored with every request together with ``CONSENT_VERSION``."""
    # In the page's language: the stored wording is the one the person read and agreed to.
    return gettext(
        "I agree that a treatment provider who pays to advertise on %(name)s may call me, "
        "and text me if I allow texts, at this number about treatment. I can withdraw at any time by replying "
        "STOP to a text or with the link on the next page."
    ) % {"name": settings.HELPLINE_NAME}
