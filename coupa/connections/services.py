"""Connect, edit, validate and disconnect a Coupa connection.

Every change is audited in its own transaction; validation runs in a Celery task and
records its steps on a ConnectionValidation so the page can show them as they progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from coupa.client.connection import client_for, coupa_settings
from coupa.client.domains import CoupaDomain, normalize_coupa_domain
from coupa.client.exceptions import CoupaAuthError, CoupaError, CoupaScopeError, CoupaTimeoutError
from coupa.reference.importers import import_charts
from coupa.reference.walk import charts_fetch_active
from integrations.alerts import alert_clear, alert_raise
from integrations.crypto import encrypt
from integrations.jobs import enqueue_on_commit
from integrations.models import Alert, Connection, ConnectionValidation, Provider
from integrations.netguard import configured_resolver
from integrations.selectors import connection_current, connection_has_validated
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.organizations.models import Organization
from spendflo.users.models import User

logger = logging.getLogger(__name__)

STEPS = [
    ("authenticate", "Sign in to Coupa with the client ID and secret"),
    ("scopes", "Check the OAuth scopes the integration needs"),
    ("read", "Read the active charts of accounts"),
]


VALIDATION_NOT_STARTED = (
    "The task queue is unavailable right now, so the validation did not start. "
    "Try Validate again in a few minutes."
)
VALIDATION_STALE = (
    "The validation did not finish (its worker probably stopped) and was marked failed."
)
VALIDATION_STALE_AGAIN = (
    "The validation did not finish twice in a row (its worker probably stopped). "
    "Try Validate again, and contact support if it keeps failing."
)


class ConnectionChangeError(Exception):
    """A connection change that cannot be made; the message is shown as it is."""


class NotConnectedError(ConnectionChangeError):
    def __init__(self) -> None:
        super().__init__("Coupa is not connected for this organization.")


@dataclass(frozen=True)
class ConnectionInput:
    domain: str  # as pasted; the services normalise and check it
    client_id: str
    client_secret: str | None  # None or "" keeps the stored secret (edit only)
    rate_limit: float | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ConnectionInput:
        """From a form's or serializer's cleaned data (missing keys: keep / not given)."""
        return cls(
            domain=data.get("domain") or "",
            client_id=data.get("client_id") or "",
            client_secret=data.get("client_secret") or None,
            rate_limit=data.get("rate_limit"),
        )


def resolve_domain(raw: str) -> CoupaDomain:
    """Normalise and check a pasted domain (raises CoupaDomainError with the reason)."""
    return normalize_coupa_domain(
        raw, allowed_hosts=settings.COUPA_ALLOWED_HOSTS, resolver=configured_resolver()
    )


def _start_validation(
    *, connection: Connection, user: User | None, enqueue: bool = True
) -> ConnectionValidation:
    before = (connection.state, connection.state_reason)
    # A draft stays a draft while it validates: only a success makes it a connection.
    if connection.state != Connection.State.DRAFT:
        connection.state = Connection.State.VALIDATING
    connection.state_reason = ""
    connection.save(update_fields=["state", "state_reason", "updated_at"])
    validation = ConnectionValidation.objects.create(
        connection=connection,
        requested_by=user,
        steps=[
            {"key": k, "label": label, "status": "pending", "message": ""} for k, label in STEPS
        ],
    )
    if enqueue:
        enqueue_on_commit(
            "coupa.connection_validate",
            validation.pk,
            on_failure=lambda: _validation_not_started(validation.pk, *before),
        )
    return validation


def _validation_not_started(validation_id: int, state: str, reason: str) -> str:
    """Fail a validation the broker refused and put its connection back as it was.

    A connection that was connected (or needed attention) stays so, so hourly syncs go on;
    a draft stays a draft with the sentence (Edit and Validate are offered there).
    """
    validation = ConnectionValidation.objects.filter(pk=validation_id).first()
    if validation is None:
        return VALIDATION_NOT_STARTED
    connection = _lock_connection(validation.connection_id)
    if _fail_validation(validation, VALIDATION_NOT_STARTED):
        if state not in (Connection.State.CONNECTED, Connection.State.NEEDS_ATTENTION):
            state, reason = Connection.State.NEEDS_ATTENTION, VALIDATION_NOT_STARTED
        _settle_connection(connection, state=state, reason=reason)
    return VALIDATION_NOT_STARTED


def _lock_connection(pk: int) -> Connection:
    # Locks are taken connection first, then its runs and records, everywhere (a
    # validation's finish locks the connection before writing the validation). NO KEY:
    # rows that only reference the connection (runs, records, audit) are not blocked.
    return Connection.objects.select_for_update(no_key=True).get(pk=pk)


def _fail_validation(validation: ConnectionValidation, sentence: str) -> bool:
    """Fail an unfinished validation (conditional: a worker finishing it first wins)."""
    steps = [
        {**step, "status": "skipped"} if step["status"] in ("pending", "running") else step
        for step in validation.steps
    ]
    return bool(
        ConnectionValidation.objects.filter(
            pk=validation.pk,
            state__in=(ConnectionValidation.State.QUEUED, ConnectionValidation.State.RUNNING),
        ).update(
            state=ConnectionValidation.State.FAILED,
            error=sentence,
            finished_at=timezone.now(),
            steps=steps,
        )
    )


def _has_live_validation(connection: Connection) -> bool:
    return connection.validations.filter(
        state__in=(ConnectionValidation.State.QUEUED, ConnectionValidation.State.RUNNING)
    ).exists()


def _settle_connection(connection: Connection, *, state: str, reason: str) -> None:
    """Leave `validating` for `state` (a draft stays a draft, with the reason), unless
    another validation of it is still live."""
    waiting = (Connection.State.VALIDATING, Connection.State.DRAFT)
    if connection.state not in waiting or _has_live_validation(connection):
        return
    if connection.state == Connection.State.DRAFT:
        state = Connection.State.DRAFT
    connection.state = state
    connection.state_reason = reason
    connection.save(update_fields=["state", "state_reason", "updated_at"])
    _alert_connection(connection)


def _validation_stale_after() -> timedelta:
    return timedelta(seconds=float(settings.COUPA_VALIDATION_STALE_AFTER))


def connection_validations_sweep_stale(*, now: datetime | None = None) -> int:
    """Fail validations left unfinished too long and start them again; return how many.

    A validation not finished `COUPA_VALIDATION_STALE_AFTER` seconds after it was asked
    for lost its worker (killed) or its message: it is failed, and a new one is queued
    while its connection is still validating. A second stale validation in a row is not
    retried: the connection needs attention with a sentence. Idempotent; a worker that
    finishes a validation meanwhile wins (conditional updates).
    """
    cutoff = (now or timezone.now()) - _validation_stale_after()
    stale = ConnectionValidation.objects.filter(
        state__in=(ConnectionValidation.State.QUEUED, ConnectionValidation.State.RUNNING),
        created_at__lt=cutoff,
    ).order_by("created_at")
    failed = 0
    for validation in stale:
        with transaction.atomic():
            connection = _lock_connection(validation.connection_id)
            if not _fail_validation(validation, VALIDATION_STALE):
                continue
            failed += 1
            logger.warning("Coupa validation %s went stale; marked failed", validation.pk)
            waiting = (Connection.State.VALIDATING, Connection.State.DRAFT)
            if connection.state not in waiting or _has_live_validation(connection):
                continue
            previous = (
                connection.validations.filter(created_at__lt=validation.created_at)
                .order_by("-created_at")
                .first()
            )
            if previous is not None and previous.error == VALIDATION_STALE:
                _settle_connection(
                    connection,
                    state=Connection.State.NEEDS_ATTENTION,
                    reason=VALIDATION_STALE_AGAIN,
                )
            else:
                _start_validation(connection=connection, user=None)
    return failed


@transaction.atomic
def coupa_connect(
    *, organization: Organization, user: User | None, data: ConnectionInput, enqueue: bool = True
) -> ConnectionValidation:
    """Connect (or reconnect) Coupa and start validating; return the validation run.

    A different host than the current connection's archives the current one with its data
    and starts fresh; a host connected before (archived) is brought back, so its imported
    records are picked up without duplicates. Raises CoupaDomainError for an unusable domain
    and ConnectionChangeError for other refusals. `enqueue=False` leaves running the
    validation to the caller (the command line runs it in-process).
    """
    return _connect(
        organization=organization,
        user=user,
        domain=resolve_domain(data.domain),
        data=data,
        enqueue=enqueue,
    )


def _connect(
    *,
    organization: Organization,
    user: User | None,
    domain: CoupaDomain,
    data: ConnectionInput,
    enqueue: bool,
) -> ConnectionValidation:
    client_id = data.client_id.strip()
    if not client_id:
        raise ConnectionChangeError("Enter the client ID of the Coupa OAuth2 client.")
    # Lock the organization's connections so two admins cannot connect at once.
    list(Connection.objects.select_for_update(no_key=True).filter(organization=organization))
    current = connection_current(organization=organization)
    secret = (data.client_secret or "").strip()
    same_host = current is not None and current.host == domain.host
    if not secret and not same_host:
        raise ConnectionChangeError("Enter the client secret of the Coupa OAuth2 client.")

    if current is not None and not same_host:
        _archive(connection=current, user=user)
    connection = (
        current
        if same_host
        else Connection.objects.filter(
            organization=organization, provider=Provider.COUPA, host=domain.host
        ).first()
    )
    created = connection is None
    if connection is None:
        connection = Connection(
            organization=organization, provider=Provider.COUPA, host=domain.host
        )
    if created or (
        connection.state == Connection.State.DISCONNECTED
        and not connection_has_validated(connection=connection)
    ):
        connection.state = Connection.State.DRAFT
    connection.archived_at = None
    connection.base_url = domain.base_url
    if secret:
        connection.secret_encrypted = encrypt(secret)
    if data.rate_limit is not None:
        connection.rate_limit = data.rate_limit
    connection.provider_settings = (
        coupa_settings(connection)
        .but(
            client_id=client_id,
            # The local sandbox needs no pause after minting a token; real instances do (§2).
            post_token_pause=0.0 if domain.base_url.startswith("http://") else 5.0,
            missing_scopes=(),
        )
        .as_json()
    )
    connection.save()
    # The attempt is recorded now; whether it connected is recorded when validation ends.
    audit_record(
        organization=organization,
        action=AuditEvent.Action.CONNECT,
        summary=f"Started connecting Coupa at {domain.host}"
        + ("" if created else " (again)")
        + "; validating the credentials",
        actor=user,
        connection=connection,
        details={"host": domain.host, "client_id": client_id, "secret_changed": bool(secret)},
    )
    return _start_validation(connection=connection, user=user, enqueue=enqueue)


@transaction.atomic
def coupa_connection_update(
    *, organization: Organization, user: User | None, data: ConnectionInput
) -> ConnectionValidation:
    """Edit the connection (client ID, secret, rate limit or domain) and re-validate.

    A blank secret keeps the stored one. Changing the domain to another host behaves like
    connecting a new instance (the old one is archived).
    """
    current = connection_current(organization=organization)
    if current is None:
        raise NotConnectedError
    domain = resolve_domain(data.domain) if data.domain else None
    if domain is not None and domain.host != current.host:
        return _connect(
            organization=organization, user=user, domain=domain, data=data, enqueue=True
        )
    changed = []
    client_id = data.client_id.strip()
    if client_id and client_id != coupa_settings(current).client_id:
        current.provider_settings = coupa_settings(current).but(client_id=client_id).as_json()
        changed.append("client_id")
    if data.client_secret and data.client_secret.strip():
        current.secret_encrypted = encrypt(data.client_secret.strip())
        changed.append("client_secret")
    if data.rate_limit is not None and data.rate_limit != current.rate_limit:
        current.rate_limit = data.rate_limit
        changed.append("rate_limit")
    current.save()
    audit_record(
        organization=organization,
        action=AuditEvent.Action.EDIT,
        summary="Edited the Coupa configuration"
        + (f" ({', '.join(changed)})" if changed else " (no changes)"),
        actor=user,
        connection=current,
        details={"changed": changed},
    )
    return _start_validation(connection=current, user=user)


@transaction.atomic
def coupa_validate(*, organization: Organization, user: User | None) -> ConnectionValidation:
    """Validate the current connection again (for example after fixing scopes in Coupa)."""
    current = connection_current(organization=organization)
    if current is None:
        raise NotConnectedError
    audit_record(
        organization=organization,
        action=AuditEvent.Action.VALIDATE,
        summary="Asked to validate the Coupa connection",
        actor=user,
        connection=current,
    )
    return _start_validation(connection=current, user=user)


def _archive(*, connection: Connection, user: User | None) -> None:
    connection.archived_at = timezone.now()
    connection.state = Connection.State.DISCONNECTED
    connection.state_reason = "Replaced by a connection to another Coupa instance."
    connection.save(update_fields=["archived_at", "state", "state_reason", "updated_at"])
    audit_record(
        organization=connection.organization,
        action=AuditEvent.Action.ARCHIVE,
        summary=f"Archived the Coupa instance {connection.host} and its imported data",
        actor=user,
        connection=connection,
    )


@transaction.atomic
def coupa_disconnect(*, organization: Organization, user: User | None) -> Connection:
    """Stop using Coupa: syncs stop, imported data is kept read-only.

    Reconnecting to the same host later picks the data up again without duplicates.
    """
    current = connection_current(organization=organization)
    if current is None:
        raise NotConnectedError
    current.state = Connection.State.DISCONNECTED
    current.state_reason = "Disconnected by an admin."
    current.save(update_fields=["state", "state_reason", "updated_at"])
    audit_record(
        organization=organization,
        action=AuditEvent.Action.DISCONNECT,
        summary=f"Disconnected Coupa at {current.host}",
        actor=user,
        connection=current,
    )
    return current


StepCallback = Callable[[dict[str, str]], None]


@dataclass
class _Steps:
    """Records a validation's steps as they progress (and tells `on_step`, if given)."""

    validation: ConnectionValidation
    on_step: StepCallback | None = None

    def set(self, key: str, status: str, message: str = "") -> None:
        for step in self.validation.steps:
            if step["key"] == key:
                step["status"] = status
                step["message"] = message
                if self.on_step is not None:
                    self.on_step(dict(step))
        self.validation.save(update_fields=["steps"])


