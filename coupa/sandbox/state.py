"""The sandbox's configuration and its runtime state (store, auth, limits, faults, stats)."""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from coupa.sandbox.auth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN_TTL,
    AuthService,
    OAuthClient,
    ScopeMode,
    load_clients,
)
from coupa.sandbox.autopilot import Autopilot
from coupa.sandbox.create import DEFAULT_ROUTING
from coupa.sandbox.customfields import CustomField, check_unique
from coupa.sandbox.faults import FaultInjector, FaultSettings
from coupa.sandbox.ratelimit import ManualClock, TokenBucket
from coupa.sandbox.resources import Registry
from coupa.sandbox.scopes import DEFAULT_CLIENT_SCOPES
from coupa.sandbox.stats import Stats
from coupa.sandbox.store import Store, write_json_atomic

log = logging.getLogger("coupa.sandbox")


def default_anchor() -> int:
    """Return today's midnight UTC: generated timestamps lie in the two years before it."""
    today = datetime.now(UTC).date()
    return anchor_from_date(today)


def anchor_from_date(day: date) -> int:
    """Return midnight UTC of `day` as epoch seconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass
class SandboxConfig:
    """Everything the command line (or a test) can set."""

    host: str = "127.0.0.1"
    port: int = 8111
    seed: int = 42
    anchor: int = field(default_factory=default_anchor)
    sizes: dict[str, int] = field(default_factory=dict)
    custom_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    requisition_fields: tuple[CustomField, ...] = ()
    routing: str = DEFAULT_ROUTING  # which submissions wait for a buyer (create.ROUTING_RULES)
    clients: list[OAuthClient] = field(
        default_factory=lambda: [
            OAuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, set(DEFAULT_CLIENT_SCOPES))
        ]
    )
    token_ttl: int = DEFAULT_TOKEN_TTL
    scope_mode: ScopeMode = "list"
    rate: float = 25.0  # coupa-api.md 4: 25 requests per second, burst 20
    burst: int = 20
    manual_clock: bool = False  # the bucket's clock moves only when told (tests)
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    faults: FaultSettings = field(default_factory=FaultSettings)
    state_file: Path | None = None
    warm_cache: bool = False
    prefetch: bool = True  # render the next keyset page in idle time
    api_ordered_share: float = 0.3  # of the seeded API requisitions (sizes["api_requisitions"])
    id_layout: str = "dense"  # ids of the reference data: dense, sparse or clustered (layouts.py)
    inactive_shares: dict[str, float] = field(default_factory=dict)  # resource -> share inactive
    user_emails: tuple[str, ...] = ()  # given to the 2nd, 3rd, … user (the product's demo users)
    autopilot: dict[str, float] = field(default_factory=dict)  # step -> seconds


def settle_heap() -> None:
    """Move the objects alive now (the generated data) out of the cyclic GC's sight.

    Records are never in reference cycles, but every full collection scans them: with
    100,000 requisitions one takes about 0.8 s, and the first one comes due during the
    first requests after start (the render caches' growth brings later ones). Frozen
    objects are still freed by reference counting when a reset drops them.
    """
    gc.collect()
    gc.freeze()


class SandboxState:
    """The mutable state one sandbox process serves."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.registry = Registry.build(config.custom_fields, config.requisition_fields)
        self.routing = config.routing
        self.store = self._new_store()
        self.auth = AuthService(
            config.clients, token_ttl=config.token_ttl, scope_mode=config.scope_mode
        )
        self.clock = ManualClock() if config.manual_clock else None
        self.bucket = TokenBucket(config.rate, config.burst, clock=self.clock or time.monotonic)
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.stats = Stats()
        self.latency_ms = config.latency_ms
        self.latency_jitter_ms = config.latency_jitter_ms
        if config.state_file is not None and config.state_file.exists():
            self._load_file(config.state_file)
            self._name_users()
        else:
            self.store.generate()
            self._name_users()
        if config.warm_cache:
            self.store.warm()
        self.autopilot = Autopilot(self.clock or time.monotonic, config.autopilot)
        self.autopilot.start(self.store)
        settle_heap()

    def _new_store(self) -> Store:
        config = self.config
        return Store(
            registry=self.registry,
            seed=config.seed,
            anchor=config.anchor,
            sizes=config.sizes,
            api_ordered_share=config.api_ordered_share,
            id_layout=config.id_layout,
            inactive_shares=config.inactive_shares,
        )

    def _name_users(self) -> None:
        """Give the 2nd, 3rd, … user the configured emails (and logins), active: a demo's own
        people then exist in Coupa, as on an instance where the customer created them."""
        users = self.store.collection("users")
        # By position, not id: with sparse or clustered ids the second user is not user 2.
        for rec_id, email in zip(users.ids[1:], self.config.user_emails, strict=False):
            rec = users.records[rec_id]
            rec.update({"email": email, "login": email, "sso-identifier": email, "active": True})
        if self.config.user_emails:
            self.store.renderer.invalidate("users")

    def _load_file(self, path: Path) -> None:
        state = json.loads(path.read_text(encoding="utf-8"))
        saved_cf = {k: tuple(v) for k, v in state.get("custom_fields", {}).items()}
        saved_rf = tuple(CustomField.from_json(f) for f in state.get("requisition_fields", ()))
        if (saved_cf, saved_rf) != (self.registry.custom_fields, self.registry.requisition_fields):
            # The file's custom fields win: its records carry their values.
            self.registry = Registry.build(saved_cf, saved_rf)
            self.store = self._new_store()
        self.store.load_state(state)
        if state.get("clients"):
            self.auth.clients = {c.client_id: c for c in load_clients(state)}
        log.info("loaded state from %s", path)

    def save(self) -> None:
        """Write data and clients to the state file, if one is configured."""
        path = self.config.state_file
        if path is None:
            return
        payload: dict[str, Any] = self.store.to_state()
        payload["clients"] = [
            {"client_id": c.client_id, "client_secret": c.client_secret, "scopes": sorted(c.scopes)}
            for c in self.auth.clients.values()
        ]
        write_json_atomic(path, payload)

    def declare_requisition_fields(self, fields: Iterable[CustomField]) -> None:
        """Replace the requisitions' custom fields (records keep the values they have).

        Raises ValueError (CustomFieldError) for a clash with a standard field.
        """
        fields = tuple(fields)
        check_unique(fields)
        self.registry = Registry.build(self.registry.custom_fields, fields)
        self.store.use_registry(self.registry)

    def reset(self, *, tokens: bool = False) -> None:
        """Regenerate the data from the seed and restore clients, faults, limits and stats."""
        if self.registry.requisition_fields != self.config.requisition_fields:
            self.declare_requisition_fields(self.config.requisition_fields)
        self.routing = self.config.routing
        self.store.generate()
        self._name_users()
        settle_heap()
        self.auth.reset_clients()
        if tokens:
            self.auth.revoke()
        self.faults.reset()
        self.bucket.configure(self.config.rate, self.config.burst)
        self.latency_ms = self.config.latency_ms
        self.latency_jitter_ms = self.config.latency_jitter_ms
        self.auth.scope_mode = self.config.scope_mode
        self.auth.token_ttl = self.config.token_ttl
        self.stats.reset()
        self.autopilot.start(self.store, self.config.autopilot)
        self.save()

    def tick(self) -> list[dict[str, Any]]:
        """Apply the auto-pilot's due steps; write the state file if any was."""
        try:
            done = self.autopilot.tick(self.store)
            if done:
                self.save()
        except Exception:  # a bug or a full disk must not take every request down with it
            log.exception("autopilot tick failed")
            return []
        return done

    def settings(self) -> dict[str, Any]:
        """Return the runtime settings as JSON."""
        return {
            "rate": self.bucket.rate,
            "burst": self.bucket.burst,
            "manual_clock": self.clock is not None,
            "latency_ms": self.latency_ms,
            "latency_jitter_ms": self.latency_jitter_ms,
            "scope_mode": self.auth.scope_mode,
            "token_ttl": self.auth.token_ttl,
            "seed": self.config.seed,
            "anchor": self.config.anchor,
            "id_layout": self.store.id_layout,
            "inactive_shares": dict(self.store.inactive_shares),
            "custom_fields": {k: list(v) for k, v in self.registry.custom_fields.items()},
            "requisition_fields": [f.public() for f in self.registry.requisition_fields],
            "buyer_action": self.routing,
            "state_file": str(self.config.state_file) if self.config.state_file else None,
            "autopilot": dict(self.autopilot.steps),
        }
