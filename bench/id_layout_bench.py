"""Benchmark the reference sync's requests on every id layout (dense, sparse, clustered,
selective filters) against the goal: successful requests per resource
<= 1.25 x ceil(records / 50) + 2, and a large dense walk >= 0.87 of the rate budget.

For each layout a sandbox serves the same sizes (at --rate requests/s, burst 20,
--latency-ms per call) and the product runs, with its production concurrency:
(1) the first import of accounts, vendors and items: records, minimal pages, requests,
    their ratio, wall time and utilization = (minimal pages / rate) / wall time;
(2) the first import of every other resource (charts and currencies included);
(3) an hourly sync of the unchanged instance: requests per resource (goal <= 2);
(4) an hourly sync after 1% of items and vendors changed: requests against
    ceil(changed / 50) + 2.
The selective case has 30 charts of which 2 are imported, 95% of items inactive.

Uses a throwaway test database (Postgres when DATABASE_URL is set, else SQLite).
Run: .venv/bin/python bench/id_layout_bench.py [--small] [--json] [--layouts dense,sparse]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendflo.settings")
os.environ.setdefault("SPENDFLO_IGNORE_DOTENV", "1")
os.environ.setdefault("SECRET_KEY", "bench-only")
if "FIELD_ENCRYPTION_KEY" not in os.environ:
    from cryptography.fernet import Fernet

    os.environ["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection as db  # noqa: E402

from bench.cases import CHARTS_IMPORTED, LAYOUTS  # noqa: E402
from bench.env import make_connection, select_charts  # noqa: E402

GOAL_SIZES = {"accounts": 5_000, "suppliers": 10_000, "items": 40_000}
SMALL_SIZES = {"accounts": 1_000, "suppliers": 2_000, "items": 6_000}
BIG = ("accounts", "vendors", "items")


def goal(records: int) -> float:
    return 1.25 * math.ceil(records / 50) + 2


def per_path(stats: dict[str, Any]) -> dict[str, int]:
    """Successful GETs per /api/ collection from the sandbox's statistics."""
    out: dict[str, int] = {}
    for endpoint, n in stats["by_endpoint"].items():
        method, _, path = endpoint.partition(" ")
        if method == "GET" and path.startswith("/api/"):
            name = path[len("/api/") :].split("/")[0]
            out[name] = out.get(name, 0) + n
    return out


