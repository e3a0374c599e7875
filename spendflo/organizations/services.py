from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.organizations.models import Organization
from spendflo.organizations.timezones import time_zone_validate

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


@transaction.atomic
def organization_set_time_zone(
    *, organization: Organization, user: User | None, time_zone: str
) -> Organization:
    """Set the IANA time zone pages show dates and times in.

    Raises TimeZoneError (with a sentence) for a name that is not an IANA zone; the
    organization is then unchanged. Setting the current zone again records nothing.
    """
    name = time_zone_validate(time_zone)
    if organization.time_zone != name:
        previous = organization.time_zone
        organization.time_zone = name
        organization.save(update_fields=["time_zone"])
        audit_record(
            organization=organization,
            action=AuditEvent.Action.SETTINGS_CHANGE,
            summary=f"Time zone changed from {previous} to {name}",
            actor=user,
            details={"time_zone": name, "previous": previous},
        )
    return organization
