"""``POST /api/v1/admission-requests/``: the admission request for partner-embedded forms.

Open to anonymous posts (a partner's public web page calls it from the
visitor's browser), throttled per client address, with the same checks as the
web form (``helpline.admission.forms``). Create-only: there is no list or read here;
partners read their own requests through the partner API and portal, which are
authenticated and scoped to the partner.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from config.security import client_ip
from helpline.admission import policy
from helpline.admission import services as admission
from helpline.admission.forms import (
    CONSENT_VERSION,
    FORM_STAMP_MAX_AGE_SECONDS,
    PAYMENT_CHOICES,
    SERVICE_FORM_CHOICES,
    SUBSTANCE_CHOICES,
    WINDOW_SLOTS,
    PlacedZip,
    clean_callback_phone,
    clean_first_name,
    clean_window,
    clean_zip,
    consent_label,
    form_age_seconds,
    min_fill_seconds,
    new_form_stamp,
)
from helpline.admission.policy import PHONE_LIMIT, over_limit
from helpline.admission.views import confirm_token, withdraw_token
from helpline.attribution import Attribution
from helpline.models import UTM_MAX_LENGTH
from helpline.privacy import caller_hash
from helpline.public_urls import absolute_url
from routing.vocabulary import LANGUAGE_CHOICES

logger = logging.getLogger(__name__)

# Longer than we keep (a page is kept without its query string, which UTM and ad-click ids make long).
URL_MAX_LENGTH = 2000


class FailOpenScopedThrottle(ScopedRateThrottle):
    """Per-address throttle on the cache; if the cache (Redis) is down, requests still go through."""

    def get_ident(self, request: Request) -> str:
        return client_ip(request._request) or super().get_ident(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - a form that saves beats a throttle that crashes
            logger.warning("Throttle cache unavailable; admission API allowed without a limit")
            return True


class AdmissionRequestSerializer(serializers.Serializer):
    for_whom = serializers.ChoiceField(choices=[("myself", "Myself"), ("someone_else", "Someone else")])
    first_name = serializers.CharField(max_length=60, help_text="First name or initials only.")
    phone = serializers.CharField(max_length=30, help_text="US number with area code; not toll-free or premium.")
    zip_code = serializers.CharField(max_length=10, help_text="5-digit ZIP or ZIP+4.")
    service = serializers.ChoiceField(choices=SERVICE_FORM_CHOICES)
    substances = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSTANCE_CHOICES), required=False, max_length=len(SUBSTANCE_CHOICES)
    )
    payment = serializers.ChoiceField(choices=PAYMENT_CHOICES, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=LANGUAGE_CHOICES, default="en")
    callback_when = serializers.ChoiceField(choices=[("now", "As soon as possible"), ("window", "A time window")])
    window_date = serializers.DateField(required=False, allow_null=True)
    window_slot = serializers.ChoiceField(
        choices=[(k, v[2]) for k, v in WINDOW_SLOTS.items()], required=False, allow_blank=True
    )
    allow_voicemail = serializers.BooleanField(default=False)
    allow_text = serializers.BooleanField(default=False)
    consent = serializers.BooleanField(help_text="Must be true: the person agreed to be called by a paying provider.")
    consent_version = serializers.CharField(
        required=False, max_length=20, help_text="Version of the consent wording the form showed (optional)."
    )
    # Where the visitor came from (optional; cleaned like the form's: no query strings, bounded lengths).
    page = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=URL_MAX_LENGTH,
        help_text="URL of the page the form was on; the query string is dropped.",
    )
    landing_page = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=URL_MAX_LENGTH,
        help_text="URL of the first page of the visit; the query string is dropped.",
    )
    utm_source = serializers.CharField(required=False, allow_blank=True, max_length=2 * UTM_MAX_LENGTH)
    utm_medium = serializers.CharField(required=False, allow_blank=True, max_length=2 * UTM_MAX_LENGTH)
    utm_campaign = serializers.CharField(required=False, allow_blank=True, max_length=2 * UTM_MAX_LENGTH)
    started = serializers.CharField(
        max_length=200,
        help_text="The stamp from GET /api/v1/admission-requests/stamp/, fetched when the form was shown; "
        "used once, and not sooner than a person could fill the form in.",
    )
    website = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Leave empty (a field people never see)."
    )

    def validate_started(self, value: str) -> str:
        age = form_age_seconds(value)
        if age is None:
            raise serializers.ValidationError("Missing or expired form stamp: fetch a new one and send again.")
        if age < min_fill_seconds():
            raise serializers.ValidationError("Sent faster than a person fills the form in.")
        return value

    def validate_website(self, value: str) -> str:
        if value:
            raise serializers.ValidationError("Leave this field empty.")
        return value

    def validate_first_name(self, value: str) -> str:
        return clean_first_name(value)

    def validate_phone(self, value: str) -> str:
        return clean_callback_phone(value)

    def validate_zip_code(self, value: str) -> PlacedZip:
        return clean_zip(value)

    def validate_consent(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("The person must agree to be called (consent must be true).")
        return value

    def validate_consent_version(self, value: str) -> str:
        if value and value != CONSENT_VERSION:
            raise serializers.ValidationError(
                f"Consent wording {value!r} is out of date; show the current wording (version {CONSENT_VERSION})."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["callback_when"] == "window":
            placed: PlacedZip = attrs["zip_code"]
            try:
                attrs["window_start"], attrs["window_end"] = clean_window(
                    day=attrs.get("window_date"),
                    slot=attrs.get("window_slot") or "",
                    time_zone=placed.time_zone,
                    now=timezone.now(),
                )
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class AdmissionRequestCreatedSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    status = serializers.CharField()
    partner_name = serializers.CharField(allow_blank=True)
    confirmation_url = serializers.CharField()
    withdraw_url = serializers.CharField()
    consent_text = serializers.CharField()
    consent_version = serializers.CharField()


class AdmissionRequestViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Create an admission request (anonymous, throttled). No list or read here."""

    serializer_class = AdmissionRequestSerializer
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []  # anonymous: no session, so no CSRF dance for embedded forms
    throttle_classes = [FailOpenScopedThrottle]
    throttle_scope = "admission"

    @extend_schema(
        responses={200: inline_serializer("AdmissionFormStamp", {"started": serializers.CharField()})},
        description="A signed, single-use 'form shown at' stamp: fetch it when the form is shown, "
        "send it back as `started` with the request.",
    )
    @action(detail=False, methods=["get"], url_path="stamp", throttle_classes=[])
    def stamp(self, request: Request, format: str | None = None) -> Response:  # noqa: A002 - DRF passes format= for .json
        return Response({"started": new_form_stamp()}, headers={"Cache-Control": "no-store"})

    @extend_schema(
        responses={
            201: AdmissionRequestCreatedSerializer,
            # Each invalid field's name maps to its messages (the names vary, so no fixed property).
            400: OpenApiResponse(response=OpenApiTypes.OBJECT, description="Field name → list of error messages."),
            429: inline_serializer("AdmissionRequestThrottled", {"detail": serializers.CharField()}),
        }
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if policy.client_over_budget(client_ip(request)):  # one budget with the web form
            raise Throttled(detail="Too many requests were sent from this connection. Please call us instead.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        phone_hash = caller_hash(data["phone"])
        if admission.is_blocked(phone_hash):
            raise serializers.ValidationError(
                {"phone": ["This number asked us not to contact it. Text START from that phone to allow calls again."]}
            )
        if over_limit("phone", phone_hash, limit=PHONE_LIMIT):
            raise Throttled(detail="We already have requests for this number today.")
        if not policy.stamp_spend(data["started"], max_age_seconds=FORM_STAMP_MAX_AGE_SECONDS):
            raise serializers.ValidationError({"started": ["This form stamp was already used; fetch a new one."]})
        placed: PlacedZip = data["zip_code"]
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
                allow_voicemail=data["allow_voicemail"],
                allow_text=data["allow_text"],
                substances=list(dict.fromkeys(data.get("substances") or [])),
                payment=data.get("payment") or "",
                window_start=data.get("window_start"),
                window_end=data.get("window_end"),
                source="api",
                attribution=Attribution.build(
                    page=data.get("page", ""),
                    landing_page=data.get("landing_page", ""),
                    utm_source=data.get("utm_source", ""),
                    utm_medium=data.get("utm_medium", ""),
                    utm_campaign=data.get("utm_campaign", ""),
                ),
            )
        )
        shows_partner = req.partner is not None and req.status not in ("unrouted", "withdrawn", "closed")
        body = {
            "public_id": req.public_id,
            "status": req.status,
            "partner_name": req.partner.display_name if shows_partner and req.partner else "",
            "confirmation_url": absolute_url(
                reverse("admission_confirmation", kwargs={"token": confirm_token(req.public_id)})
            ),
            "withdraw_url": absolute_url(
                reverse("admission_withdraw", kwargs={"token": withdraw_token(req.public_id)})
            ),
            "consent_text": consent_label(),
            "consent_version": CONSENT_VERSION,
        }
        return Response(AdmissionRequestCreatedSerializer(body).data, status=status.HTTP_201_CREATED)