def run_layout(name: str, sizes: dict[str, int], rate: float, latency_ms: float) -> dict[str, Any]:
    from coupa.reference.registry import RESOURCES
    from coupa.reference.sync import sync_request
    from coupa.reference.walk import sync_run_execute
    from coupa.sandbox.testing import running_sandbox
    from integrations.models import SyncRun

    paths = {spec.name: spec.path for spec in RESOURCES.values()}
    options = {**sizes, **LAYOUTS[name]}
    with running_sandbox(
        rate=rate,
        burst=20,
        latency_ms=latency_ms,
        users=50,
        addresses=20,
        startup_timeout=300,
        **options,
    ) as sandbox:
        conn = make_connection(sandbox, rate=rate, label=name)
        select_charts(conn, CHARTS_IMPORTED.get(name))

        def sync(resources: list[str] | None, trigger: str) -> tuple[Any, dict[str, int], float]:
            time.sleep(1.0)  # let the sandbox's bucket refill between phases
            sandbox.reset_stats()
            run = sync_request(connection=conn, trigger=trigger, resources=resources, enqueue=False)
            started = time.perf_counter()
            done = sync_run_execute(sync_run_id=run.pk)
            elapsed = time.perf_counter() - started
            assert done is not None and done.state == SyncRun.State.SUCCEEDED, done and done.error
            return done, per_path(sandbox.stats(recent=0)), elapsed

        result: dict[str, Any] = {"layout": name, "options": options, "resources": {}}
        big, big_requests, wall = sync(list(BIG), SyncRun.Trigger.INITIAL)
        rest = [r for r in RESOURCES if r not in BIG]
        small, small_requests, _ = sync(rest, SyncRun.Trigger.INITIAL)
        minimal_big = 0
        for counts, requests, names in (
            (big.counts, big_requests, BIG),
            (small.counts, small_requests, rest),
        ):
            for resource in names:
                c = counts.get(resource, {})
                records = c.get("created", 0) + c.get("updated", 0) + c.get("unchanged", 0)
                pages = math.ceil(records / 50)
                made = requests.get(paths[resource], 0)
                if resource in BIG:
                    minimal_big += pages
                result["resources"][resource] = {
                    "records": records,
                    "minimal_pages": pages,
                    "requests": made,
                    "ratio": round(made / pages, 3) if pages else None,
                    "goal": math.floor(goal(records)),
                    "met": made <= goal(records),
                }
        result["first_import"] = {
            "seconds": round(wall, 2),
            "minimal_pages": minimal_big,
            "requests": sum(big_requests.values()),
            "utilization": round((minimal_big / rate) / wall, 3) if rate else None,
        }
        _, unchanged, _ = sync(None, SyncRun.Trigger.HOURLY)
        result["unchanged"] = {"requests": unchanged, "met": max(unchanged.values()) <= 2}
        changed = {
            "items": len(sandbox.touch("items", share=0.01)),
            "suppliers": len(sandbox.touch("suppliers", share=0.01)),
        }
        _, after, _ = sync(None, SyncRun.Trigger.HOURLY)
        result["one_percent"] = {
            path: {
                "changed": n,
                "requests": after.get(path, 0),
                "goal": math.floor(goal(n)),
                "met": after.get(path, 0) <= goal(n),
            }
            for path, n in changed.items()
        }
        return result


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--small", action="store_true", help=f"use {SMALL_SIZES}")
    p.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated subset")
    p.add_argument("--rate", type=float, default=25.0)
    p.add_argument("--latency-ms", type=float, default=150.0)
    p.add_argument("--concurrency", type=int, default=8, help="client paging threads")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    sizes = dict(SMALL_SIZES if args.small else GOAL_SIZES)
    settings.COUPA_PAGE_CONCURRENCY = args.concurrency
    if db.vendor == "sqlite":
        # A file, as in the embedded mode: the paging threads' rate-limiter writes wait
        # for the importer instead of failing as on a shared in-memory database.
        tmp = tempfile.mkdtemp(prefix="id-layout-bench-")
        db.settings_dict["TEST"]["NAME"] = str(Path(tmp) / "bench.sqlite3")
    db_name = db.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    results = []
    try:
        for name in args.layouts.split(","):
            results.append(run_layout(name.strip(), sizes, args.rate, args.latency_ms))
    finally:
        from integrations.ratelimit import release_db_connections

        release_db_connections()
        db.creation.destroy_test_db(db_name, verbosity=0)
    if args.json:
        print(json.dumps({"database": db.vendor, "sizes": sizes, "layouts": results}, indent=2))
        return 0
    print(
        f"database: {db.vendor}  sizes: {sizes}  rate {args.rate}/s, latency {args.latency_ms} ms"
    )
    print(
        f"{'layout':10s} {'resource':12s} {'records':>8s} {'pages':>6s} {'requests':>8s} {'ratio':>6s} {'goal':>5s}"
    )
    for r in results:
        for resource, row in r["resources"].items():
            ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
            flag = "" if row["met"] else "  MISSED"
            print(
                f"{r['layout']:10s} {resource:12s} {row['records']:8d} {row['minimal_pages']:6d} "
                f"{row['requests']:8d} {ratio:>6s} {row['goal']:5d}{flag}"
            )
        fi = r["first_import"]
        print(
            f"{r['layout']:10s} first import of accounts, vendors, items: {fi['minimal_pages']} pages, "
            f"{fi['requests']} requests in {fi['seconds']} s; utilization {fi['utilization']} "
            "(goal >= 0.87 on dense)"
        )
        u = r["unchanged"]
        print(
            f"{r['layout']:10s} unchanged sync: max {max(u['requests'].values())} requests per resource "
            f"(goal <= 2){'' if u['met'] else '  MISSED'}"
        )
        for path, row in r["one_percent"].items():
            print(
                f"{r['layout']:10s} 1% changed {path}: {row['changed']} changed, {row['requests']} requests "
                f"(goal <= {row['goal']}){'' if row['met'] else '  MISSED'}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
