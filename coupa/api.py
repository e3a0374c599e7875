"""JSON API for the Coupa connection: the same operations as the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coupa.domains import CoupaDomainError
from coupa.services.connections import (
    ConnectionChangeError,
    ConnectionInput,
    coupa_connect,
    coupa_connection_update,
    coupa_disconnect,
    coupa_validate,
)
from integrations.models import ConnectionValidation
from integrations.selectors import (
    connection_current,
    connection_summary,
    connection_validation_get,
    connection_validation_latest,
)
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import capability_permission
from spendflo.users.roles import Capability

CanRead = capability_permission(Capability.VIEW_INTEGRATIONS)
CanConfigure = capability_permission(Capability.CONFIGURE_INTEGRATIONS)


class ValidationSerializer(serializers.ModelSerializer[ConnectionValidation]):
    class Meta:
        model = ConnectionValidation
        fields = ["id", "state", "steps", "error", "created_at", "finished_at"]


class ConnectionSerializer(serializers.Serializer[Any]):
    state = serializers.CharField()
    state_label = serializers.CharField()
    state_reason = serializers.CharField()
    base_url = serializers.CharField(allow_null=True)
    host = serializers.CharField(allow_null=True)
    client_id = serializers.CharField(allow_null=True)
    granted_scopes = serializers.ListField(child=serializers.CharField())
    missing_scopes = serializers.ListField(child=serializers.CharField())
    rate_limit = serializers.FloatField(allow_null=True)
    last_validated_at = serializers.DateTimeField(allow_null=True)
    latest_validation = ValidationSerializer(allow_null=True)


class ConnectSerializer(serializers.Serializer[Any]):
    domain = serializers.CharField(max_length=255)
    client_id = serializers.CharField(max_length=255)
    client_secret = serializers.CharField(max_length=512, write_only=True)
    rate_limit = serializers.FloatField(min_value=1, max_value=25, required=False)


class UpdateSerializer(ConnectSerializer):
    domain = serializers.CharField(max_length=255, required=False)
    client_id = serializers.CharField(max_length=255, required=False)
    client_secret = serializers.CharField(
        max_length=512, write_only=True, required=False, allow_blank=True
    )


def _not_connected() -> dict[str, Any]:
    return {
        "state": "not_connected", "state_label": "Not connected", "state_reason": "",
        "base_url": None, "host": None, "client_id": None, "granted_scopes": [],
        "missing_scopes": [], "rate_limit": None, "last_validated_at": None,
        "latest_validation": None,
    }


def _validation_response(validation: ConnectionValidation) -> Response:
    return Response(ValidationSerializer(validation).data, status=status.HTTP_202_ACCEPTED)


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
        try:
            validation = coupa_connection_update(
                organization=request_organization(request),
                user=request_user(request),
                data=ConnectionInput.from_mapping(payload.validated_data),
            )
        except CoupaDomainError as exc:
            raise ValidationError({"domain": [str(exc)]}) from exc
        except ConnectionChangeError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return _validation_response(validation)


class CoupaConnectView(APIView):
    permission_classes = [CanConfigure]

    @extend_schema(request=ConnectSerializer, responses={202: ValidationSerializer})
    def post(self, request: Request) -> Response:
        payload = ConnectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            validation = coupa_connect(
                organization=request_organization(request),
                user=request_user(request),
                data=ConnectionInput.from_mapping(payload.validated_data),
            )
        except CoupaDomainError as exc:
            raise ValidationError({"domain": [str(exc)]}) from exc
        except ConnectionChangeError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return _validation_response(validation)


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


