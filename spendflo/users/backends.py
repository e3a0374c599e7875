"""Sign-in through Django's model backend, throttled (`spendflo.users.throttle`).

Every password check goes through here: the sign-in page, Django's admin site and any
other caller of `django.contrib.auth.authenticate`. The signed-in user of each request is
read here too (`get_user`), with the organization every view scopes its queries to.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User
from spendflo.users.throttle import client_ip, login_attempt_begin

logger = logging.getLogger(__name__)

# Set on the request when an attempt is refused, for the sign-in page's message.
REFUSAL_ATTRIBUTE = "signin_refusal"


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        attempt = login_attempt_begin(email=username, request=request)
        if attempt.locked_for:
            logger.info("Sign-in refused during a lockout (from %s)", client_ip(request))
            if request is not None:
                setattr(request, REFUSAL_ATTRIBUTE, attempt.message)
            # Stops django.contrib.auth.authenticate: the password is not checked at all.
            raise PermissionDenied(attempt.message)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            attempt.succeeded()
            return user
        failures = attempt.failed()
        wait = attempt.now_locked_for()
        if wait:
            _record_lockout(email=username, request=request, failures=failures, wait=wait)
        return None

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        # The async path must not skip the throttle.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )

    def get_user(self, user_id: Any) -> User | None:
        # Every signed-in request reads the user's organization (tenant scope, time zone,
        # capabilities): one query with the user rather than a second one.
        try:
            user = User._default_manager.select_related("organization").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    async def aget_user(self, user_id: Any) -> User | None:
        try:
            user = await User._default_manager.select_related("organization").aget(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def _record_lockout(*, email: str, request: HttpRequest | None, failures: int, wait: float) -> None:
    address = client_ip(request)
    logger.warning(
        "Sign-in locked for %d s after %d failed attempts (from %s)", wait, failures, address
    )
    user = User.objects.filter(email__iexact=email.strip()).select_related("organization").first()
    if user is None or user.organization is None:
        return
    audit_record(
        organization=user.organization,
        action=AuditEvent.Action.SIGNIN_LOCKOUT,
        summary=(
            f"Sign-in for {user.email} locked for {round(wait)} s after "
            f"{failures} failed attempts from {address}"
        ),
        details={
            "email": user.email,
            "address": address,
            "failures": failures,
            "locked_seconds": round(wait),
        },
    )
