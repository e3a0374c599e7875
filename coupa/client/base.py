"""The only code that speaks HTTP to Coupa.

`CoupaClient` wraps one pooled `httpx.Client` per connection (explicit timeouts,
`auth=CoupaAuth`, the shared per-host rate limiter). Every call goes through
`CoupaClient._request`, which owns the retry policy and maps every failure to
`coupa.client.exceptions`; nothing else catches httpx errors.

Retry policy (coupa-api.md §4, STYLE.md §4):
- GET: retried on 429, 5xx (500, 502, 503, 504), timeouts, connection errors and unreadable bodies
  (malformed or truncated JSON), with exponential backoff and full jitter, up to
  `COUPA_RETRY_ATTEMPTS` failed attempts and `COUPA_RETRY_DEADLINE` seconds. A 429
  waits for Retry-After when given (else backs off), lowers the instance's shared rate
  for a while, and does not count as a failed attempt: only the deadline bounds a
  429 storm.
- POST/PUT: retried only when the request provably never left (connect errors, or a
  failed token request before it); anything else goes to the caller.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from django.conf import settings

from coupa.client.auth import NO_REFRESH, CoupaAuth, parse_retry_after
from coupa.client.exceptions import (
    CoupaAuthError,
    CoupaError,
    CoupaNotFoundError,
    CoupaProtocolError,
    CoupaRateLimitError,
    CoupaScopeError,
    CoupaTimeoutError,
    CoupaTransientError,
    CoupaUnavailableError,
    CoupaUnsafeAddressError,
    CoupaValidationError,
    parse_error_body,
)
from coupa.client.paging import PAGE_SIZE, Page, concurrent_pages, keyset_pages
from coupa.client.scopes import READ_SCOPE_PROBES, scope_for_path
from coupa.client.stats import RequestStats
from coupa.client.types import ConnectionConfig, CoupaRecord
from integrations.netguard import UnsafeAddressError, tls_context
from integrations.ratelimit import RateLimiter, shared_limiter

__all__ = ["CoupaClient", "FieldSpec", "format_datetime"]

logger = logging.getLogger("coupa.client")

R = TypeVar("R", bound=CoupaRecord)
T = TypeVar("T")

# `fields` entries: an attribute name, or {association: [its fields]} (coupa-api.md §3).
FieldSpec = str | Mapping[str, Sequence[Any]]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def format_datetime(value: datetime) -> str:
    """Format an aware datetime as ISO 8601 with its offset, to the second.

    A date without time and zone means midnight UTC to Coupa (coupa-api.md §3, §9.3), so
    naive datetimes are refused (ValueError). httpx encodes `+` as %2B and `:` as %3A.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Coupa query datetimes must be timezone-aware.")
    return value.replace(microsecond=0).isoformat()


def encode_fields(fields: Sequence[FieldSpec]) -> str:
    """Return the `fields` parameter: a compact JSON array (httpx URL-encodes it)."""
    return json.dumps(list(fields), separators=(",", ":"))


def _with_id(fields: Sequence[FieldSpec]) -> list[FieldSpec]:
    # Keyset paging needs every record's id.
    return list(fields) if "id" in fields else ["id", *fields]


def _expect_list(data: Any) -> Page:
    if not isinstance(data, list):
        raise CoupaProtocolError("expected a JSON array of records")
    for record in data:
        if not isinstance(record, dict):
            raise CoupaProtocolError("expected a JSON array of records")
        rid = record.get("id")
        if isinstance(rid, bool) or not isinstance(rid, int):
            raise CoupaProtocolError("a record has no integer id")
    return data


def _expect_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise CoupaProtocolError("expected a JSON object")
    return data


