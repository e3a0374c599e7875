"""The Coupa instance's requisition custom fields, as the admin declares them.

Coupa's API does not list an instance's custom fields, so the admin declares them per
connection (`integrations.models.CustomFieldDefinition`); the mapping then offers them
and requires the mapping of every required one before a workflow is published. A field's
level and API name are its mapping key (`custom.header.po-reference`), so they stay
fixed once declared: declare another field instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from coupa.requisitions.fields import STANDARD, custom_key
from integrations.models import Connection, CustomFieldDefinition
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User

# Coupa custom field API names: letters, digits, hyphens and underscores (po-reference).
_API_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")


class CustomFieldError(Exception):
    """A declaration that cannot be made; the message says why, for the admin."""


def custom_field_list(*, connection: Connection) -> QuerySet[CustomFieldDefinition]:
    """The connection's declared custom fields: the header's, then each line's."""
    return CustomFieldDefinition.objects.filter(connection=connection).order_by(
        "level", "api_name", "pk"
    )


def _check(level: str, type_: str, values: Sequence[str]) -> None:
    if level not in CustomFieldDefinition.Level.values:
        raise CustomFieldError(f"Unknown level {level!r}.")
    if type_ not in CustomFieldDefinition.Type.values:
        raise CustomFieldError(f"Unknown type {type_!r}.")
    if type_ == CustomFieldDefinition.Type.LOOKUP and not values:
        raise CustomFieldError("A list-of-values field needs its values.")


def _label(label: str) -> str:
    label = label.strip()
    limit = CustomFieldDefinition._meta.get_field("label").max_length or 0
    if len(label) > limit:
        raise CustomFieldError(f"Label: at most {limit} characters (it has {len(label)}).")
    return label


def _clean(values: Sequence[Any]) -> list[str]:
    return [str(v).strip() for v in values if str(v).strip()]


def _audit(connection: Connection, user: User | None, summary: str) -> None:
    audit_record(
        organization=connection.organization,
        connection=connection,
        actor=user,
        action=AuditEvent.Action.CUSTOM_FIELD_CHANGE,
        summary=summary,
    )


@transaction.atomic
def custom_field_create(
    *,
    connection: Connection,
    api_name: str,
    level: str = CustomFieldDefinition.Level.HEADER,
    label: str = "",
    type: str = CustomFieldDefinition.Type.STRING,
    required: bool = False,
    values: Sequence[Any] = (),
    user: User | None,
) -> CustomFieldDefinition:
    """Declare a custom field of the instance's requisitions; CustomFieldError if invalid."""
    api_name = api_name.strip()
    if not _API_NAME.match(api_name):
        raise CustomFieldError(
            f"API name {api_name!r}: use the field's name in Coupa, lower-case letters, "
            "digits, - and _, starting with a letter."
        )
    values = _clean(values)
    _check(level, type, values)
    standard = {(f.level, f.coupa_key) for f in STANDARD.values()}
    if (level, api_name) in standard or (level == "header" and api_name == "requisition-lines"):
        raise CustomFieldError(f"{api_name!r} is a standard requisition field, not a custom one.")
    try:
        with transaction.atomic():
            definition = CustomFieldDefinition.objects.create(
                connection=connection,
                level=level,
                api_name=api_name,
                label=_label(label),
                type=type,
                required=required,
                values=values if type == CustomFieldDefinition.Type.LOOKUP else [],
            )
    except IntegrityError:
        raise CustomFieldError(f"The custom field {api_name!r} is already declared.") from None
    _audit(connection, user, f"Declared the Coupa custom field {custom_key(definition)}.")
    return definition


@transaction.atomic
def custom_field_update(
    *,
    definition: CustomFieldDefinition,
    label: str | None = None,
    type: str | None = None,
    required: bool | None = None,
    values: Sequence[Any] | None = None,
    user: User | None,
) -> CustomFieldDefinition:
    """Change a declaration's label, type, requirement or values (never its key)."""
    if label is not None:
        definition.label = _label(label)
    if type is not None:
        definition.type = type
    if required is not None:
        definition.required = required
    if values is not None:
        definition.values = _clean(values)
    _check(definition.level, definition.type, definition.values)
    if definition.type != CustomFieldDefinition.Type.LOOKUP:
        definition.values = []
    definition.save()
    _audit(definition.connection, user, f"Edited the Coupa custom field {custom_key(definition)}.")
    return definition


@transaction.atomic
def custom_field_delete(*, definition: CustomFieldDefinition, user: User | None) -> None:
    """Remove a declaration; mappings of it are no longer offered nor sent."""
    key, connection = custom_key(definition), definition.connection
    definition.delete()
    _audit(connection, user, f"Removed the Coupa custom field {key}.")
