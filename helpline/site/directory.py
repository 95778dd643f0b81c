"""Reads for the public directory and the disclosure: who is listed, and where.

One definition of "a listed partner" serves both the directory and the
"Where do calls go?" list, so the two can never disagree: a partner is listed
while it is active (not paused) and its licence has been verified, which is
exactly when it can receive calls.
"""

from __future__ import annotations

from django import forms
from django.db import connection
from django.db.models import Prefetch, QuerySet

from helpline.models import HelplineNumber
from partners.models import Facility, Partner
from routing.vocabulary import SERVICE_CHOICES, US_STATES

DIRECTORY_PAGE_SIZE = 20


def listed_partners() -> QuerySet[Partner]:
    """Partners that currently pay to receive calls: active and licence-verified."""
    return Partner.objects.filter(status=Partner.Status.ACTIVE, license_verified_on__isnull=False)


def directory_facilities(*, state: str = "", service: str = "") -> QuerySet[Facility]:
    """Active facilities of listed partners, with their active listing numbers prefetched."""
    facilities = Facility.objects.filter(is_active=True, partner__in=listed_partners())
    if state:
        facilities = facilities.filter(state=state)
    if service:
        if connection.features.supports_json_field_contains:
            facilities = facilities.filter(services__contains=[service])
        else:
            # SQLite has no JSON containment; the quoted code matches one whole list item.
            facilities = facilities.filter(services__icontains=f'"{service}"')
    listing_numbers = HelplineNumber.objects.filter(kind=HelplineNumber.Kind.LISTING, is_active=True).order_by("id")
    return (
        facilities.select_related("partner")
        .prefetch_related(
            "hours",
            Prefetch("listing_numbers", queryset=listing_numbers, to_attr="active_listing_numbers"),
        )
        .order_by("state", "city", "name", "id")
    )


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
    """The directory's GET parameters; anything else is a clear error, never a 500."""

    state = forms.ChoiceField(
        required=False,
        choices=[("", "All states"), *sorted(((s, STATE_NAMES[s]) for s in US_STATES), key=lambda c: c[1])],
        error_messages={"invalid_choice": "%(value)s is not a US state code. Choose a state from the list."},
    )
    service = forms.ChoiceField(
        required=False,
        choices=[("", "All types of care"), *SERVICE_CHOICES],
        label="Type of care",
        error_messages={"invalid_choice": "%(value)s is not a type of care we list. Choose one from the list."},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        widget=forms.HiddenInput,
        error_messages={"invalid": "The page number must be a whole number.", "min_value": "Pages start at 1."},
    )
