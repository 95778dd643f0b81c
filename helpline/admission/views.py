"""Public pages of the admission request: the form, the confirmation, the withdraw link.

Thin: they parse and check input (``helpline.admission.forms``), apply the abuse guards,
and hand the checked request to ``helpline.admission.services``. Links to a request use
signed tokens, never bare ids, so nobody can guess someone else's page.
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy, pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from config.security import client_ip
from helpline.admission import policy
from helpline.admission import selectors as admission_selectors
from helpline.admission import services as admission
from helpline.admission.forms import (
    FORM_STAMP_MAX_AGE_SECONDS,
    AdmissionRequestForm,
    form_age_seconds,
    min_fill_seconds,
    new_form_stamp,
)
from helpline.admission.policy import PHONE_LIMIT, over_limit
from helpline.attribution import web_attribution
from helpline.models import AdmissionRequest
from helpline.phones import phone_display
from helpline.privacy import caller_hash
from helpline.templatetags.clearline import clock

logger = logging.getLogger(__name__)

# The whole form is well under 4 KB; anything much larger is not a person typing.
MAX_FORM_BYTES = 16 * 1024

TOO_FAST_MESSAGE = gettext_lazy(
    "Nothing has been sent yet. Please check your answers, then press “Ask for a call back” again."
)

CONFIRM_SALT = "helpline.admission.services.confirm"
WITHDRAW_SALT = "helpline.admission.services.withdraw"


def confirm_token(public_id: uuid.UUID) -> str:
    return signing.dumps(str(public_id), salt=CONFIRM_SALT)


def withdraw_token(public_id: uuid.UUID) -> str:
    return signing.dumps(str(public_id), salt=WITHDRAW_SALT)


def _public_id(token: str, *, salt: str) -> uuid.UUID:
    try:
        return uuid.UUID(signing.loads(token, salt=salt))
    except (signing.BadSignature, ValueError, TypeError):
        raise Http404("No such request") from None


def _thanks_redirect(public_id: uuid.UUID) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admission_confirmation", kwargs={"token": confirm_token(public_id)}))


def _render_form(request: HttpRequest, form: AdmissionRequestForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "helpline/admission_request.html",
        {"form": form, "stamp": new_form_stamp(), "sms_from": settings.TWILIO_SMS_FROM},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def admission_request(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render_form(request, AdmissionRequestForm())

    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = MAX_FORM_BYTES + 1
    if length > MAX_FORM_BYTES:
        return render(request, "helpline/admission_too_large.html", status=413)

    if policy.client_over_budget(client_ip(request)):  # one budget with the API
        form = AdmissionRequestForm(request.POST)
        form.is_valid()
        form.add_error(None, "Too many requests were sent from this connection. Please call us instead.")
        return _render_form(request, form, status=429)

    form = AdmissionRequestForm(request.POST)
    stamp = request.POST.get("started", "")
    age = form_age_seconds(stamp)
    if form.is_trap_filled:
        # Only a bot fills the hidden field: look exactly like success, save and route nothing.
        logger.info("Admission form trap triggered (honeypot)")
        return _thanks_redirect(uuid.uuid4())
    if not stamp or (age is not None and age < min_fill_seconds()):
        # Sent faster than a person types: often a person whose browser autofilled the form. Say so
        # and keep their answers; the fresh stamp lets the same person send it a moment later.
        logger.info("Admission form sent too fast; shown again")
        form.is_valid()
        form.add_error(None, TOO_FAST_MESSAGE)
        return _render_form(request, form, status=400)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    if age is None:
        # Missing or expired stamp: a person who left the page open; ask them to send again (keeps input).
        form.add_error(None, "This page was open for a long time. Please check your answers and send again.")
        return _render_form(request, form, status=400)

    data = form.cleaned_data
    phone_hash = caller_hash(data["phone"])
    if admission.is_blocked(phone_hash):
        form.add_error(
            "phone",
            "This number asked us not to contact it. To allow calls again, text START to "
            f"{phone_display(settings.TWILIO_SMS_FROM)} from that phone, or call us.",
        )
        return _render_form(request, form, status=400)
    if over_limit("phone", phone_hash, limit=PHONE_LIMIT):
        form.add_error("phone", "We already have requests for this number today. A provider will call you.")
        return _render_form(request, form, status=429)
    if not policy.stamp_spend(stamp, max_age_seconds=FORM_STAMP_MAX_AGE_SECONDS):
        # The same page sent twice (or a bot replaying one stamp): the first one counts.
        form.add_error(None, "This form was already sent. To send another request, reload the page.")
        return _render_form(request, form, status=400)

    placed = form.placed_zip
    if placed is None:  # cannot happen for a valid form; never save a request without its place
        return _render_form(request, form, status=400)
    req = admission.admission_request_submit(
        data=admission.AdmissionInput(
            for_whom=data["for_whom"],
            first_name=data["first_name"],
            phone=data["phone"],
            zip_code=placed.zip_code,
            state=placed.state,
            time_zone=placed.time_zone,
            service=data["service"],
            language=data["language"],
            callback_when=data["callback_when"],
            allow_voicemail=bool(data["allow_voicemail"]),
            allow_text=bool(data["allow_text"]),
            substances=list(data.get("substances") or []),
            payment=data.get("payment") or "",
            window_start=data.get("window_start"),
            window_end=data.get("window_end"),
            source="web",
            attribution=web_attribution(request),
        )
    )
    return _thanks_redirect(req.public_id)


@never_cache
def admission_confirmation(request: HttpRequest, token: str) -> HttpResponse:
    """What happens next. A token that is signed but matches nothing (a bot's) shows the same page."""
    public_id = _public_id(token, salt=CONFIRM_SALT)
    req = admission_selectors.request_by_public_id(public_id=public_id)
    partner_name = ""
    if (
        req is not None
        and req.partner is not None
        and req.status
        not in (
            AdmissionRequest.Status.UNROUTED,
            AdmissionRequest.Status.WITHDRAWN,
            AdmissionRequest.Status.CLOSED,
        )
    ):
        partner_name = req.partner.display_name
    return render(
        request,
        "helpline/admission_confirmation.html",
        {
            "req": req,
            "partner_name": partner_name,
            "unrouted": req is not None and req.status == AdmissionRequest.Status.UNROUTED,
            "withdrawn": req is not None and req.status == AdmissionRequest.Status.WITHDRAWN,
            # Held by the new-number breaker: nobody is told or calls until staff approve it.
            "held": req is not None and req.status == AdmissionRequest.Status.HELD,
            "withdraw_url": reverse("admission_withdraw", kwargs={"token": withdraw_token(public_id)}),
            "best_time": _best_time_words(req),
            "caller_id": phone_display(settings.TWILIO_CALLER_ID),  # as people write it
        },
    )


def _best_time_words(req: AdmissionRequest | None) -> str:
    """When the call will come, in the page's language and the person's own time zone."""
    if req is None or req.callback_when == AdmissionRequest.When.NOW or not req.window_start:
        return gettext("as soon as possible")
    zone = zoneinfo.ZoneInfo(req.caller_timezone or "America/New_York")
    start = req.window_start.astimezone(zone)
    end = req.window_end.astimezone(zone) if req.window_end else start
    return gettext("on %(day)s, between %(start)s and %(end)s %(zone)s") % {
        "day": date_format(start, pgettext("day of a callback, as a date format", "l, F j")),
        "start": clock(start.time()),
        "end": clock(end.time()),
        "zone": start.tzname(),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def admission_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link previews must not withdraw anything); POST withdraws the request.

    The link withdraws the open requests from this number but does not block it: the person
    may well send a new request later, and the page says so. Only a texted STOP blocks a number.
    """
    public_id = _public_id(token, salt=WITHDRAW_SALT)
    context = {"sms_from": settings.TWILIO_SMS_FROM}
    if request.method == "GET":
        return render(request, "helpline/admission_withdraw.html", {**context, "done": False})
    req = admission_selectors.request_by_public_id(public_id=public_id)
    if req is not None and req.phone_hash:
        admission.admission_request_withdraw(phone_hash=req.phone_hash, source="link", block=False)
    return render(request, "helpline/admission_withdraw.html", {**context, "done": True})