def _failure_sentence(error: CoupaError, connection: Connection) -> str:
    if isinstance(error, CoupaScopeError):
        return error.user_message
    if isinstance(error, CoupaAuthError):
        return "Coupa rejected the client ID or secret."
    if isinstance(error, CoupaTimeoutError):
        seconds = error.timeout or settings.COUPA_CONNECT_TIMEOUT
        return f"The domain {connection.host} did not answer within {seconds:g} s."
    return error.user_message


def connection_validate(
    *, validation_id: int, on_step: StepCallback | None = None
) -> ConnectionValidation:
    """Run a validation: authenticate, find missing scopes, read the active charts.

    Records each step's progress as it goes and leaves the connection connected, or in
    "needs attention" with a sentence the admin can act on. Idempotent: a finished run is
    left alone, so a redelivered task does nothing.
    """
    validation = ConnectionValidation.objects.select_related("connection").get(pk=validation_id)
    if validation.is_finished:
        return validation
    steps = _Steps(validation, on_step)
    connection = validation.connection
    validation.state = ConnectionValidation.State.RUNNING
    validation.save(update_fields=["state"])
    current_step = "authenticate"
    granted: list[str] = []
    missing: list[str] = []
    try:
        steps.set("authenticate", "running")
        with client_for(connection) as client:
            try:
                missing = client.missing_scopes()
            except CoupaScopeError as exc:
                # Some strategies only learn of missing scopes from the refusal itself.
                missing = list(exc.missing_scopes)
            steps.set("authenticate", "done", "Coupa accepted the client ID and secret.")
            current_step = "scopes"
            steps.set("scopes", "running")
            required = list(client.config.scopes)
            granted = [s for s in required if s not in missing]
            if missing:
                raise CoupaScopeError(missing, "missing scopes")
            steps.set("scopes", "done", f"All {len(required)} scopes are granted.")
            current_step = "read"
            steps.set("read", "running")
            charts = charts_fetch_active(client)
            # Stored now so the chart slider can list them right after connecting.
            import_charts(connection=connection, records=charts)
            steps.set(
                "read",
                "done",
                f"Found {len(charts)} active chart{'s' if len(charts) != 1 else ''} of accounts.",
            )
    except CoupaError as exc:
        sentence = _failure_sentence(exc, connection)
        logger.info(
            "Coupa validation %s failed at %s: %s", validation.pk, current_step, type(exc).__name__
        )
        return _finish_validation(
            steps,
            ok=False,
            step=current_step,
            sentence=sentence,
            granted=granted,
            missing=missing,
        )
    except Exception:
        logger.exception("Coupa validation %s crashed at %s", validation.pk, current_step)
        return _finish_validation(
            steps,
            ok=False,
            step=current_step,
            sentence="The validation stopped because of an internal error; try again.",
            granted=granted,
            missing=missing,
        )
    return _finish_validation(steps, ok=True, step=None, sentence="", granted=granted, missing=[])


