"""Throttling of password guesses: sign-in and password-reset requests.

Failures are counted in the shared cache (Redis, or the database cache without it), so the
limits hold across web workers. Counters are keyed by what was typed (the email, lowercased),
never by whether an account exists, so a lockout reveals nothing about which emails are
registered.

Sign-in: after `LOGIN_FAILURES_PER_ACCOUNT_IP` failures in a row for one email from one
address (or `LOGIN_FAILURES_PER_ACCOUNT` from anywhere), every further attempt is refused
unchecked for a window that starts at `LOGIN_LOCKOUT_SECONDS` and doubles with each
further failure, up to `LOGIN_LOCKOUT_MAX_SECONDS`. A success resets the counters.

Each attempt takes a ticket (an atomic increment) before its password is checked, so
attempts sent side by side cannot all slip in before the first failure is counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

# Counters outlive the longest lockout; a quiet day forgets them.
COUNTER_TTL_SECONDS = 24 * 3600

clock: Callable[[], float] = time.time  # tests move it instead of waiting
# Prefix of every counter's cache key; tests give each test its own.
namespace = "throttle"


def client_ip(request: HttpRequest | None) -> str:
    """The caller's address: `REMOTE_ADDR`, or behind `NUM_PROXIES` trusted proxies the
    address the outermost of them saw (DRF's rule for `NUM_PROXIES`)."""
    if request is None:
        return "unknown"
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return str(hops[-min(proxies, len(hops))])
    return str(remote)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _wait_text(seconds: float) -> str:
    whole = math.ceil(seconds)
    if whole < 60:
        return "1 second" if whole == 1 else f"{whole} seconds"
    minutes = math.ceil(whole / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@dataclass(frozen=True)
class _Counter:
    key: str
    threshold: int

    @property
    def last_key(self) -> str:
        return f"{self.key}:last"

    def locked_for(self, failures: int, now: float) -> float:
        """Seconds left of the lockout `failures` earlier failures impose (0: none)."""
        if failures < self.threshold:
            return 0.0
        last = cache.get(self.last_key)
        if last is None:
            # Failures are counted but none has finished yet: attempts in flight.
            last = now
        window = min(
            settings.LOGIN_LOCKOUT_SECONDS * 2 ** (failures - self.threshold),
            settings.LOGIN_LOCKOUT_MAX_SECONDS,
        )
        return float(max(0.0, float(last) + window - now))

    def take_ticket(self) -> int:
        cache.add(self.key, 0, COUNTER_TTL_SECONDS)
        try:
            return int(cache.incr(self.key))
        except ValueError:  # expired between add and incr
            cache.add(self.key, 1, COUNTER_TTL_SECONDS)
            return 1

    def give_back(self) -> None:
        with contextlib.suppress(ValueError):
            cache.decr(self.key)

    def failed(self, now: float) -> None:
        cache.set(self.last_key, now, COUNTER_TTL_SECONDS)
        cache.touch(self.key, COUNTER_TTL_SECONDS)

    def failures(self) -> int:
        return int(cache.get(self.key) or 0)

    def reset(self) -> None:
        cache.delete_many([self.key, self.last_key])


@dataclass(frozen=True)
class LoginAttempt:
    """One sign-in attempt holding its tickets; `locked_for` > 0 when it was refused."""

    counters: tuple[_Counter, ...]
    locked_for: float = 0.0

    @property
    def message(self) -> str:
        return (
            "Too many failed sign-in attempts for this email. "
            f"Try again in {_wait_text(self.locked_for)}, or reset your password."
        )

    def failed(self) -> int:
        """Record a wrong password; return the failures now counted for email and address."""
        now = clock()
        for counter in self.counters:
            counter.failed(now)
        return self.counters[0].failures()

    def succeeded(self) -> None:
        for counter in self.counters:
            counter.reset()

    def now_locked_for(self) -> float:
        """Seconds the next attempt will wait (after `failed`), 0 when it may come at once."""
        now = clock()
        return max(counter.locked_for(counter.failures(), now) for counter in self.counters)


def login_attempt_begin(*, email: str, request: HttpRequest | None) -> LoginAttempt:
    """Take this attempt's tickets, or refuse it while the email is locked out.

    A refused attempt gives its tickets back: it is not counted, and its password must not
    be checked (a right password during a lockout does not sign in).
    """
    email = email.strip().lower()
    counters = (
        _Counter(
            f"{namespace}:signin:ip:{_digest(email, client_ip(request))}",
            settings.LOGIN_FAILURES_PER_ACCOUNT_IP,
        ),
        _Counter(
            f"{namespace}:signin:account:{_digest(email)}", settings.LOGIN_FAILURES_PER_ACCOUNT
        ),
    )
    now = clock()
    taken: list[_Counter] = []
    wait = 0.0
    for counter in counters:
        ticket = counter.take_ticket()
        taken.append(counter)
        wait = max(wait, counter.locked_for(ticket - 1, now))
    if wait > 0:
        for counter in taken:
            counter.give_back()
        return LoginAttempt(counters=counters, locked_for=wait)
    return LoginAttempt(counters=counters)


def password_reset_allowed(*, email: str, request: HttpRequest | None) -> float:
    """Count a password-reset request; return 0 when it may be sent, else seconds to wait.

    `PASSWORD_RESET_PER_EMAIL` requests per email and `PASSWORD_RESET_PER_IP` per address
    within `PASSWORD_RESET_WINDOW_SECONDS`, counted whether or not the email has an account.
    """
    window = settings.PASSWORD_RESET_WINDOW_SECONDS
    now = clock()
    bucket = int(now // window)
    limits = (
        (
            f"{namespace}:reset:email:{_digest(email.strip().lower())}:{bucket}",
            settings.PASSWORD_RESET_PER_EMAIL,
        ),
        (
            f"{namespace}:reset:ip:{_digest(client_ip(request))}:{bucket}",
            settings.PASSWORD_RESET_PER_IP,
        ),
    )
    for key, limit in limits:
        cache.add(key, 0, window * 2)
        try:
            count = int(cache.incr(key))
        except ValueError:
            count = 1
        if count > limit:
            return float((bucket + 1) * window - now)
    return 0.0


def reset_refusal_message(wait: float) -> str:
    return (
        "Too many password reset requests. "
        f"Try again in {_wait_text(wait)}; a link already sent stays valid."
    )
