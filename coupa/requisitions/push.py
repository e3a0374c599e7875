"""Create a request's Coupa requisition exactly once.

Coupa has no idempotency key (coupa-api.md 6.5), so every requisition carries a unique
`marker` (`SF-<org>-<number>-<random>`): in a header custom field when the connection
names one (`provider_settings["marker_field"]`), else at the start of `req-title`
(`[SF-acme-42-3f9a] New laptops`, trimmed to 50 characters).

The state machine (`Requisition.State`): `pending` → `sending`, committed BEFORE the
POST, → `created` or `failed`. A row found in `sending` may have been created already
(a timeout, a 5xx, a reset, a worker killed mid-call): it is looked up by requester,
creation window and marker (coupa-api.md 6.6) and adopted when found; it is posted again
only when the lookup proves nothing was created. Workers claim a row with a conditional
UPDATE of its lease (owner, expiry), so a second worker or a redelivered task does
nothing while the first holds it, and a worker that died frees it when the lease expires
(`requisition_sweep_stale`, every few minutes).
"""

from __future__ import annotations

import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from coupa.client.base import CoupaClient, encode_fields, format_datetime
from coupa.client.connection import client_for
from coupa.client.exceptions import (
    CoupaError,
    CoupaNotFoundError,
    CoupaProtocolError,
    CoupaTransientError,
    CoupaValidationError,
)
from coupa.models import Requisition, RequisitionAttempt
from coupa.requisitions.mapping import VersionMapping, mapping_problems
from coupa.requisitions.payload import RequestInfo, requisition_payload, validate_r39
from coupa.requisitions.services import order_url, requisition_url
from integrations.jobs import enqueue_on_commit
from integrations.models import Connection, Provider
from integrations.selectors import connection_current
from spendflo.users.models import User
from spendflo.workflows.models import PurchaseRequest, RequestEvent, WorkflowVersion
from spendflo.workflows.services import request_event_record

logger = logging.getLogger(__name__)

CREATE_TASK = "coupa.requisition_create"
DRAFT_PATH = "/api/requisitions"
SUBMIT_PATH = "/api/requisitions/submit_for_approval"
SUBMIT_FALLBACK_PATH = "/api/requisitions/new/submit_for_approval"  # coupa-api.md 10
TITLE_MAX = 50  # req-title is string(50) (coupa-api.md 6.3)
LOOKUP_WINDOW = timedelta(minutes=5)  # before the first attempt (clock skew)
LOOKUP_FIELDS: list[Any] = [
    "id",
    "status",
    "req-title",
    "created-at",
    "updated-at",
    {"created-by": ["id", "login"]},
    {"requisition-lines": ["id", "line-num"]},
]

# A POST that failed this way may have created the requisition: timeouts, resets, 5xx,
# 429, and an answer cut short or unreadable (a 201 whose body was lost).
AMBIGUOUS = (CoupaTransientError, CoupaProtocolError)
#: What an attempt a dead worker left open says once the next worker takes the row.
INTERRUPTED_MESSAGE = "The worker stopped before Coupa answered; looked up before any retry."

State = Requisition.State
Outcome = RequisitionAttempt.Outcome

# Seams for tests: the push's backoff never sleeps for real in tests.
_sleep: Callable[[float], None] = time.sleep
_monotonic: Callable[[], float] = time.monotonic


class RequisitionSendError(Exception):
    """The request cannot be sent (no Coupa connection); the message is for the admin."""


def _lease_seconds() -> float:
    return float(settings.COUPA_PUSH_LEASE_SECONDS)


def _deadline_seconds() -> float:
    return float(settings.COUPA_PUSH_DEADLINE)


def marker_field(connection: Connection) -> str:
    """The header custom field that carries the marker, or "" for `req-title`."""
    return str((connection.provider_settings or {}).get("marker_field") or "")


def requisition_marker(request: PurchaseRequest) -> str:
    """A new unique marker for the request: `SF-<org slug>-<number>-<4 hex>`."""
    slug = request.organization.slug[:24]
    return f"SF-{slug}-{request.number}-{secrets.token_hex(2)}"


def _request_link(request: PurchaseRequest) -> str:
    base = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    return f"{base}/requests/{request.pk}/"


# -- queueing -------------------------------------------------------------------------


