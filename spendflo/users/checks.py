"""`manage.py check --deploy` checks of what reaches users: password-reset links by email."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Backends that never deliver: the message ends up in the logs, a file or memory.
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register(Tags.security, deploy=True)
def email_is_delivered(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or settings.EMAIL_BACKEND not in UNDELIVERED_EMAIL_BACKENDS:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: password-reset links and notices "
            "are not delivered, and reset links end up in the logs.",
            hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the "
            "EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER and EMAIL_HOST_PASSWORD of your mail server.",
            id="spendflo.W001",
        )
    ]
