"""Benchmark the reference-data sync against the goals of issue 6.

(a) full import of --accounts/--suppliers/--items from the sandbox at --rate requests/s
    (sandbox and client at the same rate) with --latency-ms per call: wall time against
    the rate bound (requests / rate); goal <= 1.15x;
(b) write throughput with pages already fetched (records/s into the database, parsing
    included): goal >= 10,000 records/s on Postgres;
(c) peak RSS of this process (the worker) during (a): goal < 300 MB, and flat with size
    (compare --small with the default sizes).

Uses a throwaway test database (Postgres when DATABASE_URL is set, which is what the goal
is about; else SQLite). Run: .venv/bin/python bench/sync_bench.py [--small] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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

from bench.env import PeakRss, rss_mb  # noqa: E402

SMALL = {"accounts": 2000, "suppliers": 5000, "items": 20000}
GOAL = {"accounts": 20000, "suppliers": 50000, "items": 200000}


def bench_import(
    sizes: dict[str, int], rate: float, latency_ms: float, concurrency: int
) -> dict[str, Any]:
    from coupa.models import ChartOfAccounts
    from coupa.reference.importers import import_charts
    from coupa.reference.sync import sync_request
    from coupa.reference.walk import sync_run_execute
    from coupa.sandbox.testing import running_sandbox
    from integrations.crypto import encrypt
    from integrations.models import Connection, SyncRun
    from spendflo.organizations.models import Organization

    settings.COUPA_PAGE_CONCURRENCY = concurrency
    with running_sandbox(
        rate=rate,
        burst=20,
        latency_ms=latency_ms,
        users=50,
        addresses=20,
        startup_timeout=300,
        **sizes,
    ) as sandbox:
        settings.COUPA_ALLOWED_HOSTS = [sandbox.base_url]
        org = Organization.objects.create(slug=f"bench-{time.time_ns()}", name="Bench")
        conn = Connection.objects.create(
            organization=org,
            host=sandbox.base_url.split("//")[1],
            base_url=sandbox.base_url,
            provider_settings={"client_id": sandbox.client_id, "post_token_pause": 0.0},
            secret_encrypted=encrypt(sandbox.client_secret),
            state=Connection.State.CONNECTED,
            rate_limit=rate,
            rate_burst=10,
        )
        from coupa.client.connection import client_for
        from coupa.reference.walk import charts_fetch_active

        with client_for(conn) as client:
            import_charts(connection=conn, records=charts_fetch_active(client))
        ChartOfAccounts.objects.filter(connection=conn).update(selected=True)
        time.sleep(1.0)  # let the sandbox's bucket refill after setup calls
        sandbox.reset_stats()
        run = sync_request(
            connection=conn,
            trigger=SyncRun.Trigger.INITIAL,
            resources=["accounts", "vendors", "items"],
            enqueue=False,
        )
        base = rss_mb()
        with PeakRss() as peak:
            started = time.perf_counter()
            done = sync_run_execute(sync_run_id=run.pk)
            elapsed = time.perf_counter() - started
        assert done is not None
        stats = sandbox.stats(recent=0)
        records = sum(c["created"] + c["updated"] + c["unchanged"] for c in done.counts.values())
        bound = done.requests / rate
        return {
            "state": done.state,
            "error": done.error,
            "records": records,
            "requests": done.requests,
            "retries": done.retries,
            "throttled_429": done.throttled,
            "sandbox_requests": stats["total"],
            "seconds": round(elapsed, 2),
            "rate_bound_seconds": round(bound, 2),
            "ratio_to_bound": round(elapsed / bound, 3) if bound else None,
            "rss_before_mb": round(base, 1),
            "peak_rss_mb": round(peak.peak, 1),
        }


def bench_writes(n: int, batch: int, portable: bool = False) -> dict[str, Any]:
    """Upsert `n` parsed items in batches, new then unchanged then all changed."""
    from coupa.client import types
    from coupa.reference.importers import import_records
    from integrations.models import Connection
    from spendflo.organizations.models import Organization

    org = Organization.objects.create(slug=f"bench-w-{time.time_ns()}", name="Bench writes")
    conn = Connection.objects.create(
        organization=org,
        host="bench.coupahost.com",
        base_url="https://bench.coupahost.com",
        provider_settings={"client_id": "x"},
        state=Connection.State.CONNECTED,
    )
    conn = Connection.objects.select_related("organization").get(pk=conn.pk)

    def page(start: int, suffix: str) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "name": f"Item {i}{suffix}",
                "item-number": f"IT-{i}",
                "description": f"Description of item {i}",
                "active": True,
                "updated-at": "2026-01-01T00:00:00Z",
                "uom": {"code": "EA"},
                "commodity": {"name": "Office"},
            }
            for i in range(start, min(start + batch, n + 1))
        ]

    out: dict[str, Any] = {}
    for label, suffix in (("create", ""), ("unchanged", ""), ("update", " v2")):
        started = time.perf_counter()
        for start in range(1, n + 1, batch):
            # Raw JSON pages as the client yields them; parsing is part of the cost.
            records = [types.Item.from_json(r) for r in page(start, suffix)]
            import_records(
                connection=conn,
                resource="items",
                records=records,
                mark_seen=True,
                portable=portable,
            )
        elapsed = time.perf_counter() - started
        out[f"{label}_records_per_s"] = round(n / elapsed)
    return out


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--small", action="store_true", help=f"use {SMALL}")
    p.add_argument("--accounts", type=int)
    p.add_argument("--suppliers", type=int)
    p.add_argument("--items", type=int)
    p.add_argument("--rate", type=float, default=25.0)
    p.add_argument("--latency-ms", type=float, default=150.0)
    p.add_argument("--concurrency", type=int, default=8, help="client paging threads")
    p.add_argument("--write-records", type=int, default=50000)
    p.add_argument(
        "--batch", type=int, default=1000, help="records per upsert (COUPA_SYNC_FLUSH_RECORDS)"
    )
    p.add_argument(
        "--portable-upsert",
        action="store_true",
        help="write through the portable upsert, also on PostgreSQL (to compare the paths)",
    )
    p.add_argument("--skip-import", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    sizes = dict(SMALL if args.small else GOAL)
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)

    db_name = db.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    result: dict[str, Any] = {"database": db.vendor, "db_name": db_name, "sizes": sizes}
    try:
        settings.COUPA_SYNC_FLUSH_RECORDS = args.batch
        result["writes"] = bench_writes(args.write_records, args.batch, args.portable_upsert)
        if not args.skip_import:
            result["import"] = bench_import(sizes, args.rate, args.latency_ms, args.concurrency)
    finally:
        from integrations.ratelimit import release_db_connections

        release_db_connections()
        db.creation.destroy_test_db(db_name, verbosity=0)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        imp = result.get("import", {})
        print(f"database: {result['database']}  sizes: {sizes}")
        w = result["writes"]
        print(
            f"writes (pages already fetched): create {w['create_records_per_s']}/s, "
            f"unchanged {w['unchanged_records_per_s']}/s, update {w['update_records_per_s']}/s "
            f"(goal >= 10000/s on Postgres)"
        )
        if imp:
            print(
                f"import: {imp['state']} {imp['records']} records, {imp['requests']} requests "
                f"({imp['retries']} retries, {imp['throttled_429']} 429) in {imp['seconds']} s; "
                f"rate bound {imp['rate_bound_seconds']} s; ratio {imp['ratio_to_bound']} (goal <= 1.15)"
            )
            print(
                f"peak RSS {imp['peak_rss_mb']} MB (before the run {imp['rss_before_mb']} MB; goal < 300 MB)"
            )
            if imp["error"]:
                print(f"error: {imp['error']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