def requisition_send(*, request: PurchaseRequest) -> Requisition:
    """Record the request's requisition (pending) and queue its creation on commit.

    Call inside the request's transaction. Idempotent: a request that already has a
    requisition keeps it and nothing is queued again. Raises RequisitionSendError when
    the organization has no Coupa connection.
    """
    existing = Requisition.objects.filter(request=request).first()
    if existing is not None:
        return existing
    connection = connection_current(organization=request.organization)
    if connection is None:
        raise RequisitionSendError("Coupa is not connected.")
    submit = request.version.document_status == WorkflowVersion.DocumentStatus.SUBMITTED
    requisition = Requisition.objects.create(
        request=request,
        connection=connection,
        marker=requisition_marker(request),
        submit=submit,
        state=State.PENDING,
    )
    request_event_record(
        request=request,
        kind=RequestEvent.Kind.QUEUED,
        message="Sent to Coupa: the requisition is being created.",
        details={"marker": requisition.marker, "submit": submit},
    )
    # A broker that refuses it leaves the row pending: the sweep resends it.
    enqueue_on_commit(CREATE_TASK, requisition.pk, recovers=True)
    return requisition


def requisition_retry(*, request: PurchaseRequest, user: User | None) -> Requisition:
    """Queue again a failed requisition (after the admin fixed the cause).

    The payload is built again from the version's mapping when the task runs. A
    requisition that is not failed is left alone (returned as is).
    """
    with transaction.atomic():
        requisition = Requisition.objects.select_for_update().filter(request=request).first()
        if requisition is None:
            # Never sent (no connection then): send it now.
            return requisition_send(request=request)
        if requisition.state != State.FAILED:
            return requisition
        requisition.state = State.PENDING
        requisition.error = ""
        requisition.lease_owner = ""
        requisition.lease_expires_at = None
        requisition.next_attempt_at = None
        requisition.save(
            update_fields=[
                "state",
                "error",
                "lease_owner",
                "lease_expires_at",
                "next_attempt_at",
                "updated_at",
            ]
        )
        request.state = PurchaseRequest.State.SENDING
        request.save(update_fields=["state", "updated_at"])
        request_event_record(
            request=request,
            kind=RequestEvent.Kind.RETRIED,
            message="Sent to Coupa again.",
            actor=user,
        )
        enqueue_on_commit(CREATE_TASK, requisition.pk, recovers=True)
    return requisition


# -- the lease --------------------------------------------------------------------------


def _claim(requisition_id: int, owner: str) -> Requisition | None:
    """Take the row's lease with one conditional UPDATE; None if another worker holds it
    or there is nothing to do."""
    now = timezone.now()
    taken = (
        Requisition.objects.filter(pk=requisition_id, state__in=[State.PENDING, State.SENDING])
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=_lease_seconds()),
            updated_at=now,
        )
    )
    if not taken:
        return None
    # With what the build and the notice of its outcome read (the approver and the
    # workflow are in the notice's recipients and email).
    return Requisition.objects.select_related(
        "connection",
        "request__organization",
        "request__requester",
        "request__version__approver",
        "request__version__workflow",
    ).get(pk=requisition_id)


#: A row's lease, let go: a finished row keeps no owner.
RELEASED: Mapping[str, Any] = {"lease_owner": "", "lease_expires_at": None}


def _holding(requisition: Requisition, owner: str, **values: Any) -> bool:
    """Update the row only while `owner` holds its lease (renewing it, or letting it go
    with **RELEASED); False if lost."""
    now = timezone.now()
    values.setdefault("lease_expires_at", now + timedelta(seconds=_lease_seconds()))
    values["updated_at"] = now
    done = Requisition.objects.filter(pk=requisition.pk, lease_owner=owner).update(**values)
    for key, value in values.items():
        setattr(requisition, key, value)
    return bool(done)


# -- the task's service -----------------------------------------------------------------


