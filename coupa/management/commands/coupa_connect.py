from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coupa.client.domains import CoupaDomainError
from coupa.connections.services import (
    ConnectionChangeError,
    ConnectionInput,
    connection_validate,
    coupa_connect,
)
from coupa.management.commands._common import organization_by_slug
from integrations.models import Connection, ConnectionValidation

MARKS = {"running": "…", "done": "✓", "failed": "✗", "skipped": "-"}


class Command(BaseCommand):
    help = (
        "Connect an organization to Coupa and validate the connection, printing each step. "
        "The client secret is read from COUPA_CLIENT_SECRET or standard input, never an argument."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--domain", required=True, help="e.g. acme.coupahost.com")
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--rate-limit", type=float, default=None)

    def _secret(self) -> str:
        secret = os.environ.get("COUPA_CLIENT_SECRET", "")
        if not secret:
            if sys.stdin.isatty():
                import getpass

                secret = getpass.getpass("Coupa client secret: ")
            else:
                secret = sys.stdin.readline()
        secret = secret.strip()
        if not secret:
            raise CommandError(
                "No client secret: set COUPA_CLIENT_SECRET or pass it on standard input."
            )
        return secret

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["org"])
        try:
            validation = coupa_connect(
                organization=organization,
                user=None,
                data=ConnectionInput(
                    domain=options["domain"],
                    client_id=options["client_id"],
                    client_secret=self._secret(),
                    rate_limit=options["rate_limit"],
                ),
                enqueue=False,
            )
        except (CoupaDomainError, ConnectionChangeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Validating Coupa at {validation.connection.host}")

        def show(step: dict[str, str]) -> None:
            if step["status"] == "running":
                return
            line = f"  {MARKS.get(step['status'], '?')} {step['label']}"
            if step["message"]:
                line += f": {step['message']}"
            self.stdout.write(line)

        validation = connection_validate(validation_id=validation.pk, on_step=show)
        if validation.state != ConnectionValidation.State.SUCCEEDED:
            validation.connection.refresh_from_db(fields=["state"])
            if validation.connection.state == Connection.State.DRAFT:
                self.stdout.write(
                    "The connection is saved as a draft: nothing is imported until it validates."
                )
            raise CommandError(validation.error)
        self.stdout.write(self.style.SUCCESS("Coupa is connected."))
