"""`coupa_sync --org SLUG [--full] [--resources accounts,vendors] [--cancel]`: sync now."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coupa.management.commands._common import organization_by_slug
from coupa.reference.registry import RESOURCES
from coupa.reference.sync import (
    SyncRequestError,
    sync_cancel,
    sync_request_or_attach,
    sync_run_live,
)
from coupa.reference.walk import sync_run_execute
from integrations.models import SyncRun
from integrations.selectors import connection_current

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Sync the organization's Coupa reference data now, in this process (no broker), "
        "and print the counts. Exits non-zero when the sync fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--full", action="store_true", help="Walk the active sets (reconcile)")
        parser.add_argument(
            "--resources",
            default="",
            help=f"Comma-separated subset of: {','.join(list(RESOURCES))}",
        )
        parser.add_argument("--cancel", action="store_true", help="Cancel the running sync")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["org"])
        connection = connection_current(organization=organization)
        if connection is None:
            raise CommandError("Coupa is not connected for this organization.")
        if options["cancel"]:
            live = sync_run_live(connection=connection)
            if live is None:
                self.stdout.write("No sync is running.")
                return
            sync_cancel(run=live, user=None)
            self.stdout.write(f"Asked sync {live.pk} to stop.")
            return
        resources = [r.strip() for r in options["resources"].split(",") if r.strip()]
        try:
            run, created = sync_request_or_attach(
                connection=connection,
                trigger=SyncRun.Trigger.RECONCILE if options["full"] else SyncRun.Trigger.MANUAL,
                user=None,
                resources=resources or None,
                full=options["full"],
                enqueue=False,
            )
        except SyncRequestError as exc:
            raise CommandError(str(exc)) from exc
        self._tty = self.stdout.isatty() if hasattr(self.stdout, "isatty") else sys.stdout.isatty()
        self._order = run.resources or list(RESOURCES)
        self._last_line = ""
        if created:
            self.stdout.write(f"Sync {run.pk} started.")
            result = sync_run_execute(sync_run_id=run.pk, on_progress=self._progress)
            assert result is not None
            run = result
        else:
            self.stdout.write(f"Sync {run.pk} is already running; following it.")
            run = self._follow(run)
        if self._tty:
            self.stdout.write("")
        self._summary(run)
        if run.state != SyncRun.State.SUCCEEDED:
            raise CommandError(f"Sync {run.pk} {run.get_state_display().lower()}: {run.error}")

    def _follow(self, run: SyncRun) -> SyncRun:
        while True:
            run.refresh_from_db()
            if not run.is_live:
                return run
            self._progress(run.progress)
            time.sleep(1.0)

    def _progress(self, progress: dict[str, Any]) -> None:
        resource = str(progress.get("resource") or "")
        done = len(progress.get("done") or [])
        share = done / max(1, len(self._order))
        text = (
            f"{resource:<12} pages {progress.get('pages', 0):>6}  "
            f"records {progress.get('records', 0):>8}  total {progress.get('total_records', 0):>9}"
        )
        if self._tty:
            filled = int(BAR_WIDTH * share)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stdout.write(f"\r[{bar}] {text}", ending="")
            self.stdout.flush()
        elif resource != self._last_line:
            # Plain output (logs, pipes): one line per resource.
            self.stdout.write(f"syncing {resource}")
            self._last_line = resource

    def _summary(self, run: SyncRun) -> None:
        self.stdout.write(
            f"Sync {run.pk}: {run.get_state_display()} "
            f"({run.requests} requests, {run.retries} retries, {run.throttled} throttled)"
        )
        self.stdout.write(
            f"{'resource':<12} {'created':>8} {'updated':>8} {'deactivated':>12} {'unchanged':>10}"
        )
        for name in list(RESOURCES):
            counts = run.counts.get(name)
            if counts is None:
                continue
            self.stdout.write(
                f"{name:<12} {counts['created']:>8} {counts['updated']:>8} "
                f"{counts['deactivated']:>12} {counts['unchanged']:>10}"
            )
        if run.error:
            self.stdout.write(f"Error: {run.error}")
