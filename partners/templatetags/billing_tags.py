"""Template filters for money: integer cents shown as exact dollars."""

from django import template

from partners.billing.invoices import usd as _usd

register = template.Library()


@register.filter
def usd(cents: int | None) -> str:
    """4500 → "$45.00"; 175500 → "$1,755.00"; -1500 → "-$15.00"."""
    if cents is None:
        return "–"
    return _usd(int(cents))