def requisition_create(*, requisition_id: int) -> Requisition | None:
    """Create the requisition in Coupa exactly once; return it, or None if another
    worker holds it or it is already created or failed.

    Side effects: HTTP to Coupa (at most one POST per proven absence), attempt rows,
    the request's state and timeline. Never raises for Coupa's answers: a refusal (400)
    fails the requisition with Coupa's messages; transient errors are retried with
    backoff until COUPA_PUSH_DEADLINE, looking the requisition up before every re-post;
    then the requisition is failed, or left `sending` for the stale sweep when even the
    lookup could not prove what happened.
    """
    owner = uuid.uuid4().hex
    requisition = _claim(requisition_id, owner)
    if requisition is None:
        return None
    try:
        done = _create(requisition, owner)
    except BaseException:
        _release(requisition, owner)
        raise
    if requisition.lease_owner == owner:
        # Not finished (a finished row let its lease go in its last update): a `sending`
        # row is free for the sweep or the next worker.
        _release(requisition, owner)
    return done


def _release(requisition: Requisition, owner: str) -> None:
    Requisition.objects.filter(pk=requisition.pk, lease_owner=owner).update(**RELEASED)


def _close_interrupted(requisition: Requisition) -> None:
    """Attempts left open by a worker that died mid-POST: their outcome is unknown (the
    row is `sending`, so it is looked up before anything is posted again). Called with
    the row's lease held, so no live worker owns them."""
    RequisitionAttempt.objects.filter(requisition=requisition, finished_at__isnull=True).update(
        outcome=Outcome.UNKNOWN, finished_at=timezone.now(), messages=[INTERRUPTED_MESSAGE]
    )


def _create(requisition: Requisition, owner: str) -> Requisition:
    connection = requisition.connection
    if requisition.state == State.SENDING:
        _close_interrupted(requisition)
    if requisition.state == State.PENDING:
        body, problems = _build(requisition)
        if problems:
            _fail(requisition, owner, problems)
            return requisition
        # Committed BEFORE the POST: a crash from here on leaves `sending`, which is
        # looked up before anything is posted again. The same update counts the first
        # POST's attempt (as `_post` would, right before posting).
        _holding(
            requisition,
            owner,
            state=State.SENDING,
            payload=body,
            attempts=requisition.attempts + 1,
        )
        counted = True
    else:
        counted = False
    started = _monotonic()
    attempt_no = 0
    with client_for(connection) as client:
        while True:
            # POSTs tried before this one (the one counted above is not tried yet).
            tried = requisition.attempts - 1 if counted else requisition.attempts
            if requisition.state == State.SENDING and tried:
                try:
                    found = _lookup(client, requisition)
                except CoupaError as exc:
                    logger.warning("requisition %s lookup failed: %s", requisition.pk, exc)
                    found = None
                    if _out_of_time(started, attempt_no):
                        _holding(
                            requisition,
                            owner,
                            error=f"Could not confirm with Coupa: {exc.user_message}",
                        )
                        return requisition
                    _backoff(attempt_no := attempt_no + 1)
                    continue
                if found is not None:
                    _record_attempt(
                        requisition, outcome=Outcome.ADOPTED, http_status=200, endpoint="lookup"
                    )
                    _created(requisition, owner, found, adopted=True)
                    return requisition
            try:
                sent = _post(client, requisition, owner, counted=counted)
            except CoupaValidationError as exc:
                _fail(requisition, owner, exc.messages or [exc.user_message])
                return requisition
            except AMBIGUOUS:
                # Outcome unknown: the next loop looks it up first.
                counted = False
                if _out_of_time(started, attempt_no):
                    try:
                        found = _lookup(client, requisition)
                    except CoupaError:
                        found = None
                        _holding(requisition, owner, error="Coupa did not answer in time.")
                        return requisition
                    if found is not None:
                        _record_attempt(
                            requisition,
                            outcome=Outcome.ADOPTED,
                            http_status=200,
                            endpoint="lookup",
                        )
                        _created(requisition, owner, found, adopted=True)
                        return requisition
                    _fail(
                        requisition,
                        owner,
                        ["Coupa could not be reached before the deadline; try again later."],
                    )
                    return requisition
                _backoff(attempt_no := attempt_no + 1)
                continue
            except CoupaError as exc:
                # Credentials, scopes, an unsafe address: the POST was refused before
                # anything was created (401/403), or not sent at all.
                _fail(requisition, owner, [exc.user_message])
                return requisition
            _created(requisition, owner, sent, adopted=False)
            return requisition


def _out_of_time(started: float, attempt_no: int) -> bool:
    return _monotonic() - started + _delay(attempt_no + 1) / 2 > _deadline_seconds()


