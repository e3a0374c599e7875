"""JSON API of purchase requests, the workflows requesters can submit to, and notices.

Tenant-scoped like the pages: a request is found through `request_get`, so another
organization's ids, and for requesters other people's requests, are 404. Refusals are 400
with `{"detail": "..."}`; refused answers add `problems`, each `{field, line, message}`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import IsOrganizationMember, capability_permission
from spendflo.users.roles import Capability
from spendflo.workflows.api import ErrorSerializer, FormFieldSerializer
from spendflo.workflows.models import Notification, PurchaseRequest, WorkflowVersion
from spendflo.workflows.notices import notices_mark_read
from spendflo.workflows.requests import (
    RequestError,
    RequestInvalidError,
    request_approve,
    request_reject,
    request_retry,
    request_submit,
)
from spendflo.workflows.selectors import (
    form_field_list,
    notice_list,
    published_version_list,
    request_document,
    request_documents,
    request_event_list,
    request_get,
    request_list,
)

Member = [IsAuthenticated, IsOrganizationMember]


class PublishedWorkflowSerializer(serializers.ModelSerializer[WorkflowVersion]):
    version_id = serializers.IntegerField(source="pk", read_only=True)
    workflow_id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="workflow.name", read_only=True)
    description = serializers.CharField(source="workflow.description", read_only=True)
    form_fields = serializers.SerializerMethodField(help_text="The form, in its order.")

    class Meta:
        model = WorkflowVersion
        fields = [
            "version_id",
            "workflow_id",
            "name",
            "description",
            "number",
            "approval",
            "approver",
            "form_fields",
        ]
        read_only_fields = fields

    @extend_schema_field(FormFieldSerializer(many=True))
    def get_form_fields(self, version: WorkflowVersion) -> list[dict[str, Any]]:
        return list(FormFieldSerializer(form_field_list(version=version), many=True).data)


class EventSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    message = serializers.CharField()
    actor = serializers.CharField(source="actor.email", allow_null=True, default=None)
    details = serializers.JSONField()
    created_at = serializers.DateTimeField()


class RequestSerializer(serializers.ModelSerializer[PurchaseRequest]):
    reference = serializers.CharField(read_only=True)
    requester = serializers.CharField(source="requester.email", read_only=True)
    workflow = serializers.CharField(source="version.workflow.name", read_only=True)
    document = serializers.SerializerMethodField(
        help_text="The provider's document (Coupa PR: id, status, url, orders, attempts) or null."
    )

    class Meta:
        model = PurchaseRequest
        fields = [
            "id",
            "reference",
            "number",
            "title",
            "state",
            "workflow",
            "version",
            "requester",
            "answers",
            "submitted_at",
            "updated_at",
            "document",
        ]
        read_only_fields = fields

    # Null until the provider has a document for the request.
    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_document(self, obj: PurchaseRequest) -> dict[str, Any] | None:
        documents = self.context.get("documents")
        if documents is not None:  # a list page fetched them all at once
            found: dict[str, Any] | None = documents.get(obj.pk)
            return found
        return request_document(request=obj)


class RequestDetailSerializer(RequestSerializer):
    events = serializers.SerializerMethodField()

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "events"]
        read_only_fields = fields

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, obj: PurchaseRequest) -> list[dict[str, Any]]:
        return list(EventSerializer(request_event_list(request=obj), many=True).data)


class RequestInputSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="A published version's id (published-workflows).")
    title = serializers.CharField(max_length=200)
    answers = serializers.JSONField(help_text='{"request": {api_name: value}, "lines": [{...}]}')
    idempotency_key = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="",
        help_text="Sending the same key again returns the request it made (200), never a second.",
    )  # fmt: skip


class AnswerProblemSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(help_text="The form field's API name, or empty.")
    line = serializers.IntegerField(allow_null=True, help_text="The line's index (from 0).")
    message = serializers.CharField()


class RequestInvalidSerializer(ErrorSerializer):
    problems = AnswerProblemSerializer(many=True)


class CommentSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    class Meta:
        model = Notification
        fields = ["id", "request", "message", "link", "read_at", "created_at"]
        read_only_fields = fields


class MarkReadSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, default=None,
        help_text="The notices to mark read; all unread ones when absent.",
    )  # fmt: skip


class MarkedSerializer(serializers.Serializer[Any]):
    marked = serializers.IntegerField(help_text="How many notices were unread and now are read.")


REFUSED = OpenApiResponse(ErrorSerializer, description="Refused (see detail).")


def _request(request: Request, pk: int) -> PurchaseRequest:
    found = request_get(user=request_user(request), request_id=pk)
    if found is None:
        raise NotFound("No such request.")
    return found


class PublishedWorkflowList(generics.ListAPIView):  # type: ignore[type-arg]
    """The workflows a requester can submit to: each one's published version and form."""

    serializer_class = PublishedWorkflowSerializer
    permission_classes = [capability_permission(Capability.SUBMIT_REQUESTS)]
    queryset = WorkflowVersion.objects.none()

    def get_queryset(self) -> QuerySet[WorkflowVersion]:
        return published_version_list(organization=request_organization(self.request))


