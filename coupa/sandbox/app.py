"""The sandbox's ASGI application.

An outer ASGI layer counts requests, applies the instance-wide rate limit,
latency and faults (it needs the raw transport to reset connections), then
hands over to a Starlette router for `/oauth2`, `/api`, `/_sandbox` and `/`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import logging
import random
import socket
import struct
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from coupa.sandbox.control import control_routes
from coupa.sandbox.create import UpdateError, requisition_create, requisition_update
from coupa.sandbox.lifecycle_api import lifecycle_routes
from coupa.sandbox.pages import PAGE_PREFIXES, page_routes, render_recent_documents
from coupa.sandbox.query import QueryError, execute, parse_query
from coupa.sandbox.ratelimit import retry_after_header
from coupa.sandbox.render import Selection
from coupa.sandbox.scopes import WRITE_SCOPES
from coupa.sandbox.state import SandboxState

log = logging.getLogger("coupa.sandbox")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = "application/json; charset=utf-8"
#: Records rendered per event-loop turn when prefetching the next page.
PREFETCH_CHUNK = 10
#: Seconds between the auto-pilot's background ticks (it also ticks on every request).
AUTOPILOT_TICK = 1.0


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _error_body(object_name: str, message: str) -> dict[str, Any]:
    # Coupa keys JSON errors by object name (coupa-api.md 4 and 9b).
    return {"errors": {object_name: [message]}}


def _error(object_name: str, message: str, status: int) -> Response:
    return Response(_json_bytes(_error_body(object_name, message)), status, media_type=JSON_TYPE)


#: Where a collection GET leaves how many records it returned, for the statistics.
RECORDS_KEY = "coupa_sandbox.records"


def endpoint_key(path: str) -> str:
    """Return the path with ids replaced, e.g. /api/items/{id}."""
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "api" and parts[3]:
        return f"/api/{parts[2]}/{{id}}"
    return path


async def _respond(
    send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = _json_bytes(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", JSON_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _transport(receive: Receive) -> asyncio.Transport | None:
    # uvicorn's receive is a bound method of its per-request cycle, which holds
    # the connection's transport; no other public handle exists.
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _wait_disconnected(receive: Receive) -> None:
    cycle = getattr(receive, "__self__", None)
    for _ in range(200):
        if cycle is None or getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.005)


async def _sleep_unless_disconnected(receive: Receive, seconds: float) -> bool:
    """Sleep `seconds`, or less if the client hangs up first; return whether it is still there.

    A client that timed out (or died) closes its connection; a real server stops working
    on its request then, and so does a slow fault, so that nothing lingers until shutdown.
    """
    cycle = getattr(receive, "__self__", None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if getattr(cycle, "disconnected", False):
            return False
        await asyncio.sleep(min(left, 0.02))
    return not getattr(cycle, "disconnected", False)


class FaultAbort(Exception):
    """Raised to make the server drop a connection when the transport is unreachable."""


async def _reset_connection(receive: Receive) -> None:
    """Drop the connection with a TCP RST and no response."""
    transport = _transport(receive)
    if transport is None:
        raise FaultAbort("connection reset fault")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            # SO_LINGER with timeout 0 makes close() send RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await _wait_disconnected(receive)


class SandboxApp:
    """Outer ASGI app: statistics, rate limit, latency and faults around the router."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.router = build_router(state)
        self._rng = random.Random(f"latency:{state.config.seed}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        path: str = scope["path"]
        if path != "/_sandbox/autopilot/run":
            # Due auto-pilot steps first, so a request sees what the clock has made due.
            self.state.tick()
        if path == "/" or path.startswith(("/_sandbox", *PAGE_PREFIXES)):
            # Control endpoints and the pages are neither limited, faulted nor counted.
            await self.router(scope, receive, send)
            return
        await self._handle(scope, receive, send, path)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        st = self.state
        started = time.perf_counter()
        authorization = accept = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
        token = st.auth.lookup(authorization)
        status = [0]
        fault: str | None = None

        async def send_counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            is_api = path.startswith("/api/")
            if is_api and (accept is None or "json" not in accept):
                # Coupa requires Accept: application/json (coupa-api.md 1); count the lapse.
                st.stats.accept_not_json += 1
            if is_api:
                wait = st.bucket.acquire()
                if wait > 0:
                    st.stats.rate_limited += 1
                    await _respond(
                        send_counting,
                        429,
                        _error_body(
                            "rate-limit",
                            f"Rate limit exceeded: {st.bucket.rate:g} requests per second, burst {st.bucket.burst}",
                        ),
                        [(b"retry-after", retry_after_header(wait).encode())],
                    )
                    return
            method = scope["method"]
            fault = st.faults.pick(method) if st.faults.applies(path, method) else None
            if fault == "storm_429":
                await _respond(
                    send_counting,
                    429,
                    _error_body("rate-limit", "Rate limit exceeded"),
                    [(b"retry-after", str(st.faults.settings.storm_retry_after).encode())],
                )
                return
            if fault == "error_503":
                await _respond(send_counting, 503, _error_body("base", "Service Unavailable"))
                return
            if fault == "error_500":
                await _respond(send_counting, 500, _error_body("base", "Internal Server Error"))
                return
            if fault == "reset":
                await _reset_connection(receive)
                return
            if st.latency_ms or st.latency_jitter_ms:
                jitter = self._rng.uniform(-st.latency_jitter_ms, st.latency_jitter_ms)
                await asyncio.sleep(max(0.0, st.latency_ms + jitter) / 1000)
            if fault == "slow" and not await _sleep_unless_disconnected(
                receive, st.faults.settings.slow_seconds
            ):
                return
            if fault in ("incomplete", "truncate", "malformed"):
                await self._mangled(scope, receive, send_counting, fault)
            elif fault in ("lost_response", "slow_create"):
                await self._unanswered(scope, receive, send_counting, fault)
            else:
                await self.router(scope, receive, send_counting)
        finally:
            st.stats.record(
                method=scope["method"],
                endpoint=endpoint_key(path),
                path=path
                + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""),
                status=status[0],
                client_id=token.client_id if token else None,
                ms=(time.perf_counter() - started) * 1000,
                fault=fault,
                records=scope.get(RECORDS_KEY),
            )

    async def _unanswered(self, scope: Scope, receive: Receive, send: Send, fault: str) -> None:
        """Handle the request in full (a create is committed), then lose or hold its answer.

        `lost_response` resets the connection before any reply byte; `slow_create` sends
        the reply after `slow_seconds`, or never if the client hangs up first. Either way
        what the router did stays done, as on a server whose reply is lost on the way.
        """
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.router(scope, receive, capture)
        if fault == "lost_response":
            await _reset_connection(receive)
            return
        if await _sleep_unless_disconnected(receive, self.state.faults.settings.slow_seconds):
            for message in messages:
                await send(message)

    async def _mangled(self, scope: Scope, receive: Receive, send: Send, fault: str) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.router(scope, receive, capture)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if fault == "malformed":
            # What a proxy error page passed through as JSON looks like to a parser.
            body = b'[{"id":1,"name":<html><body>502 Bad Gateway</body></html>'
        half = body[: max(1, len(body) // 2)]
        if fault == "incomplete":
            # Promise the whole body, send half, close: the client sees a short read.
            await send(
                {**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
            )
            await send({"type": "http.response.body", "body": half, "more_body": True})
            transport = _transport(receive)
            if transport is None:
                raise FaultAbort("incomplete body fault")
            transport.close()
            await _wait_disconnected(receive)
            return
        out = half if fault == "truncate" else body
        await send({**start, "headers": [*headers, (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})


def _auth_error(status: int, error: str, description: str, scope: str | None = None) -> Response:
    challenge = f'Bearer error="{error}", error_description="{description}"'
    if scope:
        challenge += f', scope="{scope}"'
    payload = {"error": error, "error_description": description, "errors": {"oauth": [description]}}
    return Response(
        _json_bytes(payload),
        status_code=status,
        media_type=JSON_TYPE,
        headers={"WWW-Authenticate": challenge},
    )


def build_router(state: SandboxState) -> Starlette:
    """Return the Starlette app with the OAuth, API, control and page routes."""

    async def token(request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = {str(k): str(v) for k, v in json.loads(raw or "{}").items()}
            except (ValueError, AttributeError):
                form = {}
        else:
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        basic = None
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            with contextlib.suppress(ValueError):
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
                basic = (urllib.parse.unquote(user), urllib.parse.unquote(pw))
        state.auth.purge_expired()
        status, body = state.auth.issue(form, basic)
        return Response(
            _json_bytes(body),
            status_code=status,
            media_type=JSON_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    def _prepare(request: Request) -> tuple[Any, Response | None]:
        resource = request.path_params["resource"]
        spec = state.registry.get(resource)
        if spec is None:
            return None, Response(
                _json_bytes(_error_body("base", f"No route matches /api/{resource}")),
                404,
                media_type=JSON_TYPE,
            )
        result = state.auth.check(request.headers.get("authorization"), spec.scope)
        if result.status != 200:
            return None, _auth_error(
                result.status,
                result.error,
                result.description,
                spec.scope if result.status == 403 else None,
            )
        accept = request.headers.get("accept")
        if accept and "json" not in accept and "*/*" not in accept:
            return None, Response(
                _json_bytes(_error_body(spec.object_name, "The sandbox speaks JSON only")),
                406,
                media_type=JSON_TYPE,
            )
        return spec, None

    async def list_records(request: Request) -> Response:
        spec, error = _prepare(request)
        if error is not None:
            return error
        store = state.store
        try:
            q = parse_query(
                spec,
                request.query_params.multi_items(),
                resolver=store.resolver,
                renderer=store.renderer,
            )
        except QueryError as exc:
            return Response(
                _json_bytes(_error_body(spec.object_name, str(exc))), 400, media_type=JSON_TYPE
            )
        if q.return_none:
            request.scope[RECORDS_KEY] = 0
            return Response(b"", 200, media_type=JSON_TYPE)
        records = execute(store.collections[spec.name], q)
        request.scope[RECORDS_KEY] = len(records)
        sel = q.selection
        assert sel is not None
        body = store.renderer.render_list(sel, records)
        if state.config.prefetch and records and len(records) == q.limit and q.walks_ids:
            # Render the next page in the event loop's idle time: a client walking
            # pages parses this one meanwhile, and finds the next one cached.
            asyncio.get_running_loop().call_soon(
                _prefetch, spec.name, sel, records[-1]["id"], q.limit
            )
        return Response(body.encode(), media_type=JSON_TYPE)

    def _prefetch(resource: str, sel: Selection, after_id: int, count: int) -> None:
        step = min(count, PREFETCH_CHUNK)
        last = state.store.warm_after(resource, sel, after_id, step)
        if last is not None and count > step:
            # One chunk per loop turn, so an arriving request waits for one chunk at most.
            asyncio.get_running_loop().call_soon(_prefetch, resource, sel, last, count - step)

    async def show_record(request: Request) -> Response:
        spec, error = _prepare(request)
        if error is not None:
            return error
        store = state.store
        raw_id = request.path_params["rec_id"]
        rec = store.lookup(spec.name, int(raw_id)) if raw_id.isdigit() else None
        if rec is None:
            return Response(
                _json_bytes(
                    _error_body(
                        spec.object_name, f"Couldn't find {spec.definition} with 'id'={raw_id}"
                    )
                ),
                404,
                media_type=JSON_TYPE,
            )
        try:
            q = parse_query(
                spec,
                request.query_params.multi_items(),
                resolver=store.resolver,
                renderer=store.renderer,
                with_filters=False,
            )
        except QueryError as exc:
            return Response(
                _json_bytes(_error_body(spec.object_name, str(exc))), 400, media_type=JSON_TYPE
            )
        if q.return_none:
            return Response(b"", 200, media_type=JSON_TYPE)
        assert q.selection is not None
        return Response(store.renderer.render(q.selection, rec).encode(), media_type=JSON_TYPE)

    async def write_requisition(request: Request) -> Response:
        # The endpoint decides draft or submitted; `status` is output-only (coupa-api.md 6.1).
        path = request.url.path
        submit = path.endswith("submit_for_approval")
        spec = state.registry.specs["requisitions"]
        scope = WRITE_SCOPES["requisitions"]
        result = state.auth.check(request.headers.get("authorization"), scope)
        if result.status != 200:
            return _auth_error(
                result.status,
                result.error,
                result.description,
                scope if result.status == 403 else None,
            )
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return _error(spec.object_name, "The body is not valid JSON", 400)
        store = state.store
        if request.method == "POST":
            rec, problems = requisition_create(store, body, submit=submit, routing=state.routing)
            status = 201
        else:
            raw_id = request.path_params["rec_id"]
            if not raw_id.isdigit():
                return _error(
                    spec.object_name, f"Couldn't find RequisitionHeader with 'id'={raw_id}", 404
                )
            try:
                rec, problems = requisition_update(
                    store, int(raw_id), body, submit=submit, routing=state.routing
                )
            except UpdateError as exc:
                return _error(spec.object_name, str(exc), exc.status)
            status = 200
        if rec is None:
            return Response(
                _json_bytes({"errors": {spec.object_name: problems}}), 400, media_type=JSON_TYPE
            )
        sel = store.renderer.named("requisitions", "full")
        return Response(store.renderer.render(sel, rec).encode(), status, media_type=JSON_TYPE)

    async def index(request: Request) -> Response:
        return HTMLResponse(render_index(state))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "error"
        return JSONResponse(_error_body("base", str(detail)), status_code=status)

    async def autopilot_ticks() -> None:
        while True:
            await asyncio.sleep(AUTOPILOT_TICK)
            state.tick()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ticker = asyncio.create_task(autopilot_ticks())
        yield
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        try:
            state.save()
        except OSError:
            log.exception("could not write the state file")

    routes = [
        Route("/", index),
        Route("/oauth2/token", token, methods=["POST"]),
        # [S] names this path as the client-credentials tokenUrl (coupa-api.md 2 and 10).
        Route("/oauth2/access_tokens", token, methods=["POST"]),
        Route("/api/requisitions", write_requisition, methods=["POST"]),
        Route("/api/requisitions/submit_for_approval", write_requisition, methods=["POST"]),
        # The same, as the docs' Special Actions page writes it (coupa-api.md 6.1).
        Route("/api/requisitions/new/submit_for_approval", write_requisition, methods=["POST"]),
        Route("/api/requisitions/{rec_id}", write_requisition, methods=["PUT", "PATCH"]),
        Route(
            "/api/requisitions/{rec_id}/update_and_submit_for_approval",
            write_requisition,
            methods=["PUT"],
        ),
        Route("/api/{resource}", list_records, methods=["GET"]),
        Route("/api/{resource}/{rec_id}", show_record, methods=["GET"]),
        *control_routes(state),
        *lifecycle_routes(state),
        *page_routes(state),
    ]
    return Starlette(
        routes=routes, exception_handlers={HTTPException: not_found}, lifespan=lifespan
    )


def render_index(state: SandboxState) -> str:
    """Return the HTML status page: data counts, recent requests, current faults."""
    esc = html.escape
    counts = state.store.counts()
    rows = "".join(
        f"<tr><td><code>/api/{esc(name)}</code></td><td>{c['total']}</td><td>{c['active']}</td></tr>"
        for name, c in counts.items()
    )
    snap = state.stats.snapshot(recent=30)
    recent = "".join(
        f"<tr><td>{time.strftime('%H:%M:%S', time.localtime(r['at']))}</td><td>{esc(r['method'])}</td>"
        f"<td><code>{esc(r['path'][:160])}</code></td><td>{r['status']}</td><td>{esc(r['client_id'] or '-')}</td>"
        f"<td>{r['ms']}</td><td>{esc(r['fault'] or '')}</td></tr>"
        for r in reversed(snap["recent"])
    )
    faults = esc(json.dumps(state.faults.settings.public()))
    settings = esc(json.dumps(state.settings()))
    statuses = esc(json.dumps(snap["by_status"]))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Coupa sandbox</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse;margin-bottom:1.5rem}}
td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;font-size:.9rem}}th{{background:#f3f3f3}}</style></head>
<body><h1>Coupa sandbox</h1>
<p>A stand-in for a Coupa instance: OAuth2 at <code>/oauth2/token</code>, data under <code>/api/</code>,
control API under <code>/_sandbox/</code>. See <code>docs/sandbox.md</code>.</p>
{render_recent_documents(state)}
<h2>Data</h2><table><tr><th>Resource</th><th>Records</th><th>Active</th></tr>{rows}</table>
<h2>Faults</h2><pre>{faults}</pre>
<h2>Settings</h2><pre>{settings}</pre>
<h2>Requests</h2><p>{snap["total"]} requests, {snap["rate_limited"]} rate-limited; by status: {statuses}</p>
<table><tr><th>Time</th><th>Method</th><th>Path</th><th>Status</th><th>Client</th><th>ms</th><th>Fault</th></tr>{recent}</table>
</body></html>"""
