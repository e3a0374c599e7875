"""Declare the custom fields of a Coupa instance's purchase requisition.

Coupa's API does not list an instance's custom fields in a form this product can read
reliably, so the admin declares them (coupa-api.md 1, "custom fields"; 9b): API name, label, type, header or
line, required or not, and the values of a lookup. Required ones join the mapping's
required fields; the mapping page and the publish gate read them through
`coupa.requisitions.fields.pr_field_list`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import transaction

from coupa.requisitions.fields import STANDARD, custom_key
from integrations.models import Connection, CustomFieldDefinition
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User

_API_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")


class CustomFieldError(Exception):
    """A custom field declaration that cannot be made; the message is for the admin."""


@transaction.atomic
def custom_field_create(
    *,
    connection: Connection,
    api_name: str,
    label: str = "",
    type: str = CustomFieldDefinition.Type.STRING,
    level: str = CustomFieldDefinition.Level.HEADER,
    required: bool = False,
    values: Sequence[str] = (),
    user: User | None,
) -> CustomFieldDefinition:
    """Declare one custom field of the connection's instance; audited.

    Raises CustomFieldError for a malformed or duplicate API name, an unknown type or
    level, a name that clashes with a standard field, or a lookup without values.
    """
    api_name = api_name.strip()
    if not _API_NAME.match(api_name):
        raise CustomFieldError(
            f"API name {api_name!r}: use the field's API name on the instance "
            "(lower-case letters, digits, - and _, starting with a letter)."
        )
    if type not in CustomFieldDefinition.Type.values:
        raise CustomFieldError(f"Unknown custom field type {type!r}.")
    if level not in CustomFieldDefinition.Level.values:
        raise CustomFieldError(f"Unknown level {level!r}.")
    standard = {(f.level, f.coupa_key) for f in STANDARD.values()}
    if (level, api_name) in standard or (level == "header" and api_name == "requisition-lines"):
        raise CustomFieldError(f"{api_name!r} is a standard requisition field, not a custom one.")
    clean = [v.strip() for v in values if v.strip()]
    if type == CustomFieldDefinition.Type.LOOKUP and not clean:
        raise CustomFieldError("A list-of-values field needs its values.")
    if connection.custom_fields.filter(level=level, api_name=api_name).exists():
        raise CustomFieldError(f"The custom field {api_name!r} is already declared.")
    definition = CustomFieldDefinition.objects.create(
        connection=connection,
        api_name=api_name,
        label=label.strip(),
        type=type,
        level=level,
        required=required,
        values=clean if type == CustomFieldDefinition.Type.LOOKUP else [],
    )
    audit_record(
        organization=connection.organization,
        connection=connection,
        actor=user,
        action=AuditEvent.Action.CUSTOM_FIELD_CHANGE,
        summary=f"Declared the custom field {definition}.",
        details={"target": custom_key(definition), "required": required},
    )
    return definition


@transaction.atomic
def custom_field_delete(*, definition: CustomFieldDefinition, user: User | None) -> None:
    """Forget a declared custom field; its mappings are no longer shown or sent. Audited."""
    connection, text, target = definition.connection, str(definition), custom_key(definition)
    definition.delete()
    audit_record(
        organization=connection.organization,
        connection=connection,
        actor=user,
        action=AuditEvent.Action.CUSTOM_FIELD_CHANGE,
        summary=f"Removed the custom field {text}.",
        details={"target": target},
    )
