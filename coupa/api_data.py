"""JSON API for imported Coupa data, Show to Users, charts, syncs and requester pickers."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coupa.models import (
    Account,
    Address,
    ChartOfAccounts,
    Commodity,
    CoupaUser,
    Currency,
    Department,
    Item,
    Uom,
    Vendor,
)
from coupa.selectors import chart_list, parse_filter, pickable_list, record_list
from coupa.services.charts import charts_select
from coupa.services.sync import SyncRequestError, sync_cancel, sync_request
from coupa.services.visibility import records_bulk_set_shown, records_set_shown
from integrations.models import Connection, SyncRun
from integrations.selectors import connection_current, sync_run_list
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import IsOrganizationMember, capability_permission
from spendflo.users.roles import Capability

CanRead = capability_permission(Capability.VIEW_INTEGRATIONS)
CanConfigure = capability_permission(Capability.CONFIGURE_INTEGRATIONS)
CanSync = capability_permission(Capability.TRIGGER_SYNC)

FILTER_PARAMETERS = [
    OpenApiParameter("search", str, description="Search codes, names and numbers"),
    OpenApiParameter("chart", int, description="Accounts only: our chart id"),
    OpenApiParameter("visibility", str, enum=["shown", "hidden"]),
    OpenApiParameter("active", str, enum=["active", "inactive"]),
    OpenApiParameter("sort", str, description="code, name, number, chart, status, imported; '-' for descending"),
]
COMMON = ["id", "external_id", "active", "coupa_updated_at", "imported_at", "synced_at"]


def _connection(request: Request) -> Connection:
    connection = connection_current(organization=request_organization(request))
    if connection is None:
        raise NotFound("Coupa is not connected for this organization.")
    return connection


class AccountSerializer(serializers.ModelSerializer[Account]):
    chart = serializers.CharField(source="chart.name", default=None, allow_null=True)
    offered = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Account
        fields = [*COMMON, "code", "name", "chart", "chart_external_id", "segments", "show_to_users", "offered"]


class VendorSerializer(serializers.ModelSerializer[Vendor]):
    offered = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Vendor
        fields = [*COMMON, "name", "display_name", "number", "status", "primary_contact_email",
                  "payment_term", "show_to_users", "offered"]


class ItemSerializer(serializers.ModelSerializer[Item]):
    offered = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Item
        fields = [*COMMON, "name", "item_number", "description", "uom_code", "commodity_name",
                  "show_to_users", "offered"]


def _supporting_serializer(model: type[Model], extra: list[str]) -> type[serializers.ModelSerializer[Any]]:
    meta = type("Meta", (), {"model": model, "fields": [*COMMON, *extra]})
    return type(f"{model.__name__}Serializer", (serializers.ModelSerializer,), {"Meta": meta})


SERIALIZERS: dict[str, type[serializers.ModelSerializer[Any]]] = {
    "accounts": AccountSerializer,
    "vendors": VendorSerializer,
    "items": ItemSerializer,
    "users": _supporting_serializer(CoupaUser, ["login", "email", "firstname", "lastname", "employee_number"]),
    "addresses": _supporting_serializer(Address, ["name", "location_code", "lines", "city", "state", "postal_code", "country_code"]),
    "commodities": _supporting_serializer(Commodity, ["name", "code", "category"]),
    "uoms": _supporting_serializer(Uom, ["code", "name"]),
    "currencies": _supporting_serializer(Currency, ["code", "name"]),
    "departments": _supporting_serializer(Department, ["name"]),
}


class _RecordList(generics.ListAPIView):  # type: ignore[type-arg]
    """Imported records of the current Coupa connection (admins and ops)."""

    kind = ""
    permission_classes = [CanRead]

    def get_queryset(self) -> QuerySet[Any]:
        return record_list(
            organization=request_organization(self.request),
            connection=_connection(self.request),
            kind=self.kind,
            filters=parse_filter(self.request.query_params),
        )

    @extend_schema(parameters=FILTER_PARAMETERS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _model_of(serializer: type[serializers.ModelSerializer[Any]]) -> Any:
    return serializer.Meta.model


def record_list_view(kind: str) -> type[_RecordList]:
    serializer = SERIALIZERS[kind]
    return type(
        f"{kind.title()}ListView", (_RecordList,),
        # A typed empty queryset lets the schema generator describe path and filter types.
        {"kind": kind, "serializer_class": serializer, "queryset": _model_of(serializer).objects.none()},
    )


class VisibilitySerializer(serializers.Serializer[Any]):
    show_to_users = serializers.BooleanField()


class BulkVisibilitySerializer(VisibilitySerializer):
    search = serializers.CharField(required=False, allow_blank=True, default="")
    chart = serializers.IntegerField(required=False, allow_null=True, default=None)
    visibility = serializers.ChoiceField(["", "shown", "hidden"], required=False, default="")
    active = serializers.ChoiceField(["", "active", "inactive"], required=False, default="")


class ChangedSerializer(serializers.Serializer[Any]):
    changed = serializers.IntegerField()


class _RecordVisibility(APIView):
    """Show or hide one record to requesters (admins)."""

    kind = ""
    permission_classes = [CanConfigure]

    def patch(self, request: Request, pk: int) -> Response:
        payload = VisibilitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        connection = _connection(request)
        qs = record_list(organization=request_organization(request), connection=connection,
                         kind=self.kind, filters=parse_filter({}))
        if not qs.filter(pk=pk).exists():
            raise NotFound
        records_set_shown(connection=connection, user=request_user(request), kind=self.kind,
                          ids=[pk], shown=payload.validated_data["show_to_users"])
        return Response(SERIALIZERS[self.kind](qs.get(pk=pk)).data)


class _RecordBulkVisibility(APIView):
    """Show or hide every record matching a filter (admins)."""

    kind = ""
    permission_classes = [CanConfigure]

    def post(self, request: Request) -> Response:
        payload = BulkVisibilitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        changed = records_bulk_set_shown(
            connection=_connection(request), user=request_user(request), kind=self.kind,
            filters=parse_filter(data), shown=data["show_to_users"],
        )
        return Response({"changed": changed})


def visibility_views(kind: str) -> tuple[type[APIView], type[APIView]]:
    def patch(self: _RecordVisibility, request: Request, pk: int) -> Response:
        return _RecordVisibility.patch(self, request, pk)

    def post(self: _RecordBulkVisibility, request: Request) -> Response:
        return _RecordBulkVisibility.post(self, request)

    single = type(f"{kind.title()}VisibilityView", (_RecordVisibility,), {
        "kind": kind,
        "patch": extend_schema(request=VisibilitySerializer, responses=SERIALIZERS[kind])(patch),
    })
    bulk = type(f"{kind.title()}BulkVisibilityView", (_RecordBulkVisibility,), {
        "kind": kind,
        "post": extend_schema(request=BulkVisibilitySerializer, responses=ChangedSerializer)(post),
    })
    return single, bulk


class ChartSerializer(serializers.ModelSerializer[ChartOfAccounts]):
    class Meta:
        model = ChartOfAccounts
        fields = ["id", "external_id", "name", "currency_code", "legal_entity_name", "dynamic", "selected", "active"]


class ChartSelectionSerializer(serializers.Serializer[Any]):
    chart_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)


class SyncRunSerializer(serializers.ModelSerializer[SyncRun]):
    host = serializers.CharField(source="connection.host")
    requested_by = serializers.CharField(source="requested_by.email", default=None, allow_null=True)

    class Meta:
        model = SyncRun
        fields = ["id", "host", "trigger", "state", "full", "resources", "requested_by", "created_at",
                  "started_at", "finished_at", "heartbeat_at", "progress", "counts", "requests",
                  "retries", "throttled", "error"]


class ChartsView(APIView):
    """Active charts of accounts (admins and ops read; admins choose)."""

    def get_permissions(self) -> list[Any]:
        return [CanConfigure() if self.request.method == "PUT" else CanRead()]

    @extend_schema(responses=ChartSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ChartSerializer(chart_list(connection=_connection(request)), many=True).data)

    @extend_schema(request=ChartSelectionSerializer, responses=SyncRunSerializer(allow_null=True))
    def put(self, request: Request) -> Response:
        payload = ChartSelectionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        connection = _connection(request)
        valid = set(chart_list(connection=connection).values_list("pk", flat=True))
        chosen = set(payload.validated_data["chart_ids"])
        if not chosen <= valid:
            raise ValidationError({"chart_ids": f"Unknown or inactive charts: {sorted(chosen - valid)}"})
        run = charts_select(connection=connection, chart_ids=chosen, user=request_user(request))
        return Response(SyncRunSerializer(run).data if run else None)


class SyncRequestSerializer(serializers.Serializer[Any]):
    full = serializers.BooleanField(required=False, default=False)
    resources = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class SyncView(APIView):
    """Start a sync now (or get the running one): the Sync Data button."""

    permission_classes = [CanSync]

    @extend_schema(request=SyncRequestSerializer, responses={202: SyncRunSerializer})
    def post(self, request: Request) -> Response:
        payload = SyncRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            run = sync_request(
                connection=_connection(request), trigger=SyncRun.Trigger.MANUAL,
                user=request_user(request), resources=payload.validated_data["resources"] or None,
                full=payload.validated_data["full"],
            )
        except SyncRequestError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunList(generics.ListAPIView):  # type: ignore[type-arg]
    """Every sync run of the organization, newest first (admins and ops)."""

    serializer_class = SyncRunSerializer
    permission_classes = [CanRead]
    queryset = SyncRun.objects.none()

    def get_queryset(self) -> QuerySet[SyncRun]:
        return sync_run_list(organization=request_organization(self.request))


class SyncRunDetail(generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = SyncRunSerializer
    permission_classes = [CanRead]
    queryset = SyncRun.objects.none()

    def get_queryset(self) -> QuerySet[SyncRun]:
        return sync_run_list(organization=request_organization(self.request))


class SyncRunCancel(APIView):
    permission_classes = [CanSync]

    @extend_schema(request=None, responses=SyncRunSerializer)
    def post(self, request: Request, pk: int) -> Response:
        run = sync_run_list(organization=request_organization(request)).filter(pk=pk).first()
        if run is None:
            raise NotFound
        sync_cancel(run=run, user=request_user(request))
        run.refresh_from_db()
        return Response(SyncRunSerializer(run).data)


class _Pickable(generics.ListAPIView):  # type: ignore[type-arg]
    """What requesters may pick (shown, active, chart selected, Coupa connected)."""

    kind = ""
    permission_classes = [IsAuthenticated, IsOrganizationMember]

    def get_queryset(self) -> QuerySet[Any]:
        return pickable_list(
            organization=request_organization(self.request), kind=self.kind,
            search=self.request.query_params.get("search", ""),
        )

    @extend_schema(parameters=[OpenApiParameter("search", str)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PickableAccountSerializer(serializers.ModelSerializer[Account]):
    chart = serializers.CharField(source="chart.name")

    class Meta:
        model = Account
        fields = ["id", "external_id", "code", "name", "chart"]


class PickableVendorSerializer(serializers.ModelSerializer[Vendor]):
    class Meta:
        model = Vendor
        fields = ["id", "external_id", "name", "display_name", "number"]


class PickableItemSerializer(serializers.ModelSerializer[Item]):
    class Meta:
        model = Item
        fields = ["id", "external_id", "name", "item_number", "description", "uom_code"]


PICKABLE_SERIALIZERS: dict[str, type[serializers.ModelSerializer[Any]]] = {
    "accounts": PickableAccountSerializer,
    "vendors": PickableVendorSerializer,
    "items": PickableItemSerializer,
}


def pickable_view(kind: str) -> type[_Pickable]:
    serializer = PICKABLE_SERIALIZERS[kind]
    return type(f"Pickable{kind.title()}View", (_Pickable,), {
        "kind": kind, "serializer_class": serializer, "queryset": _model_of(serializer).objects.none(),
    })
