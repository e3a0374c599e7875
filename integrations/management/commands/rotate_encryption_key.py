from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.crypto import reencrypt
from integrations.models import Connection


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the newest key (the first of FIELD_ENCRYPTION_KEY). "
        "Put the new key first, run this, then remove the old key."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        for connection in Connection.objects.select_for_update().only("pk", "secret_encrypted"):
            if not connection.secret_encrypted:
                continue
            connection.secret_encrypted = reencrypt(connection.secret_encrypted)
            connection.save(update_fields=["secret_encrypted"])
            count += 1
        self.stdout.write(
            f"Re-encrypted {count} secret{'s' if count != 1 else ''} with the newest key."
        )
