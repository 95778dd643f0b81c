"""The "Where do calls go?" disclosure: current wording plus the live partner list and fees.

Every HTML page renders it through ``templates/includes/disclosure.html``; the
wording is edited by staff (versioned in ``DisclosureVersion``) but the section
itself cannot be removed. The list of paying partners and the range of their
per-call fees are read live from the directory, never typed in: a price change
or a pause shows on the next page view.

The fees come from the same query as the names (one row per listed partner),
so they cost nothing extra per page and cannot disagree with the list; a
separate cache would only add a way to be stale (a pause written with a
queryset ``update()`` sends no signal to invalidate it).
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
    # Lowest and highest per-call fee of the listed partners, US cents; None with no partners or no database.
    fee_low_cents: int | None = None
    fee_high_cents: int | None = None

    @property
    def fee_range(self) -> str:
        """``$35–$55`` (or ``$45`` when every provider pays the same); empty when unknown."""
        if self.fee_low_cents is None or self.fee_high_cents is None:
            return ""
        if self.fee_low_cents == self.fee_high_cents:
            return dollars(self.fee_low_cents)
        return f"{dollars(self.fee_low_cents)}\u2013{dollars(self.fee_high_cents)}"

    @property
    def fee_is_uniform(self) -> bool:
        return self.fee_low_cents is not None and self.fee_low_cents == self.fee_high_cents


def dollars(cents: int) -> str:
    """``3500`` → ``$35``, ``3750`` → ``$37.50``: whole dollars without cents, as people write fees."""
    whole, part = divmod(cents, 100)
    return f"${whole:,}" if part == 0 else f"${whole:,}.{part:02d}"


@dataclass(frozen=True)
class ListedPartners:
    names: tuple[str, ...]
    fee_low_cents: int | None
    fee_high_cents: int | None


def _from_version(version: DisclosureVersion, listed: ListedPartners | None) -> Disclosure:
    # A blank field (written around the admin) falls back to the default words:
    # the statements themselves can be reworded but never removed.
    return Disclosure(
        intro=version.intro.strip() or _DEFAULTS.intro,
        listing_calls=version.listing_calls.strip() or _DEFAULTS.listing_calls,
        fees=version.fees.strip() or _DEFAULTS.fees,
        no_obligation=version.no_obligation.strip() or _DEFAULTS.no_obligation,
        free_confidential=version.free_confidential.strip() or _DEFAULTS.free_confidential,
        not_affiliated=version.not_affiliated.strip() or _DEFAULTS.not_affiliated,
        partners=listed.names if listed else (),
        partners_known=listed is not None,
        fee_low_cents=listed.fee_low_cents if listed else None,
        fee_high_cents=listed.fee_high_cents if listed else None,
    )


def paying_partner_names() -> tuple[str, ...]:
    """Display names of the partners currently paying to receive calls (the directory's partners)."""
    return listed_paying_partners().names


def listed_paying_partners() -> ListedPartners:
    """Names and the range of per-call fees of the partners paying to receive calls now (one query).

    ``price_per_call_cents`` is the price in force now: a change is recorded as a
    ``PriceChange`` effective at once, and billing charges the price in force at the call.
    """
    rows = list(listed_partners().order_by("display_name").values_list("display_name", "price_per_call_cents"))
    prices = [price for _name, price in rows]
    return ListedPartners(
        names=tuple(name for name, _price in rows),
        fee_low_cents=min(prices) if prices else None,
        fee_high_cents=max(prices) if prices else None,
    )


def current_version() -> DisclosureVersion:
    """The wording shown now: the newest version, or the built-in default before staff add one."""
    return DisclosureVersion.objects.order_by("-created_at", "-id").first() or DisclosureVersion()


def current_disclosure() -> Disclosure:
    """Wording plus live partner list; with the database unreachable, the default wording."""
    try:
        version = current_version()
        return _from_version(version, listed_paying_partners())
    except DatabaseError:
        return _from_version(_DEFAULTS, None)


def fallback_disclosure() -> Disclosure:
    return _from_version(_DEFAULTS, None)
