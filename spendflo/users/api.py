from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from spendflo.organizations.services import (
    organization_set_show_new_records,
    organization_set_time_zone,
)
from spendflo.organizations.timezones import TimeZoneError, time_zone_validate
from spendflo.users.context import request_organization, request_user
from spendflo.users.forms import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH
from spendflo.users.models import User
from spendflo.users.permissions import IsOrganizationMember, capability_permission
from spendflo.users.roles import Capability, capabilities_for
from spendflo.users.selectors import user_list
from spendflo.users.services import UserError, user_change_role, user_create, user_set_active


class OrganizationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    show_new_records_by_default = serializers.BooleanField(required=False)
    time_zone = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="IANA time zone name (such as Europe/Paris) that pages show dates and "
        "times in. Datetimes in the API are ISO 8601 with an offset, whatever this says.",
    )

    def validate_time_zone(self, value: str) -> str:
        try:
            return time_zone_validate(value)
        except TimeZoneError as exc:
            raise ValidationError(str(exc)) from exc


class OrganizationView(APIView):
    """The current organization; admins change its settings (any subset of them)."""

    def get_permissions(self) -> list[Any]:
        if self.request.method == "PATCH":
            return [capability_permission(Capability.CONFIGURE_INTEGRATIONS)()]
        return [IsAuthenticated(), IsOrganizationMember()]

    @extend_schema(responses=OrganizationSerializer)
    def get(self, request: Request) -> Response:
        return Response(OrganizationSerializer(request_organization(request)).data)

    @extend_schema(request=OrganizationSerializer, responses=OrganizationSerializer)
    def patch(self, request: Request) -> Response:
        payload = OrganizationSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization, user = request_organization(request), request_user(request)
        data = payload.validated_data
        if "show_new_records_by_default" in data:
            organization = organization_set_show_new_records(
                organization=organization, user=user, shown=data["show_new_records_by_default"]
            )
        if "time_zone" in data:
            organization = organization_set_time_zone(
                organization=organization, user=user, time_zone=data["time_zone"]
            )
        return Response(OrganizationSerializer(organization).data)


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "is_active"]
        read_only_fields = ["id", "email", "first_name", "last_name", "is_active"]


class MeSerializer(serializers.Serializer[Any]):
    user = UserSerializer()
    organization = OrganizationSerializer(allow_null=True)
    role = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        if not isinstance(user, User):
            raise NotAuthenticated
        return Response(
            {
                "user": UserSerializer(user).data,
                "organization": OrganizationSerializer(user.organization).data
                if user.organization
                else None,
                "role": user.role,
                "capabilities": sorted(c.value for c in capabilities_for(user)),
            }
        )


class UserCreateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    first_name = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=NAME_MAX_LENGTH
    )
    last_name = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=NAME_MAX_LENGTH
    )
    role = serializers.ChoiceField(choices=User.Role.choices)


class UserCreatedSerializer(UserSerializer):
    one_time_password = serializers.CharField(read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "one_time_password"]


class UserUpdateSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=User.Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[User],
):
    """The organization's users (admins only)."""

    serializer_class = UserSerializer
    permission_classes = [capability_permission(Capability.MANAGE_USERS)]
    queryset = User.objects.none()  # typed path parameters in the schema; see get_queryset

    def get_queryset(self) -> QuerySet[User]:
        return user_list(organization=request_organization(self.request))

    @extend_schema(request=UserCreateSerializer, responses={201: UserCreatedSerializer})
    def create(self, request: Request) -> Response:
        payload = UserCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            user, password = user_create(
                organization=request_organization(request),
                **payload.validated_data,
            )
        except UserError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        data = dict(UserSerializer(user).data)
        data["one_time_password"] = password
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        payload = UserUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            if "role" in payload.validated_data:
                user_change_role(user=user, role=payload.validated_data["role"])
            if "is_active" in payload.validated_data:
                user_set_active(user=user, active=payload.validated_data["is_active"])
        except UserError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(UserSerializer(user).data)