@transaction.atomic
def _finish_validation(
    steps: _Steps,
    *,
    ok: bool,
    step: str | None,
    sentence: str,
    granted: list[str],
    missing: list[str],
) -> ConnectionValidation:
    validation = steps.validation
    connection = _lock_connection(validation.connection_id)
    if step is not None:
        steps.set(step, "failed", sentence)
        for s in validation.steps:
            if s["status"] in ("pending", "running"):
                s["status"] = "skipped"
    validation.state = (
        ConnectionValidation.State.SUCCEEDED if ok else ConnectionValidation.State.FAILED
    )
    validation.error = sentence
    validation.finished_at = timezone.now()
    validation.save(update_fields=["state", "error", "finished_at", "steps"])
    # A draft (never validated) stays one when validation fails and is connected by its
    # first success; a connection that validated before needs attention when it fails.
    was_draft = connection.state == Connection.State.DRAFT
    connection.last_validated_at = validation.finished_at
    if granted or missing:
        connection.provider_settings = (
            coupa_settings(connection).but(granted_scopes=granted, missing_scopes=missing).as_json()
        )
    if ok:
        connection.state = Connection.State.CONNECTED
    else:
        connection.state = Connection.State.DRAFT if was_draft else Connection.State.NEEDS_ATTENTION
    connection.state_reason = sentence
    connection.save()
    _audit_validation(validation=validation, connection=connection, ok=ok, first=was_draft)
    _alert_connection(connection)
    return validation


