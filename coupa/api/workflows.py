"""JSON API of a workflow version's Coupa side: the field mapping, suggestions, preview and
test draft (admins), the instance's custom field declarations (admins), and the pickers
every member uses to answer a form.

Versions are looked up within the requester's organization (another tenant's are 404);
mapping changes go through `coupa.requisitions.mapping`, which refuses what would let an
incomplete requisition reach Coupa, and its refusals are 400 with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coupa.api.pagination import PickerPagination
from coupa.reference.registry import RESOURCES
from coupa.reference.selectors import offered_record_list
from coupa.requisitions.custom_fields import (
    CustomFieldError,
    custom_field_create,
    custom_field_delete,
    custom_field_list,
    custom_field_update,
)
from coupa.requisitions.fields import custom_key
from coupa.requisitions.mapping import (
    MappingError,
    Problem,
    Row,
    mapping_accept_suggestions,
    mapping_problems,
    mapping_remove,
    mapping_set,
    mapping_table,
)
from coupa.requisitions.payload import sample_answers
from coupa.requisitions.services import (
    PreviewError,
    TestDraftUnconfirmedError,
    requisition_preview,
    requisition_test_draft,
)
from integrations.models import Connection, CustomFieldDefinition, FieldMapping
from integrations.selectors import connection_current
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import IsOrganizationMember, capability_permission
from spendflo.users.roles import Capability
from spendflo.workflows.api import ErrorSerializer, version_for_request
from spendflo.workflows.models import WorkflowVersion

CanConfigure = capability_permission(Capability.CONFIGURE_INTEGRATIONS)
REFUSED = OpenApiResponse(ErrorSerializer, description="The change was refused (see detail).")


# --- mapping ------------------------------------------------------------------------------

# Fields named label, help_text, required, source or default shadow attributes of DRF's
# Field in the type stubs, hence their `type: ignore[assignment]`.


class SuggestionSerializer(serializers.Serializer[Any]):
    source = serializers.ChoiceField(FieldMapping.Source.choices)  # type: ignore[assignment]
    form_field = serializers.IntegerField(allow_null=True, help_text="The form field's id.")
    value = serializers.JSONField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]
    reason = serializers.CharField()


class MappingRowSerializer(serializers.Serializer[Any]):
    target = serializers.CharField(help_text="The Coupa field key, e.g. line.currency.")
    label = serializers.CharField()  # type: ignore[assignment]
    level = serializers.ChoiceField(["header", "line"])
    coupa_type = serializers.CharField()
    help = serializers.CharField()
    sources = serializers.ListField(
        child=serializers.ChoiceField(FieldMapping.Source.choices),
        help_text="The kinds of source that can feed this field.",
    )
    custom = serializers.BooleanField(help_text="A declared custom field of the instance.")
    required = serializers.BooleanField()  # type: ignore[assignment]
    locked = serializers.BooleanField(help_text="Its mapping can be changed, not removed.")
    applies = serializers.BooleanField(help_text="False for quantity and UoM on amount lines.")
    source = serializers.ChoiceField(FieldMapping.Source.choices, allow_null=True)  # type: ignore[assignment]
    form_field = serializers.IntegerField(allow_null=True, help_text="The form field's id.")
    value = serializers.JSONField(allow_null=True)
    default = serializers.JSONField(allow_null=True)
    problems = serializers.ListField(child=serializers.CharField())
    suggestion = SuggestionSerializer(allow_null=True)


class ProblemSerializer(serializers.Serializer[Any]):
    target = serializers.CharField(help_text="The Coupa field key, or empty.")
    message = serializers.CharField()


class MappingTableSerializer(serializers.Serializer[Any]):
    rows = MappingRowSerializer(many=True)
    problems = ProblemSerializer(many=True, help_text="What keeps the version from publishing.")


class AcceptedSerializer(MappingTableSerializer):
    accepted = serializers.ListField(
        child=serializers.CharField(), help_text="The targets now mapped."
    )


class MappingInputSerializer(serializers.Serializer[Any]):
    source = serializers.ChoiceField(FieldMapping.Source.choices)  # type: ignore[assignment]
    form_field = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="The form field's id (source form_field).",
    )  # fmt: skip
    value = serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text='A constant (a picked record is {"id": <our id>}), or the requester or '
        "request attribute (email, login; title, number, link).",
    )  # fmt: skip
    default = serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text="Used when an optional form field is left empty.",
    )  # fmt: skip


class AcceptInputSerializer(serializers.Serializer[Any]):
    targets = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, default=None,
        help_text="The targets whose suggestion to accept; all of them when absent.",
    )  # fmt: skip


def _suggestion(row: Row) -> dict[str, Any] | None:
    s = row.suggestion
    if s is None:
        return None
    return {
        "source": s.source,
        "form_field": s.form_field.pk if s.form_field is not None else None,
        "value": s.value,
        "label": s.label,
        "reason": s.reason,
    }


def _row(row: Row) -> dict[str, Any]:
    pr, m = row.field, row.mapping
    return {
        "target": pr.key,
        "label": pr.label,
        "level": pr.level,
        "coupa_type": pr.coupa_type,
        "help": pr.help,
        "sources": list(pr.sources),
        "custom": pr.custom is not None,
        "required": row.required,
        "locked": row.locked,
        "applies": row.applies,
        "source": m.source if m is not None else None,
        "form_field": m.form_field_id if m is not None else None,
        "value": m.value if m is not None else None,
        "default": m.default if m is not None else None,
        "problems": list(row.problems),
        "suggestion": _suggestion(row),
    }


def _problems(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"target": p.target, "message": p.message} for p in problems]


def _table(version: WorkflowVersion) -> dict[str, Any]:
    return {
        "rows": [_row(r) for r in mapping_table(version)],
        "problems": _problems(mapping_problems(version)),
    }


class MappingView(APIView):
    """A version's mapping to Coupa's requisition: one row per Coupa field."""

    permission_classes = [CanConfigure]

    @extend_schema(responses=MappingTableSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_table(version_for_request(request, pk)))


class MappingTargetView(APIView):
    """Map one Coupa field (PUT) or unmap it (DELETE; refused when Coupa requires it)."""

    permission_classes = [CanConfigure]

    @extend_schema(
        request=MappingInputSerializer, responses={200: MappingRowSerializer, 400: REFUSED}
    )
    def put(self, request: Request, pk: int, target: str) -> Response:
        version = version_for_request(request, pk)
        payload = MappingInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        form_field = None
        if data["form_field"] is not None:
            form_field = version.fields.filter(pk=data["form_field"]).first()
            if form_field is None:
                raise ValidationError({"detail": "No such form field in this version."})
        try:
            mapping_set(
                version=version,
                target=target,
                source=data["source"],
                form_field=form_field,
                value=data["value"],
                default=data["default"],
                user=request_user(request),
            )
        except MappingError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        row = next(r for r in mapping_table(version) if r.field.key == target)
        return Response(_row(row))

    @extend_schema(responses={204: None, 400: REFUSED})
    def delete(self, request: Request, pk: int, target: str) -> Response:
        version = version_for_request(request, pk)
        try:
            mapping_remove(version=version, target=target, user=request_user(request))
        except MappingError as exc:  # MappingLockedError: required by Coupa
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class AcceptSuggestionsView(APIView):
    """Accept the suggestions of unmapped fields (all, or the listed targets)."""

    permission_classes = [CanConfigure]

    @extend_schema(request=AcceptInputSerializer, responses={200: AcceptedSerializer, 400: REFUSED})
    def post(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        payload = AcceptInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            made = mapping_accept_suggestions(
                version=version,
                targets=payload.validated_data["targets"],
                user=request_user(request),
            )
        except MappingError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response({"accepted": [m.target for m in made], **_table(version)})


# --- preview and test draft ---------------------------------------------------------------


class AnswersInputSerializer(serializers.Serializer[Any]):
    answers = serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text='{"request": {api_name: value}, "lines": [{api_name: value}, ...]}; '
        "sample answers from offered records when absent.",
    )  # fmt: skip

    def validate_answers(self, value: Any) -> Any:
        if value is not None and not isinstance(value, Mapping):
            raise serializers.ValidationError('Expected {"request": {...}, "lines": [...]}.')
        return value


class PreviewProblemsSerializer(serializers.Serializer[Any]):
    mapping = ProblemSerializer(many=True, help_text="Fixed once, in the mapping.")
    answers = ProblemSerializer(many=True, help_text="These answers, against imported data.")
    spec = ProblemSerializer(many=True, help_text="Coupa's R39 specification.")


class PreviewSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    payload = serializers.JSONField(help_text="The body POST /api/requisitions would get.")
    answers = serializers.JSONField(help_text="The answers the payload was built from.")
    problems = PreviewProblemsSerializer()


class TestDraftSerializer(serializers.Serializer[Any]):
    coupa_id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="The requisition's page in Coupa.")


class TestDraftRefusedSerializer(ErrorSerializer):
    messages = serializers.ListField(
        child=serializers.CharField(), help_text="The preview's problems or Coupa's messages."
    )


def _answers(request: Request, version: WorkflowVersion) -> dict[str, Any]:
    payload = AnswersInputSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    answers = payload.validated_data["answers"]
    if answers is None:
        return sample_answers(version, requester=request_user(request))
    return dict(answers)


class PreviewView(APIView):
    """The requisition these answers (or sample answers) would post, with every problem."""

    permission_classes = [CanConfigure]

    @extend_schema(request=AnswersInputSerializer, responses=PreviewSerializer)
    def post(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        answers = _answers(request, version)
        preview = requisition_preview(
            version=version, answers=answers, requester=request_user(request)
        )
        return Response(
            {
                "ok": preview.ok,
                "payload": preview.payload,
                "answers": answers,
                "problems": {
                    "mapping": _problems(preview.mapping),
                    "answers": _problems(preview.answers),
                    "spec": _problems(preview.spec),
                },
            }
        )


class TestDraftView(APIView):
    """Create a real draft requisition in Coupa from these answers, titled as a test."""

    permission_classes = [CanConfigure]

    @extend_schema(
        request=AnswersInputSerializer,
        responses={
            201: TestDraftSerializer,
            400: OpenApiResponse(
                TestDraftRefusedSerializer,
                description="The preview has problems, or Coupa refused the draft.",
            ),
            502: OpenApiResponse(
                TestDraftRefusedSerializer,
                description="Coupa did not answer: no draft was confirmed.",
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        version = version_for_request(request, pk)
        answers = _answers(request, version)
        try:
            draft = requisition_test_draft(
                version=version, answers=answers, user=request_user(request)
            )
        except PreviewError as exc:
            code = (
                status.HTTP_502_BAD_GATEWAY
                if isinstance(exc, TestDraftUnconfirmedError)
                else status.HTTP_400_BAD_REQUEST
            )
            return Response({"detail": str(exc), "messages": exc.messages}, status=code)
        return Response(
            {"coupa_id": draft.coupa_id, "status": draft.status, "url": draft.url},
            status=status.HTTP_201_CREATED,
        )


# --- custom field declarations ------------------------------------------------------------


class CustomFieldSerializer(serializers.ModelSerializer[CustomFieldDefinition]):
    target = serializers.SerializerMethodField(help_text="Its mapping key.")

    class Meta:
        model = CustomFieldDefinition
        fields = ["id", "level", "api_name", "target", "label", "type", "required", "values"]
        read_only_fields = fields

    def get_target(self, definition: CustomFieldDefinition) -> str:
        return custom_key(definition)


class CustomFieldInputSerializer(serializers.Serializer[Any]):
    level = serializers.ChoiceField(
        CustomFieldDefinition.Level.choices, default=CustomFieldDefinition.Level.HEADER
    )
    api_name = serializers.CharField(max_length=100, help_text="Its API name in Coupa.")
    label = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    type = serializers.ChoiceField(
        CustomFieldDefinition.Type.choices, default=CustomFieldDefinition.Type.STRING
    )
    required = serializers.BooleanField(default=False)  # type: ignore[assignment]
    values = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, default=list
    )


class CustomFieldUpdateSerializer(serializers.Serializer[Any]):
    """What may change; level and API name are the mapping key and stay."""

    label = serializers.CharField(max_length=120, required=False, allow_blank=True)  # type: ignore[assignment]
    type = serializers.ChoiceField(CustomFieldDefinition.Type.choices, required=False)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    values = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)


def _current_connection(request: Request) -> Connection:
    connection = connection_current(organization=request_organization(request))
    if connection is None:
        raise NotFound("Coupa is not connected for this organization.")
    return connection


def _definition(request: Request, pk: int) -> CustomFieldDefinition:
    definition = (
        custom_field_list(connection=_current_connection(request))
        .select_related("connection__organization")
        .filter(pk=pk)
        .first()
    )
    if definition is None:
        raise NotFound("No such custom field.")
    return definition


class CustomFieldList(APIView):
    """The current Coupa connection's declared requisition custom fields."""

    permission_classes = [CanConfigure]

    @extend_schema(responses=CustomFieldSerializer(many=True))
    def get(self, request: Request) -> Response:
        qs = custom_field_list(connection=_current_connection(request))
        return Response(CustomFieldSerializer(qs, many=True).data)

    @extend_schema(
        request=CustomFieldInputSerializer, responses={201: CustomFieldSerializer, 400: REFUSED}
    )
    def post(self, request: Request) -> Response:
        connection = _current_connection(request)
        payload = CustomFieldInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            definition = custom_field_create(
                connection=connection, user=request_user(request), **payload.validated_data
            )
        except CustomFieldError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(CustomFieldSerializer(definition).data, status=status.HTTP_201_CREATED)


