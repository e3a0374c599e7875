"""Show to Users: the admin's choice of which records requesters may pick."""

from __future__ import annotations

from collections.abc import Collection

from django.db import transaction

from coupa.selectors import PICKABLE_MODELS, RecordFilter, record_list
from integrations.models import AuditEvent, Connection
from integrations.services import audit_record
from spendflo.users.models import User

LABELS = {"accounts": "account", "vendors": "vendor", "items": "item"}


class UnknownRecordKindError(ValueError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"Show to Users applies to accounts, vendors and items, not {kind!r}.")


@transaction.atomic
def records_set_shown(
    *, connection: Connection, user: User | None, kind: str, ids: Collection[int], shown: bool
) -> int:
    """Show or hide records (our pks) of the connection; return how many changed.

    The choice survives every later sync (imports never write `show_to_users` of an
    existing row). Ids of other connections are ignored (tenant isolation).
    """
    model = PICKABLE_MODELS.get(kind)
    if model is None:
        raise UnknownRecordKindError(kind)
    changed = (
        model.objects.filter(connection=connection, pk__in=list(ids))
        .exclude(show_to_users=shown)
        .update(show_to_users=shown)
    )
    if changed:
        _audit(connection, user, kind, shown, changed, {"ids": sorted(ids)[:20]})
    return changed


@transaction.atomic
def records_bulk_set_shown(
    *, connection: Connection, user: User | None, kind: str, filters: RecordFilter, shown: bool
) -> int:
    """Show or hide every record matching the tab's current filter; return how many changed."""
    if kind not in PICKABLE_MODELS:
        raise UnknownRecordKindError(kind)
    qs = record_list(
        organization=connection.organization, connection=connection, kind=kind, filters=filters
    )
    model = PICKABLE_MODELS[kind]
    changed = (
        model.objects.filter(pk__in=qs.values("pk")).exclude(show_to_users=shown).update(show_to_users=shown)
    )
    if changed:
        _audit(connection, user, kind, shown, changed, {"filter": {
            "search": filters.search, "chart": filters.chart,
            "visibility": filters.visibility, "active": filters.active,
        }})
    return changed


def _audit(
    connection: Connection, user: User | None, kind: str, shown: bool, changed: int,
    details: dict[str, object],
) -> None:
    noun = LABELS[kind] + ("s" if changed != 1 else "")
    audit_record(
        organization=connection.organization,
        action=AuditEvent.Action.TOGGLE,
        summary=f"{'Showed' if shown else 'Hid'} {changed} {noun} {'to' if shown else 'from'} requesters",
        actor=user,
        connection=connection,
        details={"kind": kind, "shown": shown, "count": changed, **details},
    )
