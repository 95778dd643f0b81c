"""Reads for the public directory and the disclosure: who is listed, and where.

One definition of "a listed partner" serves both the directory and the
"Where do calls go?" list, so the two can never disagree: a partner is listed
while it is active (not paused) and its licence has been verified, which is
exactly when it can receive calls.

The partners' tables belong to ``partners``, which the helpline does not
import: like ``routing.directory``, this module declares the reads it needs
(``ListingSource``) and ``partners`` registers them at start-up
(``partners.directory.public_listing``, in ``PartnersConfig.ready``).
"""

from __future__ import annotations

from typing import Any, Protocol

from django import forms
from django.db.models import QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from routing.vocabulary import SERVICE_CHOICES, US_STATES, written_label

DIRECTORY_PAGE_SIZE = 20


class ListingSource(Protocol):
    def listed_partners(self) -> QuerySet[Any]:
        """Partners that currently pay to receive calls: active and licence-verified."""

    def directory_facilities(self, *, state: str, service: str) -> QuerySet[Any]:
        """Active facilities of listed partners (in ``state``, offering ``service`` when given), ordered by
        state, city and name, with their partner, hours and active listing numbers
        (``active_listing_numbers``) loaded."""


_source: ListingSource | None = None


def register(source: ListingSource) -> None:
    """Called once by the app that owns the partners' tables, in its ``AppConfig.ready()``."""
    global _source
    _source = source


def _listing() -> ListingSource:
    if _source is None:
        raise RuntimeError("no listing source registered (is 'partners' in INSTALLED_APPS?)")
    return _source


def listed_partners() -> QuerySet[Any]:
    """Partners that currently pay to receive calls: active and licence-verified."""
    return _listing().listed_partners()


def directory_facilities(*, state: str = "", service: str = "") -> QuerySet[Any]:
    """Active facilities of listed partners, with their active listing numbers prefetched."""
    return _listing().directory_facilities(state=state, service=service)


STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
}  # fmt: skip


class DirectoryFilterForm(forms.Form):
    """The directory's GET parameters; anything else is a clear error, never a 500.

    Words in the visitor's language: the service labels come from the one vocabulary,
    the rest through the catalogue (state names stay as the states write them).
    """

    state = forms.ChoiceField(
        required=False,
        choices=[("", _("All states")), *sorted(((s, STATE_NAMES[s]) for s in US_STATES), key=lambda c: c[1])],
        error_messages={"invalid_choice": _("%(value)s is not a US state code. Choose a state from the list.")},
    )
    service = forms.ChoiceField(
        required=False,
        choices=[("", _("All types of care")), *SERVICE_CHOICES],
        label=_("Type of care"),
        error_messages={"invalid_choice": _("%(value)s is not a type of care we list. Choose one from the list.")},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        widget=forms.HiddenInput,
        error_messages={"invalid": _("The page number must be a whole number."), "min_value": _("Pages start at 1.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language = get_language() or "en"
        field = self.fields["service"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
        field.choices = [("", _("All types of care")), *service_labels(language).items()]


def service_labels(language: str) -> dict[str, str]:
    """Service code -> its written label in ``language`` (the one vocabulary)."""
    return {code: written_label(code, language=language) for code, _label in SERVICE_CHOICES}
