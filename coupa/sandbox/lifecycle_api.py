"""Control-API routes for the lifecycle and the auto-pilot (JSON, under /_sandbox/).

Like the rest of the control API they need no token and are neither limited, faulted nor
counted. Requisition actions answer `{"requisition": ..., "purchase_orders": [...]}` (the
requisition and all its purchase orders as the API renders them), purchase-order actions
`{"purchase_order": ...}`; unknown ids get 404, refused transitions 409 and unusable
bodies 400, each as `{"error": "..."}`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from coupa.sandbox import lifecycle
from coupa.sandbox.autopilot import check_steps
from coupa.sandbox.store import Record, Store

if TYPE_CHECKING:
    from coupa.sandbox.state import SandboxState

JSON_TYPE = "application/json"


def _bad(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def requisition_json(store: Store, req: Record) -> str:
    """Return `{"requisition": ..., "purchase_orders": [...]}` as the API renders them."""
    r = store.renderer
    orders = lifecycle.requisition_purchase_orders(store, req)
    return (
        '{"requisition":'
        + r.render(r.named("requisitions", "full"), req)
        + ',"purchase_orders":'
        + r.render_list(r.named("purchase_orders", "full"), orders)
        + "}"
    )


def purchase_order_json(store: Store, po: Record) -> str:
    """Return `{"purchase_order": ...}` as the API renders it."""
    r = store.renderer
    return '{"purchase_order":' + r.render(r.named("purchase_orders", "full"), po) + "}"


def apply_requisition_action(store: Store, req_id: int, action: str, body: Any) -> Record:
    """Apply a requisition action by name with its JSON body; raise LifecycleError."""
    if not isinstance(body, dict):
        raise lifecycle.LifecycleArgumentError("send a JSON object")
    if action == "approve":
        return lifecycle.requisition_approve(store, req_id)
    if action == "reject":
        return lifecycle.requisition_reject(store, req_id, comment=body.get("comment"))
    if action == "withdraw":
        return lifecycle.requisition_withdraw(store, req_id)
    if action == "order":
        lifecycle.requisition_order(store, req_id)
        return lifecycle.requisition_get(store, req_id)
    if action == "receive":
        share = 1.0 if body.get("fully") or "share" not in body else body["share"]
        return lifecycle.requisition_receive(store, req_id, share=share)
    raise lifecycle.LifecycleArgumentError(
        f"unknown requisition action {action!r}; one of {', '.join(lifecycle.REQUISITION_ACTIONS)}"
    )


def lifecycle_routes(state: SandboxState) -> list[BaseRoute]:
    """Return the lifecycle and auto-pilot routes of the control API bound to `state`."""

    async def _json(request: Request) -> Any:
        raw = await request.body()
        return json.loads(raw) if raw.strip() else {}

    def _id(request: Request) -> int | None:
        raw = request.path_params["rec_id"]
        return int(raw) if raw.isdigit() else None

    async def requisition_action(request: Request) -> Response:
        req_id = _id(request)
        if req_id is None:
            return _bad(f"requisition {request.path_params['rec_id']} not found", 404)
        try:
            body = await _json(request)
        except ValueError:
            return _bad("send JSON")
        try:
            req = apply_requisition_action(state.store, req_id, request.path_params["action"], body)
        except lifecycle.LifecycleError as exc:
            return _bad(str(exc), exc.status)
        state.save()
        return Response(requisition_json(state.store, req).encode(), media_type=JSON_TYPE)

    async def purchase_order_action(request: Request) -> Response:
        po_id = _id(request)
        if po_id is None:
            return _bad(f"purchase order {request.path_params['rec_id']} not found", 404)
        try:
            po = lifecycle.purchase_order_action(state.store, po_id, request.path_params["action"])
        except lifecycle.LifecycleError as exc:
            return _bad(str(exc), exc.status)
        state.save()
        return Response(purchase_order_json(state.store, po).encode(), media_type=JSON_TYPE)

    async def autopilot(request: Request) -> Response:
        pilot = state.autopilot
        if request.method == "POST":
            try:
                body = await _json(request)
                if not isinstance(body, dict):
                    return _bad('send a JSON object, e.g. {"approve": 30, "order": null}')
                steps = {} if body.pop("clear", False) else dict(pilot.steps)
                for name, value in body.items():
                    if value is None:
                        check_steps({name: 0})  # the name must still be a step
                        steps.pop(name, None)
                    else:
                        steps.update(check_steps({name: value}))
            except ValueError as exc:
                return _bad(str(exc))
            pilot.steps = steps
        return JSONResponse(pilot.public())

    async def autopilot_run(request: Request) -> Response:
        done = state.tick()
        return JSONResponse({"done": done, **state.autopilot.public()})

    return [
        Route("/_sandbox/requisitions/{rec_id}/{action}", requisition_action, methods=["POST"]),
        Route(
            "/_sandbox/purchase_orders/{rec_id}/{action}", purchase_order_action, methods=["POST"]
        ),
        Route("/_sandbox/autopilot", autopilot, methods=["GET", "POST"]),
        Route("/_sandbox/autopilot/run", autopilot_run, methods=["POST"]),
    ]
