"""Template filters of billing pages: integer cents shown as exact dollars, a billed caller's masked number."""

from django import template

from helpline.privacy import mask_phone
from partners.billing.invoices import usd as _usd
from partners.models import BillingDecision

register = template.Library()


@register.filter
def usd(cents: int | None) -> str:
    """4500 → "$45.00"; 175500 → "$1,755.00"; -1500 → "-$15.00"."""
    if cents is None:
        return "–"
    return _usd(int(cents))


@register.filter
def masked_caller(record: BillingDecision) -> str:
    """The caller's number of a billed call or callback, masked to its last 4 digits (``***-***-0123``)."""
    if record.call is not None:
        return mask_phone(record.call.caller_number or "")
    if record.admission_request is not None:
        return mask_phone(record.admission_request.phone or "")
    return "unknown"
