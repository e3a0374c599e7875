"""`make chaos`: scenarios against the sandbox with its fault mix on while real Celery
workers are SIGKILLed, recovery by the product's own mechanisms, invariants after each.

Run: .venv/bin/python -m chaos [--minutes 10] [--seed N] [--quick] [--report docs/chaos.md]

The database is a throwaway one (PostgreSQL when DATABASE_URL is set, else a SQLite
file); the broker is REDIS_URL's when set, else an embedded one in a temporary folder.
The run stops starting scenarios once `--minutes` have passed, prints one line per
scenario and the figure line, writes the report and exits 1 on any invariant violation.
A failing run is repeated with the seed it printed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.env import ROOT, django_setup, throwaway_database

#: The short limits of the run (the product's defaults are minutes): a killed worker's
#: sync is stale after 12 s, a requisition's lease expires after 10 s.
SETTINGS = {
    "COUPA_READ_TIMEOUT": "2",
    "COUPA_RETRY_ATTEMPTS": "6",
    "COUPA_RETRY_DEADLINE": "6",
    "COUPA_BACKOFF_BASE": "0.1",
    "COUPA_BACKOFF_MAX": "1",
    "COUPA_PUSH_LEASE_SECONDS": "10",
    "COUPA_PUSH_DEADLINE": "60",
    "COUPA_PUSH_PENDING_AFTER": "5",
    "COUPA_SYNC_STALE_AFTER": "12",
    "COUPA_SYNC_QUEUED_STALE_AFTER": "10",
    "COUPA_VALIDATION_STALE_AFTER": "30",
    "COUPA_PAGE_CONCURRENCY": "2",
    "COUPA_SYNC_FLUSH_RECORDS": "50",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}
SIZES = {
    "full": {"accounts": 300, "suppliers": 400, "items": 1500, "users": 12},
    "quick": {"accounts": 120, "suppliers": 120, "items": 400, "users": 12},
}


def _environment(broker_dir: str) -> None:
    for key, value in SETTINGS.items():
        os.environ[key] = value
    if not os.environ.get("REDIS_URL") and not os.environ.get("CELERY_BROKER_URL"):
        os.environ["CELERY_BROKER_URL"] = "filesystem://"
        os.environ["CELERY_BROKER_FOLDER"] = broker_dir
        for sub in ("queue", "processed", "control"):
            Path(broker_dir, sub).mkdir(parents=True, exist_ok=True)


def _worker_env(sandbox_url: str) -> dict[str, str]:
    from bench.env import database_url

    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "COUPA_ALLOWED_HOSTS": sandbox_url,
        "PYTHONUNBUFFERED": "1",
    }


def _fresh_services() -> None:
    """A PostgreSQL throwaway database named `chaos_...`; no task left in the broker's
    queue by an earlier run (its ids would meet this run's rows)."""
    from django.db import connection as db

    from spendflo.celery import app

    if db.vendor == "postgresql":
        name = str(db.settings_dict["NAME"])
        db.settings_dict["TEST"]["NAME"] = (
            f"{name}_run" if name.startswith("chaos_") else f"chaos_{name}"
        )
    app.control.purge()


def run(*, minutes: float, seed: int, quick: bool) -> dict[str, Any]:
    """Run scenarios for about `minutes`; return the figures for the report."""
    from bench.cases import _pr_world
    from chaos.scenarios import FAULT_MIX, LATENCY_MS, SCENARIOS, Outcome, World
    from chaos.workers import Workers
    from coupa.sandbox.testing import running_sandbox

    _fresh_services()
    rng = random.Random(seed)
    sizes = SIZES["quick" if quick else "full"]
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with throwaway_database() as vendor, running_sandbox(rate=0, seed=seed, **sizes) as sandbox:
        conn, version, requester, answers = _pr_world(sandbox, 0)
        sandbox.settings(latency_ms=LATENCY_MS, latency_jitter_ms=LATENCY_MS)
        workers = Workers(_worker_env(sandbox.base_url), count=1 if vendor == "sqlite" else 2)
        workers.ensure()
        world = World(sandbox, workers, conn, version, requester, answers, rng, quick)
        world.port = int(sandbox.base_url.rsplit(":", 1)[1])
        names = list(SCENARIOS)
        try:
            while time.monotonic() - started < minutes * 60 or len(outcomes) < len(names):
                name = names[len(outcomes) % len(names)]
                before = Counter(sandbox.stats(recent=0)["faults_injected"])
                outcome = Outcome(name)
                t0 = time.monotonic()
                try:
                    SCENARIOS[name](world, outcome)
                except Exception as exc:  # a crash of the driver is a finding, not a pass
                    outcome.violations.append(f"The scenario stopped: {type(exc).__name__}: {exc}")
                outcome.seconds = time.monotonic() - t0
                outcome.faults = Counter(sandbox.stats(recent=0)["faults_injected"]) - before
                outcomes.append(outcome)
                print(_scenario_line(len(outcomes), outcome), flush=True)
        finally:
            workers.stop()
        faults = Counter(sandbox.stats(recent=0)["faults_injected"])
    return {
        "seed": seed,
        "quick": quick,
        "minutes": minutes,
        "database": vendor,
        "broker": "redis" if os.environ.get("REDIS_URL") else "embedded",
        "seconds": time.monotonic() - started,
        "outcomes": outcomes,
        "faults": faults,
        "kills": sum(o.kills for o in outcomes),
        "restarts": workers.starts,
        "picks": dict(workers.picks),
        "fault_mix": FAULT_MIX,
        "sizes": sizes,
        "settings": {k: v for k, v in SETTINGS.items() if k.startswith("COUPA_")},
        "violations": sum(len(o.violations) for o in outcomes),
    }


def _scenario_line(n: int, o: Any) -> str:
    extra = f"; {', '.join(sorted(set(o.notes)))}" if o.notes else ""
    line = (
        f"  {n:>3} {o.name:<17} {o.seconds:6.1f} s  faults {sum(o.faults.values()):>4}  "
        f"kills {o.kills}  violations {len(o.violations)}{extra}"
    )
    return "\n".join([line, *(f"        ! {v}" for v in o.violations)])


def figure_line(result: dict[str, Any]) -> str:
    """`chaos: 12 scenarios, 430 faults injected, 17 kills, 0 invariant violations in 602 s (seed 1234)`."""
    return (
        f"chaos: {len(result['outcomes'])} scenarios, {sum(result['faults'].values())} faults injected, "
        f"{result['kills']} kills, {result['violations']} invariant violations in "
        f"{result['seconds']:.0f} s (seed {result['seed']})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="how long to start scenarios (default 10, quick 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the run's random seed (default: a new one, printed)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and a short run (CI)")
    parser.add_argument(
        "--report",
        default=None,
        help="where to write the report (default docs/chaos.md; quick: var/chaos/chaos.md)",
    )
    args = parser.parse_args(argv)
    minutes = args.minutes if args.minutes is not None else (1.0 if args.quick else 10.0)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 100_000)
    report = Path(args.report or (ROOT / ("var/chaos/chaos.md" if args.quick else "docs/chaos.md")))
    print(f"chaos: seed {seed}, about {minutes:g} minutes", flush=True)
    with tempfile.TemporaryDirectory(prefix="chaos-broker-") as broker_dir:
        _environment(broker_dir)
        django_setup()
        from chaos.report import machine, render_markdown

        started_at = datetime.now(UTC)
        result = run(minutes=minutes, seed=seed, quick=args.quick)
    line = figure_line(result)
    print(line)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_markdown(result, line=line, machine=machine(), started_at=started_at))
    print(f"report: {report}")
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
