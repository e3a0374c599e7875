"""Benchmark the Coupa client's paging against the sandbox (issue 4).

Starts the sandbox at 25 requests/s (burst 20) with 150 ms latency, then walks 1,000
pages of items (50 per page) with a client set to the same rate: once with concurrent
paging, once one page at a time. Reports pages/s and the utilization of the rate budget:
requests the sandbox served / (rate x wall time). Goal: utilization >= 0.87 with
concurrency on.

Run: `.venv/bin/python bench/client_bench.py [--pages N] [--concurrency N]
[--sequential-pages N]`. Uses Redis for the shared limiter and token cache when
REDIS_URL is set, otherwise a throwaway SQLite file (migrated here).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 25.0
SANDBOX_BURST = 20
LATENCY_MS = 150
PAGE_SIZE = 50


def _setup_django(tmpdir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendflo.settings")
    os.environ.setdefault("SPENDFLO_IGNORE_DOTENV", "1")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    if not os.environ.get("FIELD_ENCRYPTION_KEY"):
        from cryptography.fernet import Fernet

        os.environ["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    if not os.environ.get("REDIS_URL") and not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.sqlite3"
    import django

    django.setup()
    if not os.environ.get("REDIS_URL"):
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def _walk(sandbox: Any, pages: int, concurrency: int, burst: int, label: str) -> dict[str, Any]:
    from coupa.client.base import CoupaClient
    from coupa.client.stats import RequestStats
    from coupa.client.types import ConnectionConfig
    from integrations.ratelimit import default_store

    config = ConnectionConfig(
        key=f"bench-{label}-{time.time_ns()}",
        base_url=sandbox.base_url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        rate=RATE,
        burst=burst,
    )
    store: Any = default_store()
    store.reset(config.host)
    sandbox.reset_stats()
    stats = RequestStats()
    # Let the sandbox's own bucket refill between runs.
    time.sleep(SANDBOX_BURST / RATE + 0.5)
    limit = pages * PAGE_SIZE
    started = time.monotonic()
    records = 0
    with CoupaClient(config, stats=stats, concurrency=concurrency) as client:
        walk = client.iter_pages("items", fields=["id", "name"], concurrent=concurrency > 1)
        got_pages = 0
        for page in walk:
            records += len(page)
            got_pages += 1
            if records >= limit:
                break
        walk.close()  # type: ignore[attr-defined]
    wall = time.monotonic() - started
    server = sandbox.stats(recent=0)
    return {
        "label": label,
        "pages": got_pages,
        "records": records,
        "wall_s": wall,
        "pages_per_s": got_pages / wall,
        "server_requests": server["total"],
        "utilization": server["total"] / (RATE * wall),
        "page_utilization": got_pages / (RATE * wall),
        "status_429": server["status_429"],
        "client": stats.as_dict(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--sequential-pages", type=int, default=None, help="default: --pages")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--client-burst",
        type=int,
        default=10,
        help="client bucket burst (default 10: headroom under the sandbox's 20, see report)",
    )
    args = parser.parse_args()
    sequential_pages = args.sequential_pages or args.pages

    with tempfile.TemporaryDirectory() as tmpdir:
        _setup_django(tmpdir)
        from coupa.sandbox.testing import running_sandbox

        items = max(args.pages, sequential_pages) * PAGE_SIZE + PAGE_SIZE
        with running_sandbox(
            items=items,
            rate=RATE,
            burst=SANDBOX_BURST,
            latency_ms=LATENCY_MS,
            startup_timeout=300,
        ) as sandbox:
            print(
                f"sandbox: {RATE:g} rps, burst {SANDBOX_BURST}, {LATENCY_MS} ms latency, "
                f"{items} items; client: {RATE:g} rps, burst {args.client_burst}"
            )
            results = [
                _walk(sandbox, args.pages, args.concurrency, args.client_burst, "concurrent"),
                _walk(sandbox, sequential_pages, 1, args.client_burst, "one-at-a-time"),
            ]
    print(
        f"{'walk':<15}{'pages':>7}{'wall s':>9}{'pages/s':>9}{'requests':>10}"
        f"{'util':>7}{'429s':>6}{'retries':>9}"
    )
    for r in results:
        print(
            f"{r['label']:<15}{r['pages']:>7}{r['wall_s']:>9.1f}{r['pages_per_s']:>9.2f}"
            f"{r['server_requests']:>10}{r['utilization']:>7.3f}{r['status_429']:>6}"
            f"{r['client']['retries']:>9}"
        )
    goal = results[0]["utilization"] >= 0.87
    print(f"goal (concurrent utilization >= 0.87): {'met' if goal else 'NOT met'}")
    return 0 if goal else 1


if __name__ == "__main__":
    raise SystemExit(main())
