"""Helpers for tests that need a running sandbox.

Usage::

    from coupa.sandbox.testing import running_sandbox

    with running_sandbox(items=1000, rate=0, custom_fields="accounts:cost-center") as sb:
        client = CoupaClient(base_url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret)
        ...
        assert imported_ids == set(sb.ids("suppliers", active_only=True))
        sb.remove_scope(sb.client_id, "core.supplier.read")

Keyword arguments become command-line options (`items=1000` -> `--items 1000`,
`fault_503=0.1` -> `--fault-503 0.1`, `id_layout="sparse"` -> `--id-layout sparse`,
`inactive_share="items=0.95"`); positional arguments are passed as is.
The handle speaks only to the control API under /_sandbox/ (see docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from coupa.sandbox.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

_PREFIX = "Coupa sandbox listening on "


class SandboxStartError(RuntimeError):
    """The sandbox process did not come up."""


@dataclass
class SandboxHandle:
    """A running sandbox: its URL, default credentials and control-API helpers."""

    base_url: str
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    process: subprocess.Popen[str] | None = None
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Plain HTTP to loopback: no TLS context to build (httpx spends ~40 ms on one).
        self._http = httpx.Client(base_url=self.base_url, timeout=30.0, verify=False)  # noqa: S501

    @property
    def token_url(self) -> str:
        """Return the OAuth2 token URL."""
        return f"{self.base_url}/oauth2/token"

    def close(self) -> None:
        """Close the control-API connection pool."""
        self._http.close()

    def _call(
        self, method: str, path: str, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        resp = self._http.request(method, f"/_sandbox/{path}", json=json, params=params)
        if resp.is_error:
            raise RuntimeError(f"sandbox control {method} {path}: {resp.status_code} {resp.text}")
        return resp.json()

    # -- statistics and reset ----------------------------------------------

    def stats(self, recent: int = 50) -> dict[str, Any]:
        """Return request statistics: total, by_endpoint, by_status, by_client, by_collection
        (per collection path: 2xx GETs and records returned), rate_limited, recent."""
        result: dict[str, Any] = self._call("GET", "stats", params={"recent": recent})
        return result

    def reset_stats(self) -> None:
        """Zero the statistics."""
        self._call("POST", "stats/reset")

    def reset(self, *, tokens: bool = False) -> None:
        """Regenerate the data from the seed; restore clients, faults, limits; zero stats."""
        self._call("POST", "reset", json={"tokens": tokens})

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Change runtime settings (rate, burst, latency_ms, latency_jitter_ms, scope_mode, token_ttl, buyer_action); return them."""
        result: dict[str, Any] = self._call("POST", "settings", json=changes)
        return result

    def requisition_fields(
        self, *fields: Mapping[str, Any], replace: bool = False
    ) -> list[dict[str, Any]]:
        """Declare custom fields of requisitions, e.g.
        `{"on": "header", "name": "po-ref", "type": "string", "required": True}`; return all.

        Without fields, return the declared ones. `replace=True` drops the others.
        """
        if not fields and not replace:
            result = self._call("GET", "requisition_fields")
        else:
            result = self._call(
                "POST", "requisition_fields", json={"fields": list(fields), "replace": replace}
            )
        declared: list[dict[str, Any]] = result["fields"]
        return declared

    def advance_clock(self, seconds: float) -> float:
        """Move the rate limit's clock forward (needs `manual_clock=True`); return its reading."""
        return float(self._call("POST", "clock", json={"advance": seconds})["now"])

    # -- faults ------------------------------------------------------------

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Merge fault settings, e.g. `set_faults(error_503=0.5)` or `set_faults(next=["reset"])`.

        Kinds: error_503, storm_429, slow, reset, incomplete, truncate, malformed, error_500,
        and for writes only lost_response, slow_create (probabilities 0..1); also
        storm_length, storm_retry_after, slow_seconds, apply_to, apply_methods (e.g.
        ["POST"]; None = all), next (a list of kinds the next matching requests get, in
        order; "none" lets one through). A slow response ends early when the client hangs
        up; a slow_create's write stays done.
        """
        result: dict[str, Any] = self._call("POST", "faults", json=faults)
        return result

    def clear_faults(self) -> None:
        """Switch every fault off."""
        self._call("DELETE", "faults")

    # -- data --------------------------------------------------------------

    def mutate(self, *operations: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Apply control-API mutations in order; return one result ({op, resource, ids}) per operation."""
        result: list[dict[str, Any]] = self._call(
            "POST", "mutate", json={"operations": list(operations)}
        )["results"]
        return result

    def rename(self, resource: str, rec_id: int, name: str) -> None:
        """Rename one record (its name field; `description` for terms, `lastname` for users)."""
        self.mutate({"op": "rename", "resource": resource, "id": rec_id, "name": name})

    def deactivate(self, resource: str, *ids: int) -> None:
        """Deactivate records (active=false, or status=inactive for suppliers)."""
        self.mutate({"op": "deactivate", "resource": resource, "ids": list(ids)})

    def reactivate(self, resource: str, *ids: int) -> None:
        """Reactivate records."""
        self.mutate({"op": "reactivate", "resource": resource, "ids": list(ids)})

    def touch(self, resource: str, *ids: int, share: float | None = None) -> list[int]:
        """Move `updated-at` of records to now: the given ids, or a seeded sample of `share`
        of the resource's records (round(n * share), at least one). Return the ids touched."""
        op: dict[str, Any] = {"op": "touch", "resource": resource}
        if share is not None:
            op["share"] = share
        else:
            op["ids"] = list(ids)
        touched: list[int] = self.mutate(op)[0]["ids"]
        return touched

    def add(self, resource: str, count: int = 1, **extra: Any) -> list[int]:
        """Add generated records; return their ids (accounts accept account_type_id=...)."""
        ids: list[int] = self.mutate({"op": "add", "resource": resource, "count": count, **extra})[
            0
        ]["ids"]
        return ids

    def move_accounts(self, account_type_id: int, *ids: int) -> None:
        """Attach accounts to another chart of accounts."""
        self.mutate({"op": "move_accounts", "account_type_id": account_type_id, "ids": list(ids)})

    def seed_requisitions(self, count: int, ordered_share: float = 0.3) -> dict[str, list[int]]:
        """Add `count` open requisitions of the API user, `ordered_share` of them ordered
        into purchase orders; return the new ids by resource (POST /_sandbox/seed)."""
        ids: dict[str, list[int]] = self._call(
            "POST", "seed", json={"requisitions": count, "ordered_share": ordered_share}
        )["ids"]
        return ids

    def ids(self, resource: str, *, active_only: bool = False) -> list[int]:
        """Return the ids of a resource, or of its active set."""
        ids: list[int] = self._call(
            "GET", f"resources/{resource}/ids", params={"active": str(active_only).lower()}
        )["ids"]
        return ids

    def count(self, resource: str, *, active_only: bool = False) -> int:
        """Return how many records (or active records) a resource has."""
        counts = self._call("GET", "resources")[resource]
        return int(counts["active" if active_only else "total"])

    def records(self, resource: str, *, active_only: bool = False) -> list[dict[str, Any]]:
        """Return every record (or every active one) as the API renders it in full, by id."""
        recs: list[dict[str, Any]] = self._call(
            "GET", f"resources/{resource}/records", params={"active": str(active_only).lower()}
        )
        return recs

    def record(self, resource: str, rec_id: int) -> dict[str, Any]:
        """Return one record as the API renders it in full."""
        rec: dict[str, Any] = self._call("GET", f"resources/{resource}/{rec_id}")
        return rec

    # -- lifecycle and auto-pilot --------------------------------------------

    def _requisition(self, req_id: int, action: str, body: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"requisitions/{req_id}/{action}", json=body)
        return result

    def approve(self, req_id: int) -> dict[str, Any]:
        """Approve a requisition; return {"requisition": ..., "purchase_orders": [...]}."""
        return self._requisition(req_id, "approve")

    def reject(self, req_id: int, comment: str) -> dict[str, Any]:
        """Reject a requisition (it goes back to draft with `reject-reason-comment`)."""
        return self._requisition(req_id, "reject", {"comment": comment})

    def withdraw(self, req_id: int) -> dict[str, Any]:
        """Withdraw a requisition that has not been ordered."""
        return self._requisition(req_id, "withdraw")

    def order(self, req_id: int) -> dict[str, Any]:
        """Order an approved requisition: one purchase order per supplier of its lines."""
        return self._requisition(req_id, "order")

    def receive(self, req_id: int, share: float | None = None) -> dict[str, Any]:
        """Receive an ordered requisition in full, or `share` (0..1) of every line."""
        return self._requisition(
            req_id, "receive", {"fully": True} if share is None else {"share": share}
        )

    def po_action(self, po_id: int, action: str) -> dict[str, Any]:
        """Apply a purchase-order action (issue, close, cancel, reopen, hold, release)."""
        result: dict[str, Any] = self._call("POST", f"purchase_orders/{po_id}/{action}")[
            "purchase_order"
        ]
        return result

    def autopilot(self, **steps: float | None) -> dict[str, Any]:
        """Set auto-pilot steps (`approve=30, order=None`; None switches one off); return its status."""
        result: dict[str, Any] = self._call(
            "POST" if steps else "GET", "autopilot", json=steps or None
        )
        return result

    def run_autopilot(self) -> dict[str, Any]:
        """Apply the auto-pilot's due steps now; return what it did (`done`) and its status."""
        result: dict[str, Any] = self._call("POST", "autopilot/run")
        return result

    # -- clients and tokens ------------------------------------------------

    def add_client(
        self, client_id: str, client_secret: str, scopes: list[str] | None = None
    ) -> None:
        """Register another OAuth client (default scopes: those the integration needs)."""
        body: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret}
        if scopes is not None:
            body["scopes"] = scopes
        self._call("POST", "clients", json=body)

    def scopes(self, client_id: str) -> list[str]:
        """Return a client's current scopes."""
        scopes: list[str] = self._call("GET", f"clients/{client_id}/scopes")["scopes"]
        return scopes

    def remove_scope(self, client_id: str, scope: str) -> list[str]:
        """Take a scope from a client; existing tokens lose it at once. Return the scopes left."""
        scopes: list[str] = self._call(
            "POST", f"clients/{client_id}/scopes", json={"remove": [scope]}
        )["scopes"]
        return scopes

    def grant_scope(self, client_id: str, scope: str) -> list[str]:
        """Give a client a scope (new tokens may request it). Return its scopes."""
        scopes: list[str] = self._call(
            "POST", f"clients/{client_id}/scopes", json={"grant": [scope]}
        )["scopes"]
        return scopes

    def tokens(self) -> list[str]:
        """The access tokens issued since the last reset (revoked ones excepted)."""
        return [t["value"] for t in self._call("GET", "tokens")["tokens"]]

    def revoke_tokens(self, client_id: str | None = None) -> int:
        """Forget issued tokens (calls with them get 401); return how many."""
        return int(self._call("POST", "tokens/revoke", json={"client_id": client_id})["revoked"])

    def expire_tokens(self, client_id: str | None = None) -> int:
        """Make issued tokens expired (calls with them get 401); return how many."""
        return int(self._call("POST", "tokens/expire", json={"client_id": client_id})["expired"])


