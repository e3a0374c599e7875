from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from spendflo.users.services import OrganizationExistsError, UserError, organization_create


class Command(BaseCommand):
    help = "Create an organization (tenant) with its first admin and print a one-time password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = organization_create(
                slug=options["slug"], name=options["name"], admin_email=options["admin_email"]
            )
        except (OrganizationExistsError, UserError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Created organization {created.organization.slug} ({created.organization.name}).\n"
            f"Admin: {created.admin.email}\n"
            f"One-time password: {created.password}\n"
            "Ask the admin to change it after the first sign-in (Forgot password also works)."
        )