def _delay(attempt: int) -> float:
    base = float(settings.COUPA_BACKOFF_BASE)
    return min(float(settings.COUPA_BACKOFF_MAX), base * float(2 ** (attempt - 1)))


def _backoff(attempt: int) -> None:
    _sleep(random.uniform(_delay(attempt) / 2, _delay(attempt)))


def _build(requisition: Requisition) -> tuple[dict[str, Any], list[str]]:
    """The body to post, from the frozen version's mapping and the request's answers."""
    request = requisition.request
    version = request.version
    # Read once for the three readings below (each would read it all again). The payload
    # is built first: it reads at once the records the publish gate's check reads too.
    loaded = VersionMapping(version, connection=_current_connection(requisition))
    info = RequestInfo(title=request.title, number=request.reference, link=_request_link(request))
    built = requisition_payload(
        version=version,
        answers=request.answers,
        requester=request.requester,
        info=info,
        loaded=loaded,
    )
    problems = [p.message for p in mapping_problems(version, loaded=loaded)]
    problems += [p.message for p in built.problems]
    body = dict(built.payload)
    field = marker_field(requisition.connection)
    if not problems:
        problems += [p.message for p in validate_r39(version, body, loaded=loaded)]
    if field:
        # A header custom field, sent top-level as the mapping sends custom fields (the
        # validator knows only the version's declared ones, so it checks the body without).
        body[field] = requisition.marker
    else:
        title = str(body.get("req-title") or request.title)
        body["req-title"] = f"[{requisition.marker}] {title}"[:TITLE_MAX]
    return body, problems


def _current_connection(requisition: Requisition) -> Connection | None:
    """The request's organization's current Coupa connection: the requisition's own while it
    is not archived (an organization has one current connection per provider, a
    constraint), else looked up (it was replaced since the request was sent)."""
    connection = requisition.connection
    if (
        connection.archived_at is None
        and connection.provider == Provider.COUPA
        and connection.organization_id == requisition.request.organization_id
    ):
        return connection
    return connection_current(organization=requisition.request.organization)


def _post(
    client: CoupaClient, requisition: Requisition, owner: str, *, counted: bool = False
) -> dict[str, Any]:
    """POST once (the submit route falls back to the alias only on 404); `counted`: the
    attempt is counted on the row already."""
    path = SUBMIT_PATH if requisition.submit else DRAFT_PATH
    if not counted:
        _holding(requisition, owner, attempts=requisition.attempts + 1)
    attempt = RequisitionAttempt.objects.create(
        requisition=requisition, started_at=timezone.now(), endpoint=path
    )
    try:
        try:
            record = client.post(path, requisition.payload)
        except CoupaNotFoundError:
            if not requisition.submit:
                raise
            # A missing route created nothing (coupa-api.md 6.1).
            path = SUBMIT_FALLBACK_PATH
            attempt.endpoint = path
            record = client.post(path, requisition.payload)
    except CoupaValidationError as exc:
        _finish_attempt(attempt, Outcome.REFUSED, exc.status, exc.messages or [exc.user_message])
        raise
    except AMBIGUOUS as exc:
        _finish_attempt(attempt, Outcome.UNKNOWN, exc.status, [exc.user_message])
        raise
    except CoupaError as exc:
        _finish_attempt(attempt, Outcome.ERROR, exc.status, [exc.user_message])
        raise
    _finish_attempt(attempt, Outcome.CREATED, 201, [])
    return dict(record)


def _finish_attempt(
    attempt: RequisitionAttempt, outcome: str, status: int | None, messages: list[str]
) -> None:
    attempt.outcome = outcome
    attempt.http_status = status
    attempt.messages = [str(m) for m in messages]
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["outcome", "http_status", "messages", "finished_at", "endpoint"])


def _record_attempt(
    requisition: Requisition, *, outcome: str, http_status: int | None, endpoint: str
) -> None:
    now = timezone.now()
    RequisitionAttempt.objects.create(
        requisition=requisition,
        started_at=now,
        finished_at=now,
        outcome=outcome,
        http_status=http_status,
        endpoint=endpoint,
    )


def _window_start(requisition: Requisition) -> datetime:
    first = requisition.tries.order_by("started_at").values_list("started_at", flat=True).first()
    return (first or requisition.created_at) - LOOKUP_WINDOW


