"""JSON API for Coupa: the same operations as the pages (connection, tabs, Show to Users,
charts, Sync Data, runs) and what requesters may pick."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coupa.api.pagination import CappedPagination
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
from coupa.reference.registry import PICKABLE, RESOURCES
from coupa.reference.selectors import (
    RecordFilter,
    RecordFilterError,
    chart_list,
    parse_filter,
    pickable_list,
    record_list,
)
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

# A job the task queue refused (integrations.api.exception_handler): nothing is left
# waiting, and the sentence says what to do.
QUEUE_UNAVAILABLE = OpenApiResponse(
    inline_serializer("QueueUnavailable", {"detail": serializers.CharField()}),
    description="The task queue is unavailable; nothing was left waiting. Try again later.",
)

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

    raises_not_found = ("patch",)  # 404 while Coupa is not connected (in the schema)

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

    @extend_schema(
        request=UpdateSerializer, responses={202: ValidationSerializer, 503: QUEUE_UNAVAILABLE}
    )
    def patch(self, request: Request) -> Response:
        connection = connection_current(organization=request_organization(request))
        if connection is None:
            raise NotFound("Coupa is not connected for this organization.")
        payload = UpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        return _save_connection(coupa_connection_update, request, payload.validated_data)


class CoupaConnectView(APIView):
    permission_classes = [CanConfigure]

    @extend_schema(
        request=ConnectSerializer, responses={202: ValidationSerializer, 503: QUEUE_UNAVAILABLE}
    )
    def post(self, request: Request) -> Response:
        payload = ConnectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return _save_connection(coupa_connect, request, payload.validated_data)


class CoupaValidateView(APIView):
    raises_not_found = True  # 404 while Coupa is not connected (in the schema)
    permission_classes = [CanConfigure]

    @extend_schema(request=None, responses={202: ValidationSerializer, 503: QUEUE_UNAVAILABLE})
    def post(self, request: Request) -> Response:
        try:
            validation = coupa_validate(
                organization=request_organization(request), user=request_user(request)
            )
        except ConnectionChangeError as exc:
            raise NotFound(str(exc)) from exc
        return _validation_response(validation)


class CoupaDisconnectView(APIView):
    raises_not_found = True  # 404 while Coupa is not connected (in the schema)
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


def filter_parameters(kind: str) -> list[OpenApiParameter]:
    """The query parameters of a tab's list: what `parse_filter` reads for that kind."""
    sorts = list(RESOURCES[kind].sorts)
    parameters = [OpenApiParameter("search", str, description="Search codes, names and numbers")]
    if kind == "accounts":
        parameters.append(OpenApiParameter("chart", int, description="Our chart id"))
    if kind in PICKABLE:
        parameters.append(OpenApiParameter("visibility", str, enum=["shown", "hidden"]))
    parameters.append(OpenApiParameter("active", str, enum=["active", "inactive"]))
    if sorts:
        parameters.append(
            OpenApiParameter(
                "sort",
                str,
                enum=[*sorts, *(f"-{s}" for s in sorts)],
                description="'-' for descending",
            )
        )
    return parameters


def _filters(params: Any, kind: str) -> RecordFilter:
    """The tab filter of a request; a value that does not parse is a 400 naming it."""
    try:
        return parse_filter(params, kind=kind)
    except RecordFilterError as exc:
        raise ValidationError({exc.field: [exc.message]}) from exc


def _connection(request: Request) -> Connection:
    connection = connection_current(organization=request_organization(request))
    if connection is None:
        raise NotFound("Coupa is not connected for this organization.")
    return connection


class _RecordList(generics.ListAPIView):  # type: ignore[type-arg]
    """Imported records of the current Coupa connection (admins and ops)."""

    raises_not_found = True  # 404 while Coupa is not connected (in the schema)

    kind = ""
    permission_classes = [CanRead]
    pagination_class = CappedPagination  # counted up to 1,000, as the tabs are

    def get_queryset(self) -> QuerySet[Any]:
        return record_list(
            organization=request_organization(self.request),
            connection=_connection(self.request),
            kind=self.kind,
            filters=_filters(self.request.query_params, self.kind),
        )


def record_list_view(kind: str) -> type[_RecordList]:
    serializer = SERIALIZERS[kind]

    def get(self: _RecordList, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _RecordList.get(self, request, *args, **kwargs)

    return type(
        f"{kind.title()}ListView",
        (_RecordList,),
        # A typed empty queryset lets the schema generator describe path and filter types.
        {
            "kind": kind,
            "serializer_class": serializer,
            "queryset": model_of(serializer).objects.none(),
            "get": extend_schema(parameters=filter_parameters(kind))(get),
        },
    )


class _RecordVisibility(APIView):
    """Show or hide one record to requesters (admins)."""

    kind = ""
    permission_classes = [CanConfigure]

    def patch(self, request: Request, pk: int) -> Response:
        connection = _connection(request)
        qs = record_list(
            organization=request_organization(request),
            connection=connection,
            kind=self.kind,
            filters=RecordFilter(),
        )
        # Another organization's record is not found, whatever the body says.
        if not qs.filter(pk=pk).exists():
            raise NotFound
        payload = VisibilitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
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

    raises_not_found = True  # 404 while Coupa is not connected (in the schema)

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
            filters=_filters(data, self.kind),
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

    raises_not_found = True  # 404 while Coupa is not connected (in the schema)

    def get_permissions(self) -> list[Any]:
        return [CanConfigure() if self.request.method == "PUT" else CanRead()]

    @extend_schema(responses=ChartSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            ChartSerializer(chart_list(connection=_connection(request)), many=True).data
        )

    @extend_schema(
        request=ChartSelectionSerializer,
        responses={
            200: OpenApiResponse(
                SyncRunSerializer, description="Charts were added: the sync importing them."
            ),
            204: OpenApiResponse(description="Saved; no chart was added, nothing to import."),
            503: QUEUE_UNAVAILABLE,
        },
    )
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
        if run is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(SyncRunSerializer(run).data)


class SyncView(APIView):
    """Start a sync now (or get the running one): the Sync Data button."""

    raises_not_found = True  # 404 while Coupa is not connected (in the schema)

    permission_classes = [CanSync]

    @extend_schema(
        request=SyncRequestSerializer, responses={202: SyncRunSerializer, 503: QUEUE_UNAVAILABLE}
    )
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

    raises_not_found = True  # 404 while Coupa is not connected (in the schema)

    permission_classes = [CanSync]

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("RequisitionSyncQueued", {"detail": serializers.CharField()}),
            503: QUEUE_UNAVAILABLE,
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
    pagination_class = CappedPagination

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
