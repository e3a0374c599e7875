"""JSON API of workflows, their versions, forms and steps, and publishing (admins).

Every object is looked up within the requester's organization, so another tenant's ids
are 404. Published versions are frozen: `POST /workflows/{id}/draft` gives the version to
edit (a copy of the published one when there is no draft yet).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from spendflo.users.context import request_organization, request_user
from spendflo.users.models import User
from spendflo.users.permissions import capability_permission
from spendflo.users.roles import Capability
from spendflo.workflows.models import FormField, Workflow, WorkflowVersion
from spendflo.workflows.selectors import (
    form_field_list,
    version_get,
    version_list,
    workflow_list,
)
from spendflo.workflows.services import (
    FieldInput,
    PublishBlockedError,
    WorkflowError,
    fields_reorder,
    form_field_add,
    form_field_move,
    form_field_remove,
    form_field_update,
    publish_blockers,
    version_draft_for,
    version_publish,
    version_steps_set,
    workflow_create,
    workflow_update,
)

#: Workflows are configured by those who configure the integration (admins), as the pages.
CanManageWorkflows = capability_permission(Capability.CONFIGURE_INTEGRATIONS)


# --- serializers ----------------------------------------------------------------------

# Fields named label, help_text, required, source or default shadow attributes of DRF's
# Field in the type stubs, hence their `type: ignore[assignment]`.


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="Why the change was refused, for the admin.")


class BlockerSerializer(serializers.Serializer[Any]):
    target = serializers.CharField(help_text="The provider field to fix, or empty.")
    message = serializers.CharField()
    url = serializers.CharField(help_text="The page where it is fixed, when there is one.")


class PublishBlockedSerializer(ErrorSerializer):
    blockers = BlockerSerializer(many=True)


class WorkflowSerializer(serializers.ModelSerializer[Workflow]):
    published_version_id = serializers.IntegerField(
        source="published_id", read_only=True, allow_null=True, default=None
    )
    published_version = serializers.IntegerField(
        source="published_number", read_only=True, allow_null=True, default=None,
        help_text="The number of the version requesters use, if any.",
    )  # fmt: skip
    draft_version_id = serializers.IntegerField(
        source="draft_id", read_only=True, allow_null=True, default=None
    )
    draft_version = serializers.IntegerField(
        source="draft_number", read_only=True, allow_null=True, default=None,
        help_text="The number of the version being edited, if any.",
    )  # fmt: skip

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "published_version_id",
            "published_version",
            "draft_version_id",
            "draft_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class WorkflowInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class WorkflowUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class FormFieldSerializer(serializers.ModelSerializer[FormField]):
    class Meta:
        model = FormField
        fields = [
            "id",
            "group",
            "position",
            "label",
            "api_name",
            "type",
            "help_text",
            "required",
            "choices",
            "is_picker",
        ]
        read_only_fields = fields


class FormFieldInputSerializer(serializers.Serializer[Any]):
    label = serializers.CharField(max_length=120)  # type: ignore[assignment]
    api_name = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="",
        help_text="Made from the label when empty; fixed once the field exists.",
    )  # fmt: skip
    type = serializers.ChoiceField(FormField.Type.choices, default=FormField.Type.SHORT_TEXT)
    group = serializers.ChoiceField(FormField.Group.choices, default=FormField.Group.REQUEST)
    help_text = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    required = serializers.BooleanField(default=False)  # type: ignore[assignment]
    choices = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, default=list
    )


class FormFieldUpdateSerializer(serializers.Serializer[Any]):
    """What may change of a field; its API name and group stay (mappings refer to them)."""

    label = serializers.CharField(max_length=120, required=False)  # type: ignore[assignment]
    type = serializers.ChoiceField(FormField.Type.choices, required=False)
    help_text = serializers.CharField(max_length=300, required=False, allow_blank=True)  # type: ignore[assignment]
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    choices = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)


class MoveSerializer(serializers.Serializer[Any]):
    offset = serializers.IntegerField(help_text="-1 moves the field up, +1 down (in its group).")


class ReorderSerializer(serializers.Serializer[Any]):
    api_names = serializers.ListField(
        child=serializers.CharField(), allow_empty=False,
        help_text="The API names of one group's fields, in their new order.",
    )  # fmt: skip


class VersionSerializer(serializers.ModelSerializer[WorkflowVersion]):
    approver = serializers.PrimaryKeyRelatedField[User](read_only=True, allow_null=True)
    published_by = serializers.CharField(
        source="published_by.email", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = WorkflowVersion
        fields = [
            "id",
            "workflow",
            "number",
            "state",
            "is_editable",
            "approval",
            "approver",
            "document_status",
            "published_at",
            "published_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class VersionDetailSerializer(VersionSerializer):
    form_fields = serializers.SerializerMethodField(help_text="The form, in its order.")

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "form_fields"]
        read_only_fields = fields

    @extend_schema_field(FormFieldSerializer(many=True))
    def get_form_fields(self, version: WorkflowVersion) -> list[dict[str, Any]]:
        return list(FormFieldSerializer(form_field_list(version=version), many=True).data)


class StepsSerializer(serializers.Serializer[Any]):
    approval = serializers.ChoiceField(WorkflowVersion.Approval.choices)
    approver = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="The approving user's id, when approval is by a named user.",
    )  # fmt: skip
    document_status = serializers.ChoiceField(WorkflowVersion.DocumentStatus.choices)


# --- helpers ----------------------------------------------------------------------------


def _refused(exc: Exception) -> ValidationError:
    return ValidationError({"detail": str(exc)})


def _workflow(request: Request, pk: int) -> Workflow:
    workflow = workflow_list(organization=request_organization(request)).filter(pk=pk).first()
    if workflow is None:
        raise NotFound("No such workflow.")
    return workflow


def version_for_request(request: Request, pk: int) -> WorkflowVersion:
    """The organization's version `pk`; 404 for another tenant's or an unknown id."""
    version = version_get(organization=request_organization(request), version_id=pk)
    if version is None:
        raise NotFound("No such workflow version.")
    return version


def _field(request: Request, version_id: int, field_id: int) -> FormField:
    version = version_for_request(request, version_id)
    field = version.fields.filter(pk=field_id).select_related("version__workflow").first()
    if field is None:
        raise NotFound("No such form field in this version.")
    return field


def _fields_response(version: WorkflowVersion) -> Response:
    return Response(FormFieldSerializer(form_field_list(version=version), many=True).data)


REFUSED = OpenApiResponse(ErrorSerializer, description="The change was refused (see detail).")


# --- workflows ----------------------------------------------------------------------------


class WorkflowList(generics.ListAPIView):  # type: ignore[type-arg]
    """The organization's workflows, with their published and draft version numbers."""

    serializer_class = WorkflowSerializer
    permission_classes = [CanManageWorkflows]
    queryset = Workflow.objects.none()

    def get_queryset(self) -> QuerySet[Workflow]:
        return workflow_list(organization=request_organization(self.request))

    @extend_schema(
        request=WorkflowInputSerializer, responses={201: WorkflowSerializer, 400: REFUSED}
    )
    def post(self, request: Request) -> Response:
        payload = WorkflowInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            workflow = workflow_create(
                organization=request_organization(request),
                user=request_user(request),
                **payload.validated_data,
            )
        except WorkflowError as exc:
            raise _refused(exc) from exc
        return Response(
            WorkflowSerializer(_workflow(request, workflow.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class WorkflowDetail(APIView):
    permission_classes = [CanManageWorkflows]

    @extend_schema(responses=WorkflowSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(WorkflowSerializer(_workflow(request, pk)).data)

    @extend_schema(
        request=WorkflowUpdateSerializer, responses={200: WorkflowSerializer, 400: REFUSED}
    )
    def patch(self, request: Request, pk: int) -> Response:
        workflow = _workflow(request, pk)
        payload = WorkflowUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            workflow_update(workflow=workflow, user=request_user(request), **payload.validated_data)
        except WorkflowError as exc:
            raise _refused(exc) from exc
        return Response(WorkflowSerializer(_workflow(request, pk)).data)


class WorkflowVersionList(generics.ListAPIView):  # type: ignore[type-arg]
    """A workflow's versions, newest first."""

    serializer_class = VersionSerializer
    permission_classes = [CanManageWorkflows]
    queryset = WorkflowVersion.objects.none()

    def get_queryset(self) -> QuerySet[WorkflowVersion]:
        workflow = _workflow(self.request, self.kwargs["pk"])
        return version_list(organization=request_organization(self.request)).filter(
            workflow=workflow
        )


class WorkflowDraft(APIView):
    """The workflow's draft version, made from the latest one when there is none."""

    permission_classes = [CanManageWorkflows]

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(VersionDetailSerializer, description="The existing draft."),
            201: OpenApiResponse(VersionDetailSerializer, description="A new draft."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        workflow = _workflow(request, pk)
        existed = workflow.versions.filter(state=WorkflowVersion.State.DRAFT).exists()
        draft = version_draft_for(workflow=workflow, user=request_user(request))
        return Response(
            VersionDetailSerializer(version_for_request(request, draft.pk)).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


# --- versions -----------------------------------------------------------------------------


class VersionDetail(APIView):
    permission_classes = [CanManageWorkflows]

    @extend_schema(responses=VersionDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(VersionDetailSerializer(version_for_request(request, pk)).data)


class VersionSteps(APIView):
    """The in-app approval step and the status the requisition gets in the provider."""

    permission_classes = [CanManageWorkflows]

    @extend_schema(request=StepsSerializer, responses={200: VersionSerializer, 400: REFUSED})
    def put(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        payload = StepsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        approver = None
        if data["approver"] is not None:
            approver = User.objects.filter(
                pk=data["approver"], organization=request_organization(request)
            ).first()
            if approver is None:
                raise ValidationError({"detail": "No such user in this organization."})
        try:
            version_steps_set(
                version=version,
                approval=data["approval"],
                approver=approver,
                document_status=data["document_status"],
                user=request_user(request),
            )
        except WorkflowError as exc:
            raise _refused(exc) from exc
        return Response(VersionSerializer(version_for_request(request, pk)).data)


class VersionBlockers(APIView):
    """What keeps the version from being published: the list publishing refuses with."""

    permission_classes = [CanManageWorkflows]

    @extend_schema(responses=BlockerSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        blockers = publish_blockers(version) if version.is_editable else []
        return Response(BlockerSerializer(blockers, many=True).data)


class VersionPublish(APIView):
    permission_classes = [CanManageWorkflows]

    @extend_schema(
        request=None,
        responses={
            200: VersionSerializer,
            400: OpenApiResponse(
                PublishBlockedSerializer,
                description="Not published: `blockers` lists what to fix (empty when the "
                "version is not a draft).",
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        try:
            version_publish(version=version, user=request_user(request))
        except PublishBlockedError as exc:
            body = {"detail": str(exc), "blockers": BlockerSerializer(exc.blockers, many=True).data}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        except WorkflowError as exc:
            return Response(
                {"detail": str(exc), "blockers": []}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(VersionSerializer(version_for_request(request, pk)).data)


# --- form fields ----------------------------------------------------------------------------


class FormFieldList(APIView):
    """A version's form fields (request's first, then each line's); add one to a draft."""

    permission_classes = [CanManageWorkflows]

    @extend_schema(responses=FormFieldSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        return _fields_response(version_for_request(request, pk))

    @extend_schema(
        request=FormFieldInputSerializer, responses={201: FormFieldSerializer, 400: REFUSED}
    )
    def post(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        payload = FormFieldInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            field = form_field_add(
                version=version,
                data=FieldInput.from_mapping(payload.validated_data),
                user=request_user(request),
            )
        except WorkflowError as exc:
            raise _refused(exc) from exc
        return Response(FormFieldSerializer(field).data, status=status.HTTP_201_CREATED)


class FormFieldDetail(APIView):
    permission_classes = [CanManageWorkflows]

    @extend_schema(responses=FormFieldSerializer)
    def get(self, request: Request, pk: int, field_id: int) -> Response:
        return Response(FormFieldSerializer(_field(request, pk, field_id)).data)

    @extend_schema(
        request=FormFieldUpdateSerializer, responses={200: FormFieldSerializer, 400: REFUSED}
    )
    def patch(self, request: Request, pk: int, field_id: int) -> Response:
        field = _field(request, pk, field_id)
        payload = FormFieldUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        current = {
            "label": field.label,
            "type": field.type,
            "help_text": field.help_text,
            "required": field.required,
            "choices": field.choices,
        }
        data = FieldInput.from_mapping({**current, **payload.validated_data})
        try:
            form_field_update(field=field, data=data, user=request_user(request))
        except WorkflowError as exc:
            raise _refused(exc) from exc
        field.refresh_from_db()
        return Response(FormFieldSerializer(field).data)

    @extend_schema(responses={204: None, 400: REFUSED})
    def delete(self, request: Request, pk: int, field_id: int) -> Response:
        field = _field(request, pk, field_id)
        try:
            form_field_remove(field=field, user=request_user(request))
        except WorkflowError as exc:
            raise _refused(exc) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class FormFieldMove(APIView):
    """Move a field up or down within its group; answers the version's fields."""

    permission_classes = [CanManageWorkflows]

    @extend_schema(
        request=MoveSerializer, responses={200: FormFieldSerializer(many=True), 400: REFUSED}
    )
    def post(self, request: Request, pk: int, field_id: int) -> Response:
        field = _field(request, pk, field_id)
        payload = MoveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            form_field_move(
                field=field, offset=payload.validated_data["offset"], user=request_user(request)
            )
        except WorkflowError as exc:
            raise _refused(exc) from exc
        return _fields_response(field.version)


class FormFieldReorder(APIView):
    """Put one group's fields in a new order; answers the version's fields."""

    permission_classes = [CanManageWorkflows]

    @extend_schema(
        request=ReorderSerializer, responses={200: FormFieldSerializer(many=True), 400: REFUSED}
    )
    def post(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        payload = ReorderSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            fields_reorder(
                version=version,
                api_names=payload.validated_data["api_names"],
                user=request_user(request),
            )
        except WorkflowError as exc:
            raise _refused(exc) from exc
        return _fields_response(version)