class CustomFieldDetail(APIView):
    permission_classes = [CanConfigure]

    @extend_schema(responses=CustomFieldSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(CustomFieldSerializer(_definition(request, pk)).data)

    @extend_schema(
        request=CustomFieldUpdateSerializer, responses={200: CustomFieldSerializer, 400: REFUSED}
    )
    def patch(self, request: Request, pk: int) -> Response:
        definition = _definition(request, pk)
        payload = CustomFieldUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            custom_field_update(
                definition=definition, user=request_user(request), **payload.validated_data
            )
        except CustomFieldError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(CustomFieldSerializer(definition).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        custom_field_delete(definition=_definition(request, pk), user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- pickers ------------------------------------------------------------------------------


def _join(*parts: Any) -> str:
    return ", ".join(str(p) for p in parts if p)


#: What a picker shows of a record of each kind: (label, code, number, detail).
PICKER_DISPLAY: dict[str, Callable[[Any], tuple[str, str, str, str]]] = {
    "vendors": lambda r: (r.display_name or r.name, "", r.number, r.status),
    "items": lambda r: (r.name, "", r.item_number, _join(r.uom_code, r.commodity_name)),
    "accounts": lambda r: (r.name or r.code, r.code, "", r.chart.name if r.chart else ""),
    "addresses": lambda r: (
        r.name or r.location_code, r.location_code, "", _join(r.city, r.country_code)
    ),
    "departments": lambda r: (r.name, "", "", ""),
    "commodities": lambda r: (r.name, r.code, "", r.category),
    "uoms": lambda r: (r.name or r.code, r.code, "", ""),
    "currencies": lambda r: (r.name or r.code, r.code, "", ""),
}  # fmt: skip
PICKER_KINDS = tuple(PICKER_DISPLAY)


class PickerSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="Our id: a picker answer is this id.")
    label = serializers.CharField()  # type: ignore[assignment]
    code = serializers.CharField(help_text="Account code, location code, UoM or currency code.")
    number = serializers.CharField(help_text="Supplier or item number.")
    detail = serializers.CharField(help_text="A second line: chart, city, unit of measure.")

    def to_representation(self, instance: Model) -> dict[str, Any]:
        kind = self.context["kind"]
        label, code, number, detail = PICKER_DISPLAY[kind](instance)
        return {"id": instance.pk, "label": label, "code": code, "number": number, "detail": detail}


class PickerView(generics.ListAPIView):  # type: ignore[type-arg]
    """What requesters may pick of one kind, searched on the server (any member).

    The records `offered_record_list` offers on the organization's current Coupa connection:
    never hidden, inactive, deselected-chart or another organization's records.
    """

    serializer_class = PickerSerializer
    pagination_class = PickerPagination
    permission_classes = [IsAuthenticated, IsOrganizationMember]

    def get_queryset(self) -> QuerySet[Any]:
        kind = self.kwargs["kind"]
        if kind not in PICKER_DISPLAY:
            raise NotFound(f"No picker {kind!r}.")
        connection = connection_current(organization=request_organization(self.request))
        if connection is None:
            # Nothing is offered without a connection; an empty list, not an error.
            none: QuerySet[Any] = RESOURCES[kind].model._default_manager.none()
            return none
        search = self.request.query_params.get("search", "")[:200]
        return offered_record_list(connection=connection, kind=kind, search=search)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "kind": self.kwargs.get("kind", "")}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(PICKER_KINDS)
            ),
            OpenApiParameter("search", OpenApiTypes.STR, description="Names, codes, numbers"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