def _unsafe_address(exc: BaseException) -> UnsafeAddressError | None:
    """The guard's refusal behind a transport error, if that is what it is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UnsafeAddressError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class CoupaClient:
    """A Coupa API client for one connection.

    Use as a context manager (or call `close()`): it owns a connection pool. Thread-safe
    for the paging threads it starts itself. `stats` counts requests, retries and 429s
    for the sync run. `transport` is for tests and the SSRF guard; `limiter` defaults to
    the shared per-host bucket (`integrations.ratelimit`). Settings are read here, not at import.
    """

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        stats: RequestStats | None = None,
        limiter: RateLimiter | None = None,
        concurrency: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.stats = stats if stats is not None else RequestStats()
        self.limiter: RateLimiter = (
            limiter
            if limiter is not None
            else shared_limiter(config.host, config.rate, config.burst)
        )
        self._connect_timeout = float(settings.COUPA_CONNECT_TIMEOUT)
        self._read_timeout = float(settings.COUPA_READ_TIMEOUT)
        self._attempts = max(1, int(settings.COUPA_RETRY_ATTEMPTS))
        self._deadline = float(settings.COUPA_RETRY_DEADLINE)
        self._backoff_base = float(settings.COUPA_BACKOFF_BASE)
        self._backoff_max = float(settings.COUPA_BACKOFF_MAX)
        self.concurrency = max(
            1, int(concurrency if concurrency is not None else settings.COUPA_PAGE_CONCURRENCY)
        )
        self._sleep = sleep
        self._clock = clock
        self.auth = CoupaAuth(config, limiter=self.limiter, stats=self.stats, sleep=sleep)
        pool = self.concurrency + 2
        self._http = httpx.Client(
            base_url=config.base_url,
            auth=self.auth,
            timeout=httpx.Timeout(
                connect=self._connect_timeout,
                read=self._read_timeout,
                write=self._read_timeout,
                pool=self._read_timeout,
            ),
            transport=transport,
            verify=tls_context(),  # for the default transport; an explicit one has its own
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            # Both headers, naming the same format (coupa-api.md §1, §9.4).
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            follow_redirects=False,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __repr__(self) -> str:
        return f"CoupaClient({self.config.key!r}, {self.config.base_url!r})"

    # -- the one request path -------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` (retried as described in the module docstring); return parsed JSON."""
        return self._request("GET", path, params=params)

    def post(self, path: str, json_body: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST a JSON body once (retried only if it was never sent); return parsed JSON.

        Not idempotent: after a timeout or 5xx the caller must look the record up before
        posting again (coupa-api.md §6.1, §6.6).
        """
        return self._request("POST", path, params=params, json_body=json_body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        expect: Callable[[Any], T] | None = None,
        refresh_on_401: bool = True,
    ) -> Any:
        """Send one call with retries; return the parsed JSON (after `expect`, if given).

        Raises a `CoupaError` subclass for every failure; see the module docstring for
        what is retried. Logs one debug line per attempt (method, path, status,
        duration, attempt), never headers, tokens or bodies.
        """
        idempotent = method in ("GET", "HEAD")
        started_all = self._clock()
        extensions = {} if refresh_on_401 else {NO_REFRESH: True}
        content = (
            json.dumps(json_body, default=_json_default).encode() if json_body is not None else None
        )
        attempt = 0
        failures = 0  # failures other than 429, which the deadline alone bounds
        while True:
            attempt += 1
            waited = self.limiter.acquire()
            self.stats.record_wait(waited)
            started = time.monotonic()
            status: int | None = None
            try:
                response = self._http.request(
                    method, path, params=params, content=content, extensions=extensions
                )
                status = response.status_code
                result = self._handle(method, path, response)
                if expect is not None:
                    result = expect(result)
            except httpx.TransportError as exc:
                error: CoupaError = self._transport_error(exc)
                retryable = not isinstance(error, CoupaUnsafeAddressError) and (
                    idempotent or isinstance(exc, _NOT_SENT)
                )
            except CoupaError as exc:
                error = exc
                retryable = self._retryable(exc, idempotent)
            else:
                self._log(method, path, status, started, attempt)
                self.stats.record_response(status, retry=attempt > 1)
                return result
            self._log(
                method,
                path,
                status if status is not None else type(error).__name__,
                started,
                attempt,
            )
            self.stats.record_response(status, retry=attempt > 1)

            retry_after: float | None = None
            if isinstance(error, CoupaRateLimitError):
                retry_after = error.retry_after
                self.limiter.penalize(retry_after)
            if not retryable:
                self.stats.record_failure()
                if isinstance(error, CoupaScopeError) and not error.missing_scopes:
                    error = self._explain_scope_error(error)
                raise error
            if isinstance(error, CoupaRateLimitError):
                # A 429 is Coupa asking to wait, not a broken call: a storm of them is
                # bounded by the deadline only (Retry-After, else backoff).
                delay = retry_after if retry_after is not None else self._backoff(attempt)
            else:
                failures += 1
                delay = self._backoff(failures)
            elapsed = self._clock() - started_all
            if failures >= self._attempts or elapsed + delay > self._deadline:
                self.stats.record_failure()
                raise self._exhausted(error, attempt) from error
            self._sleep(delay)

    def _log(self, method: str, path: str, status: object, started: float, attempt: int) -> None:
        logger.debug(
            "coupa %s %s -> %s in %.0f ms (attempt %d)",
            method,
            path,
            status,
            (time.monotonic() - started) * 1000,
            attempt,
        )

    def _backoff(self, attempt: int) -> float:
        # Exponential backoff with full jitter (AWS architecture blog): spreads the
        # retries of many workers hitting the same instance.
        cap = min(self._backoff_max, self._backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0, cap)

    def _retryable(self, exc: CoupaError, idempotent: bool) -> bool:
        safe = idempotent or not exc.request_sent
        if isinstance(exc, CoupaProtocolError):
            return safe
        if isinstance(exc, CoupaTransientError):
            return safe and (exc.status is None or exc.status in RETRY_STATUSES)
        return False

    def _transport_error(self, exc: httpx.TransportError) -> CoupaError:
        # Never str(exc): keep messages to what we know is free of secrets.
        kind = type(exc).__name__
        refusal = _unsafe_address(exc)
        if refusal is not None:
            # The SSRF guard refused the address at connect time: nothing was sent, and
            # retrying cannot help until DNS (or the domain) changes.
            return CoupaUnsafeAddressError(refusal.host, refusal.reason)
        if isinstance(exc, httpx.ConnectTimeout):
            return CoupaTimeoutError(f"connect timeout ({kind})", timeout=self._connect_timeout)
        if isinstance(exc, httpx.TimeoutException):
            return CoupaTimeoutError(f"read timeout ({kind})", timeout=self._read_timeout)
        if isinstance(exc, httpx.RemoteProtocolError):
            # Typically a body cut short (Content-Length not reached) or a reset.
            return CoupaProtocolError(f"connection closed mid-response ({kind})")
        return CoupaUnavailableError(f"network error ({kind})")

    def _exhausted(self, error: CoupaError, attempts: int) -> CoupaError:
        note = f" after {attempts} attempt(s)"
        if isinstance(error, CoupaRateLimitError):
            return CoupaRateLimitError(
                str(error) + note, retry_after=error.retry_after, request_sent=error.request_sent
            )
        if isinstance(error, CoupaTimeoutError):
            return CoupaTimeoutError(str(error) + note, timeout=error.timeout)
        if isinstance(error, CoupaProtocolError):
            return CoupaProtocolError(str(error) + note)
        return CoupaUnavailableError(str(error) + note, status=error.status)

    def _handle(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        if response.is_success:
            if not response.content.strip():
                return None
            try:
                # Decimals never become floats (coupa-api.md §9b).
                return json.loads(response.content, parse_float=Decimal)
            except ValueError:
                raise CoupaProtocolError(
                    f"{method} {path}: malformed or truncated JSON", status=status
                ) from None
        label = f"{method} {path}: HTTP {status}"
        if status in (400, 422):
            errors = parse_error_body(response.content, response.headers.get("Content-Type", ""))
            raise CoupaValidationError(errors, status=status)
        if status == 401:
            raise CoupaAuthError(
                label + " after a token refresh",
                status=status,
                user_message=(
                    "Coupa refused the integration's access token even after issuing a new "
                    "one; check that the OAuth client is active and has the required scopes."
                ),
            )
        if status == 403:
            scope = scope_for_path(method, path)
            if scope:
                raise CoupaScopeError([scope], label, status=status)
            raise CoupaAuthError(
                label,
                status=status,
                user_message="Coupa does not allow the integration to do this; check the OAuth client's scopes.",
            )
        if status == 404:
            raise CoupaNotFoundError(label, status=status)
        if status == 429:
            raise CoupaRateLimitError(
                label, retry_after=parse_retry_after(response.headers.get("Retry-After"))
            )
        if status >= 500:
            raise CoupaUnavailableError(label, status=status)
        raise CoupaError(label, status=status)

    # -- scopes ---------------------------------------------------------------------

    def _mint(self, scopes: Sequence[str]) -> Any:
        """Mint a token for `scopes` without caching it (scope discovery)."""
        flow = self.auth.mint_flow(scopes)
        try:
            request = next(flow)
            while True:
                waited_start = time.monotonic()
                try:
                    response = self._http.send(request, auth=None)
                    response.read()
                except httpx.TransportError as exc:
                    raise self._transport_error(exc) from None
                finally:
                    self._log("POST", request.url.path, "sent", waited_start, 1)
                request = flow.send(response)
        except StopIteration as stop:
            return stop.value

    def missing_scopes(self) -> list[str]:
        """Return the required scopes (`config.scopes`) this connection lacks, sorted.

        Three strategies, as Coupa allows (coupa-api.md §2):
        1. mint a token for all scopes; if the response has a `scope` field, the
           missing ones are the difference;
        2. if Coupa refuses the request with `invalid_scope`, ask for smaller groups of
           scopes (halving) to find the refused ones;
        3. otherwise one `limit=1` GET per read scope; a 401 or 403 means it is missing
           (a 404 tells nothing; write scopes cannot be probed harmlessly and are
           assumed granted).
        Side effects: token requests and GETs (rate-limited); a token granted for the
        full scope list is cached for later calls. Raises CoupaAuthError when the credentials themselves are refused.
        """
        required = list(self.config.scopes)
        try:
            token = self._mint(required)
        except CoupaScopeError:
            return sorted(self._bisect_scopes(required))
        # A token for the full scope list is what normal calls use: keep it.
        self.auth.store(token)
        if token.scope is not None:
            granted = set(token.scope)
            return sorted(s for s in required if s not in granted)
        missing = []
        for scope in required:
            path = READ_SCOPE_PROBES.get(scope)
            if path is None:
                continue
            try:
                self._request(
                    "GET",
                    path,
                    params={"limit": 1, "fields": encode_fields(["id"])},
                    refresh_on_401=False,
                )
            except (CoupaAuthError, CoupaScopeError):
                missing.append(scope)
            except CoupaNotFoundError:
                # The instance has no such resource (not licensed, or an older release):
                # nothing to read there, so nothing tells the scope is missing.
                continue
        return sorted(missing)

    def _bisect_scopes(self, scopes: list[str]) -> list[str]:
        # Group testing: a refused group of one is a missing scope; an accepted group
        # has none. Costs about 2·k·log2(n) token requests for k missing of n.
        if len(scopes) == 1:
            return scopes
        half = len(scopes) // 2
        missing: list[str] = []
        for group in (scopes[:half], scopes[half:]):
            try:
                self._mint(group)
            except CoupaScopeError:
                missing.extend(self._bisect_scopes(group))
        return missing

    def _explain_scope_error(self, error: CoupaScopeError) -> CoupaScopeError:
        try:
            missing = self.missing_scopes()
        except CoupaError:
            return error
        if not missing:
            return error
        return CoupaScopeError(
            missing, str(error), status=error.status, request_sent=error.request_sent
        )

    # -- collections ----------------------------------------------------------------

    def _fetch_page(self, path: str) -> Callable[[dict[str, Any]], Page]:
        def fetch(params: dict[str, Any]) -> Page:
            page: Page = self._request("GET", path, params=params, expect=_expect_list)
            return page

        return fetch

    def iter_pages(
        self,
        resource: str,
        params: Mapping[str, Any] | None = None,
        fields: Sequence[FieldSpec] | None = None,
        *,
        concurrent: bool | None = None,
    ) -> Iterator[Page]:
        """Yield the raw pages (lists of hyphen-keyed dicts) of `/api/<resource>`.

        Keyset paging on id (correct while records change); with `concurrent` (default:
        when `self.concurrency > 1`) id slices are walked by up to `self.concurrency`
        threads, pages then arrive in no particular order. Memory stays bounded.
        Side effects: GETs only. Raises CoupaError subclasses.
        """
        yield from self._walk(resource, params, fields, concurrent=concurrent)

    def _walk(
        self,
        resource: str,
        params: Mapping[str, Any] | None,
        fields: Sequence[FieldSpec] | None,
        *,
        concurrent: bool | None,
        transform: Callable[[Page], Any] | None = None,
    ) -> Iterator[Any]:
        query = dict(params or {})
        if fields is not None:
            query["fields"] = encode_fields(_with_id(fields))
        fetch = self._fetch_page(f"/api/{resource}")
        use_threads = self.concurrency > 1 if concurrent is None else concurrent
        if not use_threads:
            for page in keyset_pages(fetch, query, page_size=PAGE_SIZE):
                yield transform(page) if transform is not None else page
            return
        # The first page is fetched before any thread starts, so the token is minted
        # once and the threads share it from memory.
        yield from concurrent_pages(
            fetch, query, workers=self.concurrency, page_size=PAGE_SIZE, transform=transform
        )

    def iter_record_pages(
        self,
        record_type: type[R],
        *,
        params: Mapping[str, Any] | None = None,
        fields: Sequence[FieldSpec] | None = None,
        concurrent: bool | None = None,
    ) -> Iterator[list[R]]:
        """Yield the pages of `record_type.resource`, each parsed into typed records.

        See `iter_pages` for the walk. Raises CoupaProtocolError for a record that does
        not parse (no id), besides what `iter_pages` raises.
        """
        parse = record_type.from_json

        def parse_page(page: Page) -> list[R]:
            return [parse(record) for record in page]

        # Concurrent walks parse on the paging threads: while the caller writes a batch
        # (waiting on the database, the GIL released) the next pages get parsed.
        yield from self._walk(
            record_type.resource, params, fields, concurrent=concurrent, transform=parse_page
        )

    def iter_records(
        self,
        record_type: type[R],
        *,
        params: Mapping[str, Any] | None = None,
        fields: Sequence[FieldSpec] | None = None,
        concurrent: bool | None = None,
    ) -> Iterator[R]:
        """Yield every record of `record_type.resource` matching `params`, parsed.

        `params` are Coupa query parameters (filters such as `status=active` or
        `updated-at[gt_or_eq]=…`, hyphenated as in the docs, coupa-api.md §3); `fields`
        limits the payload (default: Coupa's full one). GETs only.
        """
        for page in self.iter_record_pages(
            record_type, params=params, fields=fields, concurrent=concurrent
        ):
            yield from page

    def get_record(
        self, record_type: type[R], record_id: int, *, fields: Sequence[FieldSpec] | None = None
    ) -> R:
        """Fetch one record by id. Raises CoupaNotFoundError for an unknown id."""
        params = {"fields": encode_fields(_with_id(fields))} if fields is not None else None
        data = self._request(
            "GET",
            f"/api/{record_type.resource}/{int(record_id)}",
            params=params,
            expect=_expect_object,
        )
        return record_type.from_json(data)


def _json_default(value: Any) -> Any:
    # Request bodies: Decimals as strings, like Coupa sends them (coupa-api.md §9b).
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
