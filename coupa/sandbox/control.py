"""The control API under /_sandbox/ (JSON): stats, reset, faults, mutations, clients, tokens, clock.

It is never under /api/, never rate limited, faulted or counted, and needs no
token: the sandbox only listens on loopback by default.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from coupa.sandbox.auth import SCOPE_MODES, OAuthClient
from coupa.sandbox.create import ROUTING_RULES
from coupa.sandbox.customfields import CustomField
from coupa.sandbox.store import MutationError

if TYPE_CHECKING:
    from coupa.sandbox.state import SandboxState


def _bad(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    return json.loads(raw)


def control_routes(state: SandboxState) -> list[BaseRoute]:
    """Return the routes of the control API bound to `state`."""

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stats(request: Request) -> Response:
        recent = int(request.query_params.get("recent", "50"))
        body = state.stats.snapshot(recent=recent)
        body["faults_injected"] = dict(state.faults.injected)
        return JSONResponse(body)

    async def stats_reset(request: Request) -> Response:
        state.stats.reset()
        state.faults.injected.clear()
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:
        body = await _body(request)
        state.reset(tokens=bool(body.get("tokens", False)))
        state.faults.injected.clear()
        return JSONResponse({"ok": True, "counts": state.store.counts()})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
        elif request.method == "POST":
            try:
                body = await _body(request)
                if not isinstance(body, dict):
                    return _bad("send a JSON object")
                if body.get("clear"):
                    state.faults.clear()
                state.faults.update(body)
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
        return JSONResponse(state.faults.settings.public())

    async def mutate(request: Request) -> Response:
        try:
            body = await _body(request)
        except ValueError:
            return _bad("send JSON")
        ops = body.get("operations", [body]) if isinstance(body, dict) else body
        if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
            return _bad('send an operation object or {"operations": [...]}')
        results = []
        for op in ops:
            try:
                results.append({"op": op.get("op"), **state.store.apply(op)})
            except (MutationError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc), "applied": results}, status_code=400)
        state.save()
        return JSONResponse({"results": results})

    async def seed(request: Request) -> Response:
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                return _bad('send {"requisitions": N, "ordered_share": 0.3}')
            added = state.store.seed_requisitions(
                body.get("requisitions"), body.get("ordered_share", 0.3)
            )
        except (MutationError, ValueError) as exc:
            return _bad(str(exc))
        state.save()
        return JSONResponse({"ids": added, "counts": {k: len(v) for k, v in added.items()}})

    async def resources(request: Request) -> Response:
        return JSONResponse(state.store.counts())

    async def resource_ids(request: Request) -> Response:
        resource = request.path_params["resource"]
        active_only = request.query_params.get("active", "false").lower() in ("1", "true", "yes")
        try:
            ids = state.store.active_ids(resource, active_only)
        except MutationError as exc:
            return _bad(str(exc), 404)
        return JSONResponse(
            {"resource": resource, "active_only": active_only, "count": len(ids), "ids": ids}
        )

    async def resource_records(request: Request) -> Response:
        resource = request.path_params["resource"]
        active_only = request.query_params.get("active", "false").lower() in ("1", "true", "yes")
        store = state.store
        try:
            coll = store.collection(resource)
            ids = store.active_ids(resource, active_only)
        except MutationError as exc:
            return _bad(str(exc), 404)
        sel = store.renderer.named(resource, "full")
        body = store.renderer.render_list(sel, (coll.records[i] for i in ids))
        return Response(body.encode(), media_type="application/json")

    async def resource_record(request: Request) -> Response:
        resource = request.path_params["resource"]
        raw_id = request.path_params["rec_id"]
        rec = state.store.lookup(resource, int(raw_id)) if raw_id.isdigit() else None
        if rec is None:
            return _bad(f"{resource} {raw_id} not found", 404)
        sel = state.store.renderer.named(resource, "full")
        return Response(
            state.store.renderer.render(sel, rec).encode(), media_type="application/json"
        )

    async def clients(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            try:
                cid, secret = str(body["client_id"]), str(body["client_secret"])
            except (KeyError, TypeError):
                return _bad("give client_id and client_secret")
            scopes = body.get("scopes")
            client = (
                OAuthClient(cid, secret)
                if scopes is None
                else OAuthClient(cid, secret, set(scopes))
            )
            state.auth.clients[cid] = client
            state.save()
        return JSONResponse({"clients": [c.public() for c in state.auth.clients.values()]})

    async def client_scopes(request: Request) -> Response:
        cid = request.path_params["client_id"]
        client = state.auth.clients.get(cid)
        if client is None:
            return _bad(f"unknown client {cid!r}", 404)
        if request.method == "POST":
            body = await _body(request)
            for key in ("grant", "remove", "set"):
                value = body.get(key)
                if isinstance(value, str):
                    body[key] = value.split()
            if body.get("set") is not None:
                client.scopes = set(body["set"])
            client.scopes |= set(body.get("grant") or ())
            client.scopes -= set(body.get("remove") or ())
            state.save()
        return JSONResponse(client.public())

    async def tokens(request: Request) -> Response:
        # Every token issued since the last reset, so a test can look for them elsewhere.
        return JSONResponse(
            {
                "tokens": [
                    {"value": t.value, "client_id": t.client_id} for t in state.auth.tokens.values()
                ]
            }
        )

    async def tokens_revoke(request: Request) -> Response:
        body = await _body(request)
        return JSONResponse({"revoked": state.auth.revoke(body.get("client_id"))})

    async def tokens_expire(request: Request) -> Response:
        body = await _body(request)
        return JSONResponse({"expired": state.auth.expire(body.get("client_id"))})

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            try:
                if "rate" in body or "burst" in body:
                    state.bucket.configure(
                        float(body.get("rate", state.bucket.rate)),
                        int(body.get("burst", state.bucket.burst)),
                    )
                if "latency_ms" in body:
                    state.latency_ms = max(0.0, float(body["latency_ms"]))
                if "latency_jitter_ms" in body:
                    state.latency_jitter_ms = max(0.0, float(body["latency_jitter_ms"]))
                if "scope_mode" in body:
                    if body["scope_mode"] not in SCOPE_MODES:
                        return _bad(f"scope_mode must be one of {list(SCOPE_MODES)}")
                    state.auth.scope_mode = body["scope_mode"]
                if "token_ttl" in body:
                    state.auth.token_ttl = max(1, int(body["token_ttl"]))
                if "buyer_action" in body:
                    if body["buyer_action"] not in ROUTING_RULES:
                        return _bad(f"buyer_action must be one of {sorted(ROUTING_RULES)}")
                    state.routing = body["buyer_action"]
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
        return JSONResponse(state.settings())

    async def clock(request: Request) -> Response:
        if state.clock is None:
            return _bad("the rate limit uses the real clock; start with --manual-clock")
        if request.method == "POST":
            body = await _body(request)
            try:
                state.clock.advance(float(body.get("advance", 0)))
            except (ValueError, TypeError, AttributeError) as exc:
                return _bad(str(exc))
        return JSONResponse({"now": state.clock()})

    async def requisition_fields(request: Request) -> Response:
        fields = list(state.registry.requisition_fields)
        if request.method == "DELETE":
            fields = []
        elif request.method == "POST":
            try:
                body = await _body(request)
                if not isinstance(body, dict):
                    return _bad('send {"fields": [...]} or one field object')
                raw = body.get("fields", [body])
                if not isinstance(raw, list):
                    return _bad("fields must be a list")
                new = [CustomField.from_json(f) for f in raw]
                if body.get("replace"):
                    fields = new
                else:
                    names = {(f.on, f.name) for f in new}
                    fields = [f for f in fields if (f.on, f.name) not in names] + new
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
        if request.method != "GET":
            try:
                state.declare_requisition_fields(fields)
            except ValueError as exc:
                return _bad(str(exc))
            state.save()
        return JSONResponse({"fields": [f.public() for f in state.registry.requisition_fields]})

    async def save(request: Request) -> Response:
        if state.config.state_file is None:
            return _bad("no --state-file configured")
        state.save()
        return JSONResponse({"saved": str(state.config.state_file)})

    return [
        Route("/_sandbox/health", health),
        Route("/_sandbox/stats", stats),
        Route("/_sandbox/stats/reset", stats_reset, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/mutate", mutate, methods=["POST"]),
        Route("/_sandbox/seed", seed, methods=["POST"]),
        Route("/_sandbox/resources", resources),
        Route("/_sandbox/resources/{resource}/ids", resource_ids),
        Route("/_sandbox/resources/{resource}/records", resource_records),
        Route("/_sandbox/resources/{resource}/{rec_id}", resource_record),
        Route("/_sandbox/clients", clients, methods=["GET", "POST"]),
        Route("/_sandbox/clients/{client_id}/scopes", client_scopes, methods=["GET", "POST"]),
        Route("/_sandbox/tokens", tokens),
        Route("/_sandbox/tokens/revoke", tokens_revoke, methods=["POST"]),
        Route("/_sandbox/tokens/expire", tokens_expire, methods=["POST"]),
        Route("/_sandbox/settings", settings, methods=["GET", "POST"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/save", save, methods=["POST"]),
        Route(
            "/_sandbox/requisition_fields",
            requisition_fields,
            methods=["GET", "POST", "DELETE"],
        ),
    ]
