"""JSON API for Coupa: the same operations as the pages (connection, tabs, Show to Users,
charts, Sync Data, runs) and what requesters may pick."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coupa.api.serializers import (
    PICKABLE_SERIALIZERS,
    SERIALIZERS,
    BulkVisibilitySerializer,
    ChangedSerializer,
    ChartSelectionSerializer,
    ChartSerializer,
    ConnectionSerializer,
    ConnectSerializer,
    SyncRequestSerializer,
    SyncRunSerializer,
    UpdateSerializer,
    ValidationSerializer,
    VisibilitySerializer,
    model_of,
)
from coupa.client.domains import CoupaDomainError
from coupa.connections.selectors import connection_summary
from coupa.connections.services import (
    ConnectionChangeError,
    ConnectionInput,
    coupa_connect,
    coupa_connection_update,
    coupa_disconnect,
    coupa_validate,
)
from coupa.reference.selectors import chart_list, parse_filter, pickable_list, record_list
from coupa.reference.services import (
    ChartSelectionError,
    charts_select,
    records_bulk_set_shown,
    records_set_shown,
)
from coupa.reference.sync import SyncRequestError, sync_cancel, sync_request
from coupa.requisitions.status_sync import requisition_sync_request
from integrations.models import Connection, ConnectionValidation, SyncRun
from integrations.selectors import (
    connection_current,
    connection_validation_get,
    connection_validation_latest,
    sync_run_list,
)
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import IsOrganizationMember, capability_permission
from spendflo.users.roles import Capability

CanRead = capability_permission(Capability.VIEW_INTEGRATIONS)
CanConfigure = capability_permission(Capability.CONFIGURE_INTEGRATIONS)
CanSync = capability_permission(Capability.TRIGGER_SYNC)


def _not_connected() -> dict[str, Any]:
    return {
        "state": "not_connected",
        "state_label": "Not connected",
        "state_reason": "",
        "is_draft": False,
        "actions": ["connect"],
        "base_url": None,
        "host": None,
        "client_id": None,
        "scopes_checked": False,
        "granted_scopes": [],
        "missing_scopes": [],
        "rate_limit": None,
        "last_validated_at": None,
        "latest_validation": None,
    }


def _validation_response(validation: ConnectionValidation) -> Response:
    return Response(ValidationSerializer(validation).data, status=status.HTTP_202_ACCEPTED)


def _save_connection(
    save: Callable[..., ConnectionValidation], request: Request, data: Mapping[str, Any]
) -> Response:
    """Connect or edit through `save`; the services' refusals become 400 answers."""
    try:
        validation = save(
            organization=request_organization(request),
            user=request_user(request),
            data=ConnectionInput.from_mapping(data),
        )
    except CoupaDomainError as exc:
        raise ValidationError({"domain": [str(exc)]}) from exc
    except ConnectionChangeError as exc:
        raise ValidationError({"detail": str(exc)}) from exc
    return _validation_response(validation)


class CoupaConnectionView(APIView):
    """The organization's Coupa connection: read (admins, ops) and edit (admins)."""

    def get_permissions(self) -> list[Any]:
        return [CanConfigure() if self.request.method == "PATCH" else CanRead()]

    @extend_schema(responses=ConnectionSerializer)
    def get(self, request: Request) -> Response:
        connection = connection_current(organization=request_organization(request))
        if connection is None:
            return Response(_not_connected())
        latest = connection_validation_latest(connection=connection)
        body = {
            **connection_summary(connection),
            "latest_validation": ValidationSerializer(latest).data if latest else None,
        }
        return Response(body)

    @extend_schema(request=UpdateSerializer, responses={202: ValidationSerializer})
    def patch(self, request: Request) -> Response:
        connection = connection_current(organization=request_organization(request))
        if connection is None:
            raise NotFound("Coupa is not connected for this organization.")
        payload = UpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        return _save_connection(coupa_connection_update, request, payload.validated_data)


class CoupaConnectView(APIView):
    permission_classes = [CanConfigure]

    @extend_schema(request=ConnectSerializer, responses={202: ValidationSerializer})
    def post(self, request: Request) -> Response:
        payload = ConnectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return _save_connection(coupa_connect, request, payload.validated_data)


class CoupaValidateView(APIView):
    permission_classes = [CanConfigure]

    @extend_schema(request=None, responses={202: ValidationSerializer})
    def post(self, request: Request) -> Response:
        try:
            validation = coupa_validate(
                organization=request_organization(request), user=request_user(request)
            )
        except ConnectionChangeError as exc:
            raise NotFound(str(exc)) from exc
        return _validation_response(validation)


class CoupaDisconnectView(APIView):
    permission_classes = [CanConfigure]

    @extend_schema(request=None, responses=ConnectionSerializer)
    def post(self, request: Request) -> Response:
        try:
            connection = coupa_disconnect(
                organization=request_organization(request), user=request_user(request)
            )
        except ConnectionChangeError as exc:
            raise NotFound(str(exc)) from exc
        return Response({**connection_summary(connection), "latest_validation": None})


class CoupaValidationView(APIView):
    permission_classes = [CanRead]

    @extend_schema(responses=ValidationSerializer)
    def get(self, request: Request, pk: int) -> Response:
        validation = connection_validation_get(
            organization=request_organization(request), validation_id=pk
        )
        if validation is None:
            raise NotFound
        return Response(ValidationSerializer(validation).data)


