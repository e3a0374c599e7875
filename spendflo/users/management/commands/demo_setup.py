from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from spendflo.organizations.models import Organization
from spendflo.users.models import User
from spendflo.users.services import generate_password

DEMO_USERS = [
    ("admin@demo.example", User.Role.ADMIN, "Ada", "Admin"),
    ("ops@demo.example", User.Role.OPS, "Otto", "Ops"),
    ("requester@demo.example", User.Role.REQUESTER, "Rita", "Requester"),
]


class Command(BaseCommand):
    help = (
        "Create the demo organization and its admin, ops and requester users once "
        "(passwords generated the first time and kept in var/), then print how to sign in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials-file",
            default=str(Path(settings.VAR_DIR) / "demo-credentials.json"),
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["credentials_file"])
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        org, _ = Organization.objects.get_or_create(slug="demo", defaults={"name": "Demo Inc."})
        for email, role, first, last in DEMO_USERS:
            password = stored.get(email) or generate_password()
            user = User.objects.filter(email=email).first()
            if user is None:
                User.objects.create_user(
                    email=email,
                    password=password,
                    organization=org,
                    role=role,
                    first_name=first,
                    last_name=last,
                )
            elif email not in stored:
                # A user without a stored password (file removed): give it a fresh one.
                user.set_password(password)
                user.save(update_fields=["password"])
            stored[email] = password
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
        self.stdout.write("Demo users (organization 'demo'):")
        for email, role, _first, _last in DEMO_USERS:
            self.stdout.write(f"  {role.label:<10} {email:<26} password: {stored[email]}")
