from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.organizations.models import Organization

if TYPE_CHECKING:
    from spendflo.users.models import User


@transaction.atomic
def organization_set_show_new_records(
    *, organization: Organization, user: User | None, shown: bool
) -> Organization:
    """Choose whether newly imported Coupa records are offered to requesters by default.

    Applies to records imported from now on; existing records keep their own choice.
    """
    if organization.show_new_records_by_default != shown:
        organization.show_new_records_by_default = shown
        organization.save(update_fields=["show_new_records_by_default"])
        audit_record(
            organization=organization,
            action=AuditEvent.Action.TOGGLE,
            summary="New Coupa records are "
            + ("shown to users by default" if shown else "hidden from users by default"),
            actor=user,
            details={"show_new_records_by_default": shown},
        )
    return organization
