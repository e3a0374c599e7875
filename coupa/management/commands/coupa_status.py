from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from coupa.connections.selectors import connection_summary
from coupa.management.commands._common import organization_by_slug
from coupa.reference.selectors import sync_status
from integrations.selectors import (
    connection_current,
    connection_validation_latest,
)


class Command(BaseCommand):
    help = "Print the state of an organization's Coupa connection (--json for scripts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["org"])
        connection = connection_current(organization=organization)
        status: dict[str, Any] = {"organization": organization.slug}
        if connection is None:
            status.update(
                {"state": "not_connected", "state_label": "Not connected", "actions": ["connect"]}
            )
        else:
            status.update(connection_summary(connection))
            latest = connection_validation_latest(connection=connection)
            status["latest_validation"] = (
                {"state": latest.state, "error": latest.error, "steps": latest.steps}
                if latest
                else None
            )
            status.update(sync_status(connection=connection))
        if options["json"]:
            self.stdout.write(json.dumps(status, sort_keys=True))
            return
        self.stdout.write(f"Organization:     {organization.slug}")
        self.stdout.write(f"State:            {status['state_label']}")
        if connection is None:
            return
        if status["state_reason"]:
            self.stdout.write(f"Reason:           {status['state_reason']}")
        self.stdout.write(f"Domain:           {status['base_url']}")
        self.stdout.write(f"Client ID:        {status['client_id']}")
        self.stdout.write(f"Granted scopes:   {' '.join(status['granted_scopes']) or '-'}")
        missing = " ".join(status["missing_scopes"]) or "none"
        self.stdout.write(
            f"Missing scopes:   {missing if status['scopes_checked'] else 'not checked yet'}"
        )
        self.stdout.write(f"Rate limit:       {status['rate_limit']} requests/s")
        self.stdout.write(f"Last validated:   {status['last_validated_at'] or 'never'}")
        self._sync_text(status)

    def _sync_text(self, status: dict[str, Any]) -> None:
        charts = status["selected_charts"]
        self.stdout.write(
            "Selected charts:  "
            + (", ".join(f"{c['name']} ({c['external_id']})" for c in charts) or "none")
        )
        self.stdout.write(f"{'Resource':<14} {'imported':>9} {'active':>9} {'shown':>9}")
        for name, counts in status["resources"].items():
            shown = counts.get("shown")
            self.stdout.write(
                f"{name:<14} {counts['imported']:>9} {counts['active']:>9} "
                f"{'-' if shown is None else shown:>9}"
            )
        self.stdout.write("Last syncs:" if status["last_runs"] else "Last syncs:       none")
        for run in status["last_runs"]:
            line = (
                f"  #{run['id']} {run['trigger']:<12} {run['state']:<10} "
                f"{run['started_at'] or run['created_at']}  {run['requests']} requests"
            )
            if run["error"]:
                line += f"  error: {run['error']}"
            self.stdout.write(line)
