"""Preview a workflow version's requisition, and send a test draft for Coupa's own verdict.

The preview is the exact body that would be posted, checked three ways: the mapping
(what the admin could fix once for all requests), the answers against imported data
(every record exists, is active and offered; the requester is a Coupa user), and the
R39 validator at the agreed strictness. A test draft posts that body once, titled as a
test, and reports the requisition Coupa created or every message Coupa refused it with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from coupa.client.connection import client_for
from coupa.client.exceptions import CoupaError, CoupaValidationError
from coupa.reference.registry import RESOURCES
from coupa.requisitions.fields import PICKER_KINDS
from coupa.requisitions.mapping import Problem, VersionMapping, mapping_problems
from coupa.requisitions.payload import RequestInfo, requisition_payload, validate_r39
from integrations.models import Connection
from integrations.selectors import connection_current
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User
from spendflo.workflows.models import PurchaseRequest, WorkflowVersion

TEST_TITLE_PREFIX = "[TEST] "


class PreviewError(Exception):
    """A test draft that could not be sent or was refused; the message is for the admin."""

    def __init__(self, message: str, messages: list[str] | None = None) -> None:
        super().__init__(message)
        self.messages = messages or []


class TestDraftUnconfirmedError(PreviewError):
    """Coupa did not answer the test draft (timeout, network, server error, credentials):
    whether a draft was created is unknown; the API answers 502."""


@dataclass
class Preview:
    payload: dict[str, Any]
    mapping: list[Problem] = field(default_factory=list)  # fix once in the mapping
    answers: list[Problem] = field(default_factory=list)  # these answers, against imported data
    spec: list[Problem] = field(default_factory=list)  # Coupa's R39 specification

    @property
    def ok(self) -> bool:
        return not (self.mapping or self.answers or self.spec)

    @property
    def problems(self) -> list[Problem]:
        return [*self.mapping, *self.answers, *self.spec]


@dataclass(frozen=True)
class TestDraft:
    coupa_id: int
    status: str
    url: str


def requisition_url(connection: Connection, coupa_id: int) -> str:
    """The requisition's page in Coupa (coupa-api.md 8); a connection may override the path."""
    template = connection.provider_settings.get(
        "requisition_url", "{base}/requisition_headers/{id}"
    )
    return str(template).format(base=connection.base_url.rstrip("/"), id=int(coupa_id))


def order_url(connection: Connection, coupa_id: int) -> str:
    """A purchase order's page in Coupa (coupa-api.md 8)."""
    template = connection.provider_settings.get("order_url", "{base}/order_headers/{id}")
    return str(template).format(base=connection.base_url.rstrip("/"), id=int(coupa_id))


def preview_info(version: WorkflowVersion) -> RequestInfo:
    """The request data a preview shows: what a first request of the workflow would carry."""
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    return RequestInfo(
        title=f"{version.workflow.name} request",
        number="SF-PREVIEW",
        link=f"{base}/requests/preview" if base else "/requests/preview",
    )


def requisition_preview(
    *, version: WorkflowVersion, answers: Mapping[str, Any], requester: User
) -> Preview:
    """The body these answers would post, with every problem found, grouped by cause."""
    loaded = VersionMapping(version)
    built = requisition_payload(
        version=version,
        answers=answers,
        requester=requester,
        info=preview_info(version),
        loaded=loaded,
    )
    mapping = list(mapping_problems(version, loaded=loaded))
    spec = validate_r39(version, built.payload, loaded=loaded) if not built.problems else []
    return Preview(built.payload, mapping, built.problems, spec)


def requisition_test_draft(
    *, version: WorkflowVersion, answers: Mapping[str, Any], user: User
) -> TestDraft:
    """Create a real draft in Coupa from these answers, titled as a test.

    Sent once: a timeout is reported, never retried, so it cannot make two drafts.
    """
    preview = requisition_preview(version=version, answers=answers, requester=user)
    if not preview.ok:
        raise PreviewError(
            "Fix the problems the preview lists first.", [p.message for p in preview.problems]
        )
    connection = connection_current(organization=version.workflow.organization)
    if connection is None:
        raise PreviewError("Coupa is not connected.")
    body = dict(preview.payload)
    body["req-title"] = (TEST_TITLE_PREFIX + str(body.get("req-title") or version.workflow.name))[
        :50
    ]
    try:
        with client_for(connection) as client:
            created = client.post("/api/requisitions", body)
    except CoupaValidationError as exc:
        raise PreviewError(exc.user_message, exc.messages) from None
    except CoupaError as exc:
        raise TestDraftUnconfirmedError(
            f"{exc.user_message} No test draft was confirmed; look in Coupa before trying again."
        ) from None
    coupa_id = int(created["id"])
    with transaction.atomic():
        audit_record(
            organization=version.workflow.organization,
            connection=connection,
            actor=user,
            action=AuditEvent.Action.WORKFLOW_CHANGE,
            summary=f"Sent a test draft of {version} to Coupa: requisition {coupa_id}.",
            details={
                "workflow": version.workflow_id,
                "version": version.number,
                "coupa_id": coupa_id,
            },
        )
    return TestDraft(
        coupa_id, str(created.get("status", "")), requisition_url(connection, coupa_id)
    )


def answer_labels(*, request: PurchaseRequest) -> dict[str, Any] | None:
    """The names of the records a request's answers picked, read from imported data.

    What an approver reads must not come from the requester's browser: a picked id is
    named here by its record (hidden or inactive ones too: it is what was picked).
    Shaped like the form's labels: `{"request": {api_name: name}, "lines": [{...}]}`.
    """
    connection = connection_current(organization=request.organization)
    if connection is None:
        return None
    pickers = {
        f.api_name: PICKER_KINDS[f.type]
        for f in request.version.fields.all()
        if f.type in PICKER_KINDS
    }
    answers = request.answers or {}
    wanted: dict[str, set[int]] = {}
    groups = [answers.get("request") or {}, *(answers.get("lines") or [])]
    for group in groups:
        for api_name, kind in pickers.items():
            value = group.get(api_name) if isinstance(group, Mapping) else None
            if isinstance(value, int) and not isinstance(value, bool):
                wanted.setdefault(kind, set()).add(value)
    names: dict[str, dict[int, str]] = {}
    for kind, pks in wanted.items():
        model: Any = RESOURCES[kind].model
        names[kind] = {
            r.pk: str(r) for r in model.objects.filter(connection=connection, pk__in=pks)
        }

    def labels(group: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for api_name, kind in pickers.items():
            value = group.get(api_name) if isinstance(group, Mapping) else None
            if isinstance(value, int) and value in names.get(kind, {}):
                out[api_name] = names[kind][value]
        return out

    return {
        "request": labels(answers.get("request") or {}),
        "lines": [labels(line) for line in answers.get("lines") or []],
    }
