"""The "Where do calls go?" disclosure: current wording plus the live partner list.

Every HTML page renders it through ``templates/includes/disclosure.html``; the
wording is edited by staff (versioned in ``DisclosureVersion``) but the section
itself cannot be removed. The list of paying partners is read live from the
directory, never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError

from helpline.models import DisclosureVersion
from helpline.site.directory import listed_partners

# Used when the database cannot be read (the 500 page, an outage): the section
# still appears, with the default wording.
_DEFAULTS = DisclosureVersion()


@dataclass(frozen=True)
class Disclosure:
    intro: str
    listing_calls: str
    fees: str
    no_obligation: str
    free_confidential: str
    not_affiliated: str
    partners: tuple[str, ...]
    partners_known: bool


def _from_version(version: DisclosureVersion, partners: tuple[str, ...], known: bool) -> Disclosure:
    # A blank field (written around the admin) falls back to the default words:
    # the statements themselves can be reworded but never removed.
    return Disclosure(
        intro=version.intro.strip() or _DEFAULTS.intro,
        listing_calls=version.listing_calls.strip() or _DEFAULTS.listing_calls,
        fees=version.fees.strip() or _DEFAULTS.fees,
        no_obligation=version.no_obligation.strip() or _DEFAULTS.no_obligation,
        free_confidential=version.free_confidential.strip() or _DEFAULTS.free_confidential,
        not_affiliated=version.not_affiliated.strip() or _DEFAULTS.not_affiliated,
        partners=partners,
        partners_known=known,
    )


def paying_partner_names() -> tuple[str, ...]:
    """Display names of the partners currently paying to receive calls (the directory's partners)."""
    return tuple(listed_partners().order_by("display_name").values_list("display_name", flat=True))


def current_version() -> DisclosureVersion:
    """The wording shown now: the newest version, or the built-in default before staff add one."""
    return DisclosureVersion.objects.order_by("-created_at", "-id").first() or DisclosureVersion()


def current_disclosure() -> Disclosure:
    """Wording plus live partner list; with the database unreachable, the default wording."""
    try:
        version = current_version()
        return _from_version(version, paying_partner_names(), True)
    except DatabaseError:
        return _from_version(_DEFAULTS, (), False)


def fallback_disclosure() -> Disclosure:
    return _from_version(_DEFAULTS, (), False)
