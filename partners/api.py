"""Partner API (``/api/v1/``): calls, billing entries, invoices and admission requests, read-only.

Token (or session) authentication. Every queryset is scoped in
``get_queryset()`` to the partner of the authenticated user, so another
partner's record is a 404; staff see everything. Lists use cursor pagination
(constant cost on a million rows) and accept ``?since=`` / ``?until=`` ISO
dates (inclusive, UTC); a malformed date or an inverted range is a 400.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from config.staff_access import staff_may_view
from helpline.admission.api import AdmissionRequestViewSet as AdmissionRequestCreateViewSet
from helpline.audit import audit_record
from helpline.models import AdmissionRequest
from helpline.privacy import mask_phone
from partners import selectors
from partners.models import BillingDecision, Invoice, InvoiceLine, LedgerEntry, Partner

DATE_PARAMS = [
    OpenApiParameter("since", OpenApiTypes.DATE, description="Only records on or after this UTC date (YYYY-MM-DD)."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Only records on or before this UTC date (YYYY-MM-DD)."),
]


class PartnerOrStaff(permissions.BasePermission):
    """A user linked to a partner (``request.partner`` is set), or staff through the one staff gate.

    Staff see every partner's rows only as ``config.staff_access.staff_may_view``
    allows: verified second factor when ``STAFF_REQUIRE_OTP`` is on (so never
    with a token alone) and the ``view_`` permission of the viewset's model.
    """

    message = "This account is not linked to a partner."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_staff:
            request.partner = None  # type: ignore[attr-defined]
            model = view.queryset.model  # type: ignore[attr-defined]
            if not staff_may_view(user, model):
                self.message = "Staff access needs a verified second factor and permission to view these records."
                return False
            return True
        partner = selectors.partner_for_user(user)
        request.partner = partner  # type: ignore[attr-defined]
        return partner is not None


_POSITION_CHARACTERS = re.compile(r"[0-9T:+. -]{10,40}")


class NewestFirst(CursorPagination):
    """DRF's cursor pagination, where a cursor that is not one we made is a 400, never a query.

    DRF decodes the cursor but passes its position straight into the filter, so
    a hand-made one (a NUL, ``p=garbage``, a date past year 9999 in UTC) reached
    the database and came back as a 500. The position is parsed here as the
    ordering field's type (``position_type``), normalised to UTC, and a bad one,
    like an undecodable cursor (DRF's 404), is a 400 "Invalid cursor".
    """

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    position_type = "datetime"

    def decode_cursor(self, request: Request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        try:
            if encoded is not None:
                base64.b64decode(encoded.encode("ascii"), validate=True)  # DRF drops junk characters silently
            cursor = super().decode_cursor(request)
        except (NotFound, ValueError) as exc:  # binascii.Error and UnicodeError are ValueErrors
            raise ParseError(self.invalid_cursor_message) from exc
        if cursor is None or cursor.position is None:
            return cursor
        # (the stubs type a Cursor position as int; DRF decodes it as the query string's text)
        return cursor._replace(position=self._position(str(cursor.position)))  # type: ignore[arg-type]

    def _position(self, raw: str) -> str:
        # Python's fromisoformat tolerates odd separators (a NUL among them): allow only what we write.
        if not _POSITION_CHARACTERS.fullmatch(raw):
            raise ParseError(self.invalid_cursor_message)
        try:
            if self.position_type == "date":
                return dt.date.fromisoformat(raw).isoformat()
            at = dt.datetime.fromisoformat(raw)
            if at.tzinfo is None:
                raise ValueError("naive time")
            return at.astimezone(dt.UTC).isoformat()
        except (ValueError, OverflowError) as exc:
            raise ParseError(self.invalid_cursor_message) from exc


class RecordsByTime(NewestFirst):
    ordering = ("-occurred_at", "-id")


class RequestsByTime(NewestFirst):
    ordering = ("-created_at", "-id")


class InvoicesByMonth(NewestFirst):
    ordering = ("-month", "-id")
    position_type = "date"


class DateRangeMixin:
    request: Any

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        errors: dict[str, str] = {}
        values: dict[str, dt.date | None] = {}
        for name in ("since", "until"):
            raw = self.request.query_params.get(name)
            values[name] = None
            if raw:
                try:
                    values[name] = dt.date.fromisoformat(raw)
                except ValueError:
                    errors[name] = f"{raw!r} is not a date; use YYYY-MM-DD."
        if errors:
            raise ValidationError(errors)
        since, until = values["since"], values["until"]
        if since and until and since > until:
            raise ValidationError({"since": "since is after until."})
        return since, until

    def scope(self) -> Partner | None:
        return getattr(self.request, "partner", None)


# --- serializers --------------------------------------------------------------------


class CallRecordSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    reason_display = serializers.CharField(source="get_reason_display", read_only=True)
    caller = serializers.SerializerMethodField(help_text="Caller number, last four digits only.")
    facility_name = serializers.CharField(source="facility.name", read_only=True, default="")
    admission_request = serializers.UUIDField(
        source="admission_request.public_id", read_only=True, default=None, allow_null=True
    )
    ledger_entry = serializers.IntegerField(source="ledger_entry.pk", read_only=True, default=None)

    class Meta:
        model = BillingDecision
        fields = [
            "id", "kind", "kind_display", "occurred_at", "partner", "facility", "facility_name", "service",
            "caller_area", "caller", "outcome", "accepted", "talk_seconds", "billable", "reason", "reason_display",
            "price_cents", "min_billable_seconds", "admission_request", "ledger_entry",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "price_cents": {"help_text": "Your price per call when the call happened, in US cents."},
            "min_billable_seconds": {"help_text": "Your minimum talk time for a billable call, in seconds."},
            "occurred_at": {"help_text": "When the call started (UTC)."},
        }

    def get_caller(self, obj: BillingDecision) -> str:
        if obj.call is not None:
            return mask_phone(obj.call.caller_number or "")
        if obj.admission_request is not None:
            return mask_phone(obj.admission_request.phone or "")
        return "unknown"


class LedgerEntrySerializer(serializers.ModelSerializer):
    call_record = serializers.IntegerField(source="decision_id", read_only=True, allow_null=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "partner", "kind", "amount_cents", "occurred_at", "created_at", "description", "reason",
                  "call_record", "corrects"]  # fmt: skip
        read_only_fields = fields


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["ledger_entry", "occurred_at", "description", "amount_cents"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = ["id", "number", "partner", "month", "total_cents", "charge_count", "generated_at"]
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines"]
        read_only_fields = fields


class RoutedRequestSerializer(serializers.ModelSerializer):
    # Plain strings: the create serializer already names these choice sets in the schema.
    callback_when = serializers.CharField(read_only=True, help_text="now or window")
    facility_name = serializers.CharField(source="facility.name", read_only=True, default="")

    class Meta:
        model = AdmissionRequest
        fields = [
            "public_id", "status", "created_at", "source", "for_whom", "service", "state", "zip_code", "language",
            "callback_when", "window_start", "window_end", "caller_timezone", "allow_voicemail", "allow_text",
            "partner", "facility", "facility_name", "connected_at", "withdrawn_at",
        ]  # fmt: skip
        read_only_fields = fields


class RoutedRequestDetailSerializer(RoutedRequestSerializer):
    """Contact details for the partner to call back; hidden once consent is withdrawn or data purged."""

    first_name = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()

    class Meta(RoutedRequestSerializer.Meta):
        fields = [*RoutedRequestSerializer.Meta.fields, "first_name", "phone"]
        read_only_fields = fields

    def _contactable(self, obj: AdmissionRequest) -> bool:
        return obj.withdrawn_at is None and obj.status != AdmissionRequest.Status.WITHDRAWN and obj.purged_at is None

    def get_first_name(self, obj: AdmissionRequest) -> str:
        return (obj.first_name or "") if self._contactable(obj) else ""

    def get_phone(self, obj: AdmissionRequest) -> str:
        return (obj.phone or "") if self._contactable(obj) else ""


# --- viewsets -------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(parameters=DATE_PARAMS))
class CallRecordViewSet(DateRangeMixin, viewsets.ReadOnlyModelViewSet):
    """Calls and callbacks sent to you, with whether each is billable and why."""

    serializer_class = CallRecordSerializer
    permission_classes = [PartnerOrStaff]
    pagination_class = RecordsByTime
    queryset = BillingDecision.objects.none()

    def get_queryset(self) -> QuerySet[BillingDecision]:
        since, until = self.date_range() if self.action == "list" else (None, None)
        return selectors.call_records(partner=self.scope(), since=since, until=until)


@extend_schema_view(list=extend_schema(parameters=DATE_PARAMS))
class LedgerEntryViewSet(DateRangeMixin, viewsets.ReadOnlyModelViewSet):
    """Billing entries: charges (one per billable call) and adjustments (credits are negative)."""

    serializer_class = LedgerEntrySerializer
    permission_classes = [PartnerOrStaff]
    pagination_class = RecordsByTime
    queryset = LedgerEntry.objects.none()

    def get_queryset(self) -> QuerySet[LedgerEntry]:
        since, until = self.date_range() if self.action == "list" else (None, None)
        return selectors.ledger_entries(partner=self.scope(), since=since, until=until)


@extend_schema_view(list=extend_schema(parameters=DATE_PARAMS))
class InvoiceViewSet(DateRangeMixin, viewsets.ReadOnlyModelViewSet):
    """Monthly invoices; the detail has one line per ledger entry."""

    permission_classes = [PartnerOrStaff]
    pagination_class = InvoicesByMonth
    queryset = Invoice.objects.none()

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return InvoiceDetailSerializer if self.action == "retrieve" else InvoiceSerializer

    def get_queryset(self) -> QuerySet[Invoice]:
        since, until = self.date_range() if self.action == "list" else (None, None)
        qs = selectors.invoices(partner=self.scope(), since=since, until=until)
        if self.action == "retrieve":
            qs = qs.prefetch_related("lines")
        return qs


# What the API docs say to a partner's developer; the class docstring below is for our own.
@extend_schema_view(
    list=extend_schema(
        parameters=DATE_PARAMS,
        description="Admission requests routed to you, newest first. Needs your API token (or a portal login).",
    ),
    retrieve=extend_schema(description="One admission request routed to you, by its public id."),
    create=extend_schema(
        description=(
            "Send an admission request for a person who asked to be called back by a treatment provider. "
            "No token needed; the number of requests per client address is limited."
        )
    ),
)
class AdmissionRequestViewSet(
    DateRangeMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, AdmissionRequestCreateViewSet
):
    """Admission requests: anonymous create (the helpline's own viewset, unchanged), partner-scoped read.

    POST keeps the create viewset's anonymous, throttled behaviour; GET needs a
    partner or staff login and shows only the partner's own requests.
    """

    lookup_field = "public_id"
    pagination_class = RequestsByTime
    queryset = AdmissionRequest.objects.none()

    def _is_create(self) -> bool:
        """The anonymous part: POST (create) and GET stamp/ (the form stamp the create needs)."""
        request = getattr(self, "request", None)
        if request is None:
            return False
        return request.method == "POST" or getattr(self, "action_map", {}).get("get") == "stamp"

    def get_authenticators(self) -> list[Any]:
        if self._is_create():
            return super().get_authenticators()
        return [auth() for auth in _default_authenticators()]

    def get_permissions(self) -> list[Any]:
        if self._is_create():
            return list(super().get_permissions())
        return [PartnerOrStaff()]

    def get_throttles(self) -> list[Any]:
        return super().get_throttles() if self._is_create() else []

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "retrieve":
            return RoutedRequestDetailSerializer
        if self.action == "list":
            return RoutedRequestSerializer
        return super().get_serializer_class()

    def get_queryset(self) -> QuerySet[AdmissionRequest]:
        since, until = self.date_range() if self.action == "list" else (None, None)
        return selectors.admission_requests(partner=self.scope(), since=since, until=until)

    def get_object(self) -> AdmissionRequest:
        obj = super().get_object()
        shown = ["first_name", "phone"] if RoutedRequestDetailSerializer()._contactable(obj) else []
        audit_record(request=self.request, where="api", action="view", obj=obj, fields=shown)
        return obj


def _default_authenticators() -> list[Any]:
    from rest_framework.settings import api_settings

    return list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)


def register(router: Any) -> None:
    """Called from ``config.api_urls``: the partner API's routes."""
    router.register("calls", CallRecordViewSet, basename="call")
    router.register("billing-entries", LedgerEntryViewSet, basename="billing-entry")
    router.register("invoices", InvoiceViewSet, basename="invoice")