def _options(args: tuple[str, ...], kwargs: Mapping[str, Any]) -> list[str]:
    out = list(args)
    for key, value in kwargs.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        else:
            out += [flag, str(value)]
    return out


@contextlib.contextmanager
def running_sandbox(
    *args: str, startup_timeout: float = 60.0, **kwargs: Any
) -> Iterator[SandboxHandle]:
    """Start `python -m coupa.sandbox --port 0 ...` in a subprocess; yield its handle; stop it.

    Waits for the "listening" line and a healthy /_sandbox/health. On exit the
    process gets SIGTERM (it saves its --state-file, if any), then SIGKILL after 10 s.
    Raises SandboxStartError with the process's stderr if it does not start.
    """
    cmd = [sys.executable, "-m", "coupa.sandbox", "--port", "0", *_options(args, kwargs)]
    stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed below
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)  # noqa: S603
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith(_PREFIX):
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    handle: SandboxHandle | None = None
    try:
        if not ready.wait(startup_timeout) or not any(x.startswith(_PREFIX) for x in lines):
            stderr.seek(0)
            raise SandboxStartError(
                f"sandbox did not start: {' '.join(cmd)}\n{stderr.read()[-4000:]}"
            )
        url = next(x for x in lines if x.startswith(_PREFIX))[len(_PREFIX) :]
        opts = _options(args, kwargs)
        cid = opts[opts.index("--client-id") + 1] if "--client-id" in opts else DEFAULT_CLIENT_ID
        secret = (
            opts[opts.index("--client-secret") + 1]
            if "--client-secret" in opts
            else DEFAULT_CLIENT_SECRET
        )
        handle = SandboxHandle(url, cid, secret, proc)
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                if handle._http.get("/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SandboxStartError("sandbox never answered /_sandbox/health")
            time.sleep(0.05)
        yield handle
    finally:
        if handle is not None:
            handle.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stderr.close()
