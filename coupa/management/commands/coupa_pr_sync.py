from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coupa.management.commands._common import organization_by_slug
from coupa.requisitions.status_sync import requisition_sync_connection
from integrations.models import SyncRun
from integrations.selectors import connection_current


class Command(BaseCommand):
    help = "Sync the status of an organization's Coupa requisitions and their purchase orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument(
            "--hourly",
            action="store_true",
            help="Only what changed since the last pass (default: every open requisition)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["org"])
        connection = connection_current(organization=organization)
        if connection is None:
            raise CommandError(f"{organization.slug} has no Coupa connection.")
        run = requisition_sync_connection(
            connection_id=connection.pk,
            mode="hourly" if options["hourly"] else "daily",
            trigger=SyncRun.Trigger.MANUAL,
        )
        counts = run.counts.get("requisitions", {})
        self.stdout.write(
            f"{run.state}: {counts.get('checked', 0)} requisitions checked, "
            f"{counts.get('updated', 0)} changed, {counts.get('created', 0)} new purchase "
            f"orders, {counts.get('orders_changed', 0)} changed; {run.requests} requests."
        )
        if run.error:
            raise CommandError(run.error)