def _alert_connection(connection: Connection) -> None:
    """Tell the admins that the connection needs attention, or that it works again (once
    per change: `integrations.alerts`)."""
    if connection.state == Connection.State.NEEDS_ATTENTION:
        alert_raise(
            connection=connection, topic=Alert.Topic.CONNECTION, message=connection.state_reason
        )
    elif connection.state == Connection.State.CONNECTED:
        alert_clear(connection=connection, topic=Alert.Topic.CONNECTION)


def _audit_validation(
    *, validation: ConnectionValidation, connection: Connection, ok: bool, first: bool
) -> None:
    """Record how a validation ended: a first success connects, a failure says why."""
    host = connection.host
    if ok and not first:
        return  # "Asked to validate" (or the edit) is already on the trail.
    if ok:
        action, summary = AuditEvent.Action.CONNECT, f"Connected Coupa at {host}"
    elif first:
        action = AuditEvent.Action.CONNECT_FAILED
        summary = f"Could not connect Coupa at {host}: {validation.error}"
    else:
        action = AuditEvent.Action.NEEDS_ATTENTION
        summary = f"Validation of Coupa at {host} failed: {validation.error}"
    audit_record(
        organization=connection.organization,
        action=action,
        summary=summary[:500],
        actor=validation.requested_by,
        connection=connection,
        details={"validation": validation.pk, "host": host},
    )