FILTER_PARAMETERS = [
    OpenApiParameter("search", str, description="Search codes, names and numbers"),
    OpenApiParameter("chart", int, description="Accounts only: our chart id"),
    OpenApiParameter("visibility", str, enum=["shown", "hidden"]),
    OpenApiParameter("active", str, enum=["active", "inactive"]),
    OpenApiParameter(
        "sort", str, description="code, name, number, chart, status, imported; '-' for descending"
    ),
]


def _connection(request: Request) -> Connection:
    connection = connection_current(organization=request_organization(request))
    if connection is None:
        raise NotFound("Coupa is not connected for this organization.")
    return connection


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


def record_list_view(kind: str) -> type[_RecordList]:
    serializer = SERIALIZERS[kind]
    return type(
        f"{kind.title()}ListView",
        (_RecordList,),
        # A typed empty queryset lets the schema generator describe path and filter types.
        {
            "kind": kind,
            "serializer_class": serializer,
            "queryset": model_of(serializer).objects.none(),
        },
    )


class _RecordVisibility(APIView):
    """Show or hide one record to requesters (admins)."""

    kind = ""
    permission_classes = [CanConfigure]

    def patch(self, request: Request, pk: int) -> Response:
        payload = VisibilitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        connection = _connection(request)
        qs = record_list(
            organization=request_organization(request),
            connection=connection,
            kind=self.kind,
            filters=parse_filter({}),
        )
        if not qs.filter(pk=pk).exists():
            raise NotFound
        records_set_shown(
            connection=connection,
            user=request_user(request),
            kind=self.kind,
            ids=[pk],
            shown=payload.validated_data["show_to_users"],
        )
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
            connection=_connection(request),
            user=request_user(request),
            kind=self.kind,
            filters=parse_filter(data),
            shown=data["show_to_users"],
        )
        return Response({"changed": changed})


def visibility_views(kind: str) -> tuple[type[APIView], type[APIView]]:
    def patch(self: _RecordVisibility, request: Request, pk: int) -> Response:
        return _RecordVisibility.patch(self, request, pk)

    def post(self: _RecordBulkVisibility, request: Request) -> Response:
        return _RecordBulkVisibility.post(self, request)

    single = type(
        f"{kind.title()}VisibilityView",
        (_RecordVisibility,),
        {
            "kind": kind,
            "patch": extend_schema(request=VisibilitySerializer, responses=SERIALIZERS[kind])(
                patch
            ),
        },
    )
    bulk = type(
        f"{kind.title()}BulkVisibilityView",
        (_RecordBulkVisibility,),
        {
            "kind": kind,
            "post": extend_schema(request=BulkVisibilitySerializer, responses=ChangedSerializer)(
                post
            ),
        },
    )
    return single, bulk


class ChartsView(APIView):
    """Active charts of accounts (admins and ops read; admins choose)."""

    def get_permissions(self) -> list[Any]:
        return [CanConfigure() if self.request.method == "PUT" else CanRead()]

    @extend_schema(responses=ChartSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            ChartSerializer(chart_list(connection=_connection(request)), many=True).data
        )

    @extend_schema(request=ChartSelectionSerializer, responses=SyncRunSerializer(allow_null=True))
    def put(self, request: Request) -> Response:
        payload = ChartSelectionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        connection = _connection(request)
        try:
            run = charts_select(
                connection=connection,
                chart_ids=payload.validated_data["chart_ids"],
                user=request_user(request),
            )
        except ChartSelectionError as exc:
            raise ValidationError({"chart_ids": [str(exc)]}) from exc
        return Response(SyncRunSerializer(run).data if run else None)


class SyncView(APIView):
    """Start a sync now (or get the running one): the Sync Data button."""

    permission_classes = [CanSync]

    @extend_schema(request=SyncRequestSerializer, responses={202: SyncRunSerializer})
    def post(self, request: Request) -> Response:
        payload = SyncRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            run = sync_request(
                connection=_connection(request),
                trigger=SyncRun.Trigger.MANUAL,
                user=request_user(request),
                resources=payload.validated_data["resources"] or None,
                full=payload.validated_data["full"],
            )
        except SyncRequestError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RequisitionSyncView(APIView):
    """Refresh the PRs' statuses and POs now (a daily pass): Sync activity's ops button."""

    permission_classes = [CanSync]

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("RequisitionSyncQueued", {"detail": serializers.CharField()})
        },
    )
    def post(self, request: Request) -> Response:
        requisition_sync_request(connection=_connection(request))
        return Response(
            {"detail": "Coupa PR statuses are being synced; the run appears on Sync activity."},
            status=status.HTTP_202_ACCEPTED,
        )


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
            organization=request_organization(self.request),
            kind=self.kind,
            search=self.request.query_params.get("search", ""),
        )

    @extend_schema(parameters=[OpenApiParameter("search", str)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def pickable_view(kind: str) -> type[_Pickable]:
    serializer = PICKABLE_SERIALIZERS[kind]
    return type(
        f"Pickable{kind.title()}View",
        (_Pickable,),
        {
            "kind": kind,
            "serializer_class": serializer,
            "queryset": model_of(serializer).objects.none(),
        },
    )
