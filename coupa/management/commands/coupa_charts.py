"""`coupa_charts --org SLUG [--select ID_OR_NAME ...]`: list or choose charts of accounts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coupa.management.commands._common import organization_by_slug
from coupa.models import ChartOfAccounts
from coupa.reference.services import ChartSelectionError, charts_select
from coupa.reference.walk import sync_run_execute
from integrations.models import SyncRun
from integrations.selectors import connection_current


class Command(BaseCommand):
    help = (
        "List the active charts of accounts (Coupa id, name, currency, legal entity, selected), "
        "or set the selection with --select and import the added charts' accounts now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument(
            "--select",
            nargs="+",
            metavar="ID_OR_NAME",
            help="Coupa ids or names of the charts to select (replaces the selection)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["org"])
        connection = connection_current(organization=organization)
        if connection is None:
            raise CommandError("Coupa is not connected for this organization.")
        charts = list(
            ChartOfAccounts.objects.filter(connection=connection, active=True).order_by("name")
        )
        if options["select"]:
            chosen = [self._find(charts, value) for value in options["select"]]
            try:
                run = charts_select(
                    connection=connection,
                    chart_ids={c.pk for c in chosen},
                    user=None,
                    enqueue=False,
                )
            except ChartSelectionError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write("Selected: " + ", ".join(sorted({c.name for c in chosen})))
            if run is not None and run.state == SyncRun.State.QUEUED and not run.started_at:
                self.stdout.write(f"Importing the added charts' accounts (sync {run.pk})...")
                result = sync_run_execute(sync_run_id=run.pk)
                if result is not None:
                    self.stdout.write(f"Sync {result.pk}: {result.get_state_display()}")
                    if result.state != SyncRun.State.SUCCEEDED:
                        raise CommandError(result.error or "The sync did not finish.")
            elif run is not None:
                self.stdout.write(f"Sync {run.pk} is running; it will import the added charts.")
            return
        if not charts:
            self.stdout.write(
                "No active charts of accounts imported yet (validate the connection)."
            )
            return
        self.stdout.write(
            f"{'ID':>8}  {'SEL':3}  {'NAME':<40} {'CUR':<5} {'LEGAL ENTITY':<30} DYNAMIC"
        )
        for c in charts:
            self.stdout.write(
                f"{c.external_id:>8}  {'yes' if c.selected else 'no':3}  {c.name[:40]:<40} "
                f"{c.currency_code:<5} {c.legal_entity_name[:30]:<30} {'yes' if c.dynamic else ''}"
            )

    def _find(self, charts: list[ChartOfAccounts], value: str) -> ChartOfAccounts:
        if value.isdigit():
            for c in charts:
                if c.external_id == int(value):
                    return c
        matches = [c for c in charts if c.name.casefold() == value.casefold()]
        if len(matches) == 1:
            return matches[0]
        raise CommandError(f"No active chart of accounts with the Coupa id or name {value!r}.")