def _lookup(client: CoupaClient, requisition: Requisition) -> dict[str, Any] | None:
    """The requisition if Coupa has it: requester, creation window and marker (6.6).

    Raises CoupaError when Coupa cannot be asked: then nothing is proven.
    """
    params: dict[str, Any] = {
        "created-at[gt_or_eq]": format_datetime(_window_start(requisition)),
        "fields": encode_fields(LOOKUP_FIELDS),
    }
    requester = requisition.payload.get("requested-by") or {}
    for key in ("id", "login", "email"):
        if requester.get(key):
            params[f"requested-by[{key}]"] = requester[key]
            break
    field = marker_field(requisition.connection)
    if field:
        params[field] = requisition.marker
        params["fields"] = encode_fields([*LOOKUP_FIELDS, field])
    else:
        params["req-title[contains]"] = f"[{requisition.marker}]"
    records = client.get("/api/requisitions", params)
    matches = [r for r in records or [] if _matches(r, requisition, field)]
    if not matches:
        return None
    if len(matches) > 1:
        logger.warning("requisition %s: %d matches in Coupa", requisition.pk, len(matches))
    best: dict[str, Any] = min(matches, key=lambda r: int(r["id"]))
    return best


def _matches(record: Mapping[str, Any], requisition: Requisition, field: str) -> bool:
    if field:
        custom = record.get("custom-fields") or {}
        if record.get(field) != requisition.marker and custom.get(field) != requisition.marker:
            return False
    elif f"[{requisition.marker}]" not in str(record.get("req-title") or ""):
        return False
    lines = record.get("requisition-lines")
    sent = requisition.payload.get("requisition-lines") or []
    return lines is None or len(lines) == len(sent)


# -- outcomes ---------------------------------------------------------------------------


def _created(
    requisition: Requisition, owner: str, record: Mapping[str, Any], *, adopted: bool
) -> None:
    coupa_id = int(record["id"])
    status = str(record.get("status") or "")
    now = timezone.now()
    with transaction.atomic():
        if not _holding(
            requisition,
            owner,
            state=State.CREATED,
            external_id=coupa_id,
            status=status,
            error="",
            coupa_updated_at=_parse_dt(record.get("updated-at")),
            synced_at=now,
            **RELEASED,
        ):
            return
        _remember_api_user(requisition.connection, record)
        request = requisition.request
        request.state = PurchaseRequest.State.PR_CREATED
        request.save(update_fields=["state", "updated_at"])
        how = "found already created" if adopted else "created"
        request_event_record(
            request=request,
            kind=RequestEvent.Kind.PR_CREATED,
            message=f"Coupa requisition {coupa_id} {how} ({status.replace('_', ' ')}).",
            details={
                "coupa_id": coupa_id,
                "status": status,
                "url": requisition_url(requisition.connection, coupa_id),
                "adopted": adopted,
            },
            notify=True,
        )


def _fail(requisition: Requisition, owner: str, messages: list[str]) -> None:
    text = "; ".join(str(m) for m in messages) or "Coupa refused the requisition."
    with transaction.atomic():
        if not _holding(requisition, owner, state=State.FAILED, error=text, **RELEASED):
            return
        request = requisition.request
        request.state = PurchaseRequest.State.PR_FAILED
        request.save(update_fields=["state", "updated_at"])
        request_event_record(
            request=request,
            kind=RequestEvent.Kind.PR_FAILED,
            message=f"Coupa did not create the requisition: {text}",
            details={"messages": [str(m) for m in messages]},
            notify=True,
        )


def _remember_api_user(connection: Connection, record: Mapping[str, Any]) -> None:
    """Keep the API user's Coupa id: the hourly pass asks for its requisitions only."""
    creator = record.get("created-by") or {}
    api_user = creator.get("id") if isinstance(creator, Mapping) else None
    settings_ = connection.provider_settings or {}
    if api_user and settings_.get("api_user_id") != api_user:
        Connection.objects.filter(pk=connection.pk).update(
            provider_settings={**settings_, "api_user_id": int(api_user)}
        )
        connection.provider_settings = {**settings_, "api_user_id": int(api_user)}


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


# -- the stale sweep -------------------------------------------------------------------