class RequestList(generics.ListAPIView):  # type: ignore[type-arg]
    """Requests: a requester's own (and those they approve); admins' and ops' all of the
    organization's. Filter with `state`."""

    serializer_class = RequestSerializer
    queryset = PurchaseRequest.objects.none()

    def get_permissions(self) -> list[Any]:
        # Every member lists what they may see; only those who may submit create one.
        if self.request.method == "POST":
            return [capability_permission(Capability.SUBMIT_REQUESTS)()]
        return [permission() for permission in Member]

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("many") and args:
            page = list(args[0])
            # One batch of provider documents for the page, not one per row.
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["documents"] = request_documents(requests=page)
            args = (page, *args[1:])
        return super().get_serializer(*args, **kwargs)

    def get_queryset(self) -> QuerySet[PurchaseRequest]:
        state = self.request.query_params.get("state", "")
        if state and state not in PurchaseRequest.State.values:
            raise ValidationError(
                {
                    "state": [
                        f"“{state[:40]}” is not one of {', '.join(PurchaseRequest.State.values)}."
                    ]
                }
            )
        return request_list(user=request_user(self.request), state=state, everyone=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=PurchaseRequest.State.values),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=RequestInputSerializer,
        responses={
            201: RequestDetailSerializer,
            200: OpenApiResponse(RequestDetailSerializer, description="Same idempotency key."),
            400: OpenApiResponse(
                RequestInvalidSerializer, description="Refused; `problems` per field."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        user = request_user(request)
        payload = RequestInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version = (
            published_version_list(organization=request_organization(request))
            .filter(pk=data["version"])
            .first()
        )
        if version is None:
            raise ValidationError({"detail": "No such published workflow version.", "problems": []})
        key = data["idempotency_key"]
        existed = (
            bool(key) and PurchaseRequest.objects.filter(requester=user, submit_token=key).exists()
        )
        try:
            created = request_submit(
                version=version,
                requester=user,
                title=data["title"],
                answers=data["answers"],
                submit_token=key,
            )
        except RequestInvalidError as exc:
            problems = [
                {"field": p.field, "line": p.line, "message": p.message} for p in exc.problems
            ]
            return Response({"detail": str(exc), "problems": problems}, status=400)
        except RequestError as exc:
            return Response({"detail": str(exc), "problems": []}, status=400)
        return Response(
            RequestDetailSerializer(_request(request, created.pk)).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class RequestDetail(APIView):
    permission_classes = Member

    @extend_schema(responses=RequestDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(RequestDetailSerializer(_request(request, pk)).data)


class _Action(APIView):
    permission_classes = Member

    def act(self, req: PurchaseRequest, request: Request, comment: str) -> None:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        req = _request(request, pk)
        payload = CommentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            self.act(req, request, payload.validated_data["comment"])
        except RequestError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(RequestDetailSerializer(_request(request, pk)).data)


class RequestApprove(_Action):
    """Approve a request awaiting approval (its approver); it is then sent to Coupa."""

    @extend_schema(
        request=CommentSerializer, responses={200: RequestDetailSerializer, 400: REFUSED}
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, req: PurchaseRequest, request: Request, comment: str) -> None:
        request_approve(request=req, user=request_user(request), comment=comment)


class RequestReject(_Action):
    """Reject a request awaiting approval (its approver); `comment` is required."""

    @extend_schema(
        request=CommentSerializer, responses={200: RequestDetailSerializer, 400: REFUSED}
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, req: PurchaseRequest, request: Request, comment: str) -> None:
        request_reject(request=req, user=request_user(request), comment=comment)


class RequestRetry(_Action):
    """Retry a request whose PR failed (admins)."""

    @extend_schema(request=None, responses={200: RequestDetailSerializer, 400: REFUSED})
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, req: PurchaseRequest, request: Request, comment: str) -> None:
        request_retry(request=req, user=request_user(request))


class NoticeList(generics.ListAPIView):  # type: ignore[type-arg]
    """The signed-in member's notices, newest first (`unread=true` for unread only)."""

    serializer_class = NotificationSerializer
    permission_classes = Member
    queryset = Notification.objects.none()

    def get_queryset(self) -> QuerySet[Notification]:
        value = self.request.query_params.get("unread", "").lower()
        if value not in ("", "1", "true", "yes", "0", "false", "no"):
            raise ValidationError({"unread": [f"“{value[:40]}” is not true or false."]})
        unread = value in ("1", "true", "yes")
        return notice_list(user=request_user(self.request), unread=unread)

    @extend_schema(parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class NoticeMarkRead(APIView):
    """Mark notices read; answers how many changed."""

    permission_classes = Member

    @extend_schema(request=MarkReadSerializer, responses=MarkedSerializer)
    def post(self, request: Request) -> Response:
        payload = MarkReadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        marked = notices_mark_read(
            user=request_user(request), notice_ids=payload.validated_data["ids"]
        )
        return Response({"marked": marked})
