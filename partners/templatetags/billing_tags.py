"""Template filters for money: integer cents shown as exact dollars."""

from django import template

from partners.billing.invoices import dollars

register = template.Library()


@register.filter
def usd(cents: int | None) -> str:
    """4500 → "$45.00"; -1500 → "-$15.00"."""
    if cents is None:
        return "–"
    text = dollars(int(cents))
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"