def requisition_sweep_stale(
    *, enqueue: bool = True, pending_after: float | None = None
) -> list[int]:
    """Find requisitions whose worker died (`sending`, lease expired or none) or whose
    task was lost (`pending` for more than `pending_after` seconds, default
    COUPA_PUSH_PENDING_AFTER) and run them again.

    The create path looks a `sending` row up before any POST, so this never doubles a
    requisition. With `enqueue` the tasks are queued, else run here. Returns the ids.
    """
    if pending_after is None:
        pending_after = float(settings.COUPA_PUSH_PENDING_AFTER)
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    ids = list(
        Requisition.objects.filter(free)
        .filter(
            Q(state=State.SENDING)
            | Q(state=State.PENDING, created_at__lt=now - timedelta(seconds=pending_after))
        )
        .values_list("pk", flat=True)
    )
    for pk in ids:
        if enqueue:
            enqueue_on_commit(CREATE_TASK, pk, recovers=True)
        else:
            requisition_create(requisition_id=pk)
    return ids


# -- what the pages and the API show --------------------------------------------------


def requisition_document(*, request: PurchaseRequest) -> dict[str, Any] | None:
    """The request's requisition as the pages and the API show it; None if none."""
    return requisition_documents(requests=[request]).get(request.pk)


def requisition_documents(*, requests: Sequence[PurchaseRequest]) -> dict[int, dict[str, Any]]:
    """The requisitions of many requests, by request pk, in three queries (lists)."""
    requisitions = (
        Requisition.objects.filter(request__in=[r.pk for r in requests])
        .select_related("connection")
        .prefetch_related("tries", "purchase_orders")
    )
    return {requisition.request_id: _document(requisition) for requisition in requisitions}


def _document(requisition: Requisition) -> dict[str, Any]:
    connection = requisition.connection
    coupa_id = requisition.external_id
    return {
        "id": coupa_id,
        "marker": requisition.marker,
        "status": requisition.status,
        "url": requisition_url(connection, coupa_id) if coupa_id else "",
        "state": requisition.state,
        "state_label": State(requisition.state).label,
        "submit": requisition.submit,
        "error": requisition.error,
        "messages": _messages(requisition),
        "synced_at": requisition.synced_at.isoformat() if requisition.synced_at else None,
        "attempts": [
            {
                "at": attempt.started_at.isoformat(),
                "outcome": attempt.outcome,
                "outcome_label": Outcome(attempt.outcome).label if attempt.outcome else "",
                "http_status": attempt.http_status,
                "messages": list(attempt.messages or []),
            }
            for attempt in requisition.tries.all()
        ],
        "orders": [
            {
                "id": order.external_id,
                "number": order.number,
                "status": order.status,
                "supplier": order.supplier_name,
                "total": _money(order.total),
                "currency": order.currency_code,
                "url": order_url(connection, order.external_id),
            }
            for order in requisition.purchase_orders.all()
        ],
    }


def _money(amount: Decimal | None) -> str | None:
    """A total as people read it: 747.00, keeping digits beyond cents only when they count."""
    if amount is None:
        return None
    cents = amount.quantize(Decimal("0.01"))
    return str(cents if cents == amount else amount.normalize())


def _messages(requisition: Requisition) -> list[str]:
    """Coupa's messages of a failed requisition: its last refusal's, else the error."""
    if requisition.state != State.FAILED:
        return []
    for attempt in reversed(list(requisition.tries.all())):
        if attempt.outcome == Outcome.REFUSED and attempt.messages:
            return [str(m) for m in attempt.messages]
    return [requisition.error] if requisition.error else []


def requisition_problems(
    *, version: WorkflowVersion, answers: Any, requester: User
) -> list[tuple[str, str]]:
    """(target, message) of what keeps these answers from becoming a requisition."""
    loaded = VersionMapping(version)
    built = requisition_payload(
        version=version,
        answers=answers,
        requester=requester,
        info=RequestInfo(title="", number="SF-0", link=""),
        loaded=loaded,
    )
    out = [(p.target, p.message) for p in mapping_problems(version, loaded=loaded)]
    out += [(p.target, p.message) for p in built.problems]
    if not out:
        out += [(p.target, p.message) for p in validate_r39(version, built.payload, loaded=loaded)]
    return out
