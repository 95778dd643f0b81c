"""The directory as the public pages read it: ``helpline.site.directory.ListingSource`` over the partners' tables.

Registered in ``PartnersConfig.ready()``. A partner is listed while it is
active and licence-verified, exactly when it can receive calls; the directory
page and the disclosure's "Where do calls go?" list both read it here.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Prefetch, QuerySet

from helpline.models import HelplineNumber
from partners.models import Facility, Partner


class PartnersListing:
    """The partners app's implementation of ``helpline.site.directory.ListingSource``."""

    def listed_partners(self) -> QuerySet[Partner]:
        return Partner.objects.filter(status=Partner.Status.ACTIVE, license_verified_on__isnull=False)

    def directory_facilities(self, *, state: str, service: str) -> QuerySet[Facility]:
        facilities = Facility.objects.filter(is_active=True, partner__in=self.listed_partners())
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
