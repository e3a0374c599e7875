"""Typed failures of calls to Coupa.

Every failure the client sees (HTTP status, transport error, bad body) becomes one of
these classes in `coupa.client` (`CoupaClient._request`) or `coupa.auth`; nothing else
catches httpx errors. Each class has a `user_message`: one sentence a Coupa administrator
can act on, which the UI shows as is.

Messages never contain the client secret, an access token or a response body; the only
Coupa text kept is the list of validation messages of a 400/422 answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from xml.etree import ElementTree

__all__ = [
    "CoupaAuthError",
    "CoupaError",
    "CoupaNotFoundError",
    "CoupaProtocolError",
    "CoupaRateLimitError",
    "CoupaScopeError",
    "CoupaTimeoutError",
    "CoupaTransientError",
    "CoupaUnavailableError",
    "CoupaValidationError",
    "parse_error_body",
]


class CoupaError(Exception):
    """Base class of every Coupa failure.

    `status` is the HTTP status when there was an answer. `request_sent` is False when
    the failure happened before the API request left (for example while fetching a
    token), which makes even a POST safe to retry.
    """

    default_user_message = "Coupa returned an unexpected error."

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message or self.default_user_message)
        self.status = status
        self.request_sent = request_sent

    @property
    def user_message(self) -> str:
        """Return a sentence a Coupa administrator can act on."""
        return self.default_user_message


class CoupaTransientError(CoupaError):
    """A failure that may go away by itself: timeout, network error, 5xx, 429."""

    default_user_message = "Coupa could not be reached; the operation will be retried."


class CoupaTimeoutError(CoupaTransientError):
    """Coupa did not accept the connection or did not answer in time."""

    def __init__(
        self,
        message: str = "",
        *,
        timeout: float | None = None,
        status: int | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, request_sent=request_sent)
        self.timeout = timeout

    @property
    def user_message(self) -> str:
        if self.timeout is None:
            return "Coupa did not answer in time."
        return f"Coupa did not answer within {self.timeout:g} s."


class CoupaRateLimitError(CoupaTransientError):
    """Coupa kept answering 429 until the retry deadline; `retry_after` is its last hint."""

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, request_sent=request_sent)
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        # Nothing continues by itself after this error (the run or the PR has failed;
        # the next hourly sync or a retry does): say so, never "will continue".
        if self.retry_after:
            return (
                "Coupa kept limiting the request rate for this instance (it asked to wait "
                f"{self.retry_after:g} s); try again later."
            )
        return "Coupa kept limiting the request rate for this instance; try again later."


class CoupaUnavailableError(CoupaTransientError):
    """Coupa answered 5xx (or failed otherwise) until the attempts or the deadline ran out."""

    @property
    def user_message(self) -> str:
        if self.status is not None:
            return f"Coupa is unavailable (HTTP {self.status}); try again later."
        return "Coupa is unavailable; try again later."


class CoupaAuthError(CoupaError):
    """Coupa refused the credentials or the token (after one refresh)."""

    default_user_message = "Coupa rejected the client ID or secret."

    def __init__(
        self,
        message: str = "",
        *,
        user_message: str | None = None,
        status: int | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, request_sent=request_sent)
        self._user_message = user_message

    @property
    def user_message(self) -> str:
        return self._user_message or self.default_user_message


class CoupaScopeError(CoupaAuthError):
    """The OAuth client lacks scopes the integration needs.

    `missing_scopes` is empty when Coupa refused the scope list without saying which
    (`invalid_scope`); `CoupaClient.missing_scopes()` then finds them.
    """

    def __init__(
        self,
        missing_scopes: Iterable[str] = (),
        message: str = "",
        *,
        status: int | None = None,
        request_sent: bool = True,
    ) -> None:
        self.missing_scopes = sorted(set(missing_scopes))
        if not message:
            message = (
                f"missing scopes: {', '.join(self.missing_scopes)}"
                if self.missing_scopes
                else "Coupa refused the requested scopes"
            )
        super().__init__(message, status=status, request_sent=request_sent)

    @property
    def user_message(self) -> str:
        if self.missing_scopes:
            return (
                f"These scopes are missing: {', '.join(self.missing_scopes)}. Add them to the "
                "OAuth client in Coupa (Setup > OAuth2/OpenID Connect Clients)."
            )
        return (
            "Coupa refused some of the requested scopes; add the integration's scopes to "
            "the OAuth client in Coupa (Setup > OAuth2/OpenID Connect Clients)."
        )


class CoupaNotFoundError(CoupaError):
    """404: unknown id or route (an empty JSON query is `[]`, not 404; coupa-api.md §1)."""

    default_user_message = "Coupa has no such record or address; check the instance URL."


class CoupaValidationError(CoupaError):
    """400/422: Coupa rejected the data. `errors` maps an object name to its messages."""

    default_user_message = "Coupa rejected the data."

    def __init__(
        self,
        errors: Mapping[str, Sequence[str]] | None = None,
        message: str = "",
        *,
        status: int | None = 400,
        request_sent: bool = True,
    ) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
        super().__init__(
            message or f"validation failed: {self.messages}",
            status=status,
            request_sent=request_sent,
        )

    @property
    def messages(self) -> list[str]:
        """Return every message, in order."""
        return [m for msgs in self.errors.values() for m in msgs]

    @property
    def user_message(self) -> str:
        if not self.messages:
            return self.default_user_message
        return "Coupa rejected the data: " + "; ".join(self.messages) + "."


class CoupaUnsafeAddressError(CoupaError):
    """The instance's name now resolves to an address the product must not call (SSRF guard)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host} {reason}", request_sent=False)
        self.host = host
        self.reason = reason

    @property
    def user_message(self) -> str:
        return f"The domain {self.host} {self.reason}."


class CoupaProtocolError(CoupaError):
    """The answer was not what Coupa documents: malformed or truncated JSON, wrong shape."""

    default_user_message = (
        "Coupa sent an answer the integration could not read; try again, and contact "
        "support if it keeps happening."
    )


_WS = re.compile(r"\s+")


def parse_error_body(body: bytes, content_type: str) -> dict[str, list[str]]:
    """Parse a Coupa error body into `{object name: [messages]}`.

    Coupa answers JSON `{"errors": {"user": ["..."]}}` or XML `<errors><error>...
    </error></errors>` (possibly CDATA), depending on the call (coupa-api.md §4, §9b);
    the format is chosen by Content-Type, then by sniffing. Never raises: an unreadable
    body gives `{}`.
    """
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return {}
    looks_xml = "xml" in content_type.lower() or text.startswith("<")
    if looks_xml:
        return _parse_xml_errors(text)
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return _parse_json_errors(data)


def _parse_json_errors(data: object) -> dict[str, list[str]]:
    if isinstance(data, dict) and "errors" in data:
        data = data["errors"]
    if isinstance(data, dict):
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            msgs = value if isinstance(value, list) else [value]
            out[str(key)] = [_clean(str(m)) for m in msgs if m is not None]
        return out
    if isinstance(data, list):
        return {"base": [_clean(str(m)) for m in data if m is not None]}
    if isinstance(data, str):
        return {"base": [_clean(data)]}
    return {}


def _parse_xml_errors(text: str) -> dict[str, list[str]]:
    try:
        # Coupa's own error document; ElementTree does not resolve external entities.
        root = ElementTree.fromstring(text)  # noqa: S314
    except ElementTree.ParseError:
        return {}
    msgs = [_clean("".join(el.itertext())) for el in root.iter("error")]
    msgs = [m for m in msgs if m]
    return {"base": msgs} if msgs else {}


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()
