"""Benchmark the daily sync's lookup: `GET /api/requisitions?id[in]=<50 ids>` (docs/sandbox.md).

(c) requests per second from one keep-alive client over a sandbox with 100,000
    requisitions (all seeded API requisitions, `--api-requisitions`), latency 0, no
    rate limit (goal: >= 200 requests/s), with the daily sync's `fields` (coupa-api.md
    6.6) and without; each variant first over ids never served before (cold: every
    record rendered once), then over the same ids again (warm: cached JSON). The figure
    is the median of a few rounds. The server's and the client's CPU per request are
    printed too: unlike requests/s they hardly depend on what else the host runs, and
    with a core for each, requests/s is about 1000 / their sum (Linux);
(d) generation time and peak RSS of 100,000 requisitions, both generated
    (`--requisitions`) and seeded (`--api-requisitions`).

Run: .venv/bin/python bench/requisition_lookup_bench.py [--requisitions N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coupa.sandbox.testing import running_sandbox  # noqa: E402

#: The daily sync's projection (coupa-api.md 6.6).
SYNC_FIELDS = json.dumps(
    [
        "id",
        "status",
        "updated-at",
        {"requisition-lines": ["id", "line-num", "status", "order-line-id"]},
    ],
    separators=(",", ":"),
)
#: What a sync asks of the POs of ordered requisitions (coupa-api.md 7).
PO_FIELDS = json.dumps(
    [
        "id",
        "po-number",
        "status",
        {"requisition-header": ["id"]},
        {"order-lines": ["id", "requisition-line-id", "status"]},
    ],
    separators=(",", ":"),
)
GOAL = 200.0

GEN_SCRIPT = """
import json, resource, sys, time
from coupa.sandbox.resources import Registry
from coupa.sandbox.store import Store
sizes = json.loads(sys.argv[1])
t = time.perf_counter()
store = Store(registry=Registry.build(), seed=42, anchor=1750000000, sizes=sizes)
store.generate()
elapsed = time.perf_counter() - t
counts = store.counts()
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "requisitions": counts["requisitions"]["total"],
                  "purchase_orders": counts["purchase_orders"]["total"]}))
"""


def bench_generation(sizes: dict[str, int]) -> dict[str, float]:
    """Generate `sizes` in a fresh interpreter; return time, peak RSS and counts."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", GEN_SCRIPT, json.dumps(sizes)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def server_cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds of a process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_round(
    http: httpx.Client, path: str, batches: list[list[int]], extra: dict[str, str], encoded: bool
) -> float:
    """Ask for each batch of ids once; check the answers; return the seconds taken.

    `encoded`: send a query string encoded here, leaving `[`, `]` and `,` as they are
    (what curl or a browser sends); otherwise hand httpx a `params` dict, as the product's
    client does; httpx then spends ~0.7 ms more per request checking the escapes it made.
    """
    key = "requisition-header[id][in]" if path.endswith("purchase_orders") else "id[in]"
    started = time.perf_counter()
    for ids in batches:
        params = {key: ",".join(map(str, ids)), **extra}
        if encoded:
            resp = http.get(f"{path}?{urllib.parse.urlencode(params, safe='[],')}")
        else:
            resp = http.get(path, params=params)
        resp.raise_for_status()
        page = resp.json()
        if key == "id[in]" and len(page) != len(ids):
            raise RuntimeError(f"asked for {len(ids)} requisitions, got {len(page)}")
    return time.perf_counter() - started


def ordered_ids(http: httpx.Client) -> list[int]:
    """Return the ids of the ordered requisitions, by keyset paging (only their ids)."""
    out: list[int] = []
    while True:
        page = http.get(
            "/api/requisitions",
            params={"status": "ordered", "id[gt]": out[-1] if out else 0, "fields": '["id"]'},
        ).json()
        out += [r["id"] for r in page]
        if len(page) < 50:
            return out


def bench_lookups(requisitions: int, rounds: int, per_round: int) -> list[dict[str, Any]]:
    """Start a sandbox with `requisitions` API requisitions; time 50-id lookups."""
    results: list[dict[str, Any]] = []
    with running_sandbox(
        requisitions=0,
        api_requisitions=requisitions,
        rate=0,
        latency_ms=0,
        startup_timeout=300,
    ) as sb:
        pid = sb.process.pid if sb.process is not None else 0
        token = httpx.post(
            sb.token_url, data={"client_id": sb.client_id, "client_secret": sb.client_secret}
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
        with httpx.Client(base_url=sb.base_url, headers=headers, timeout=30) as http:
            ordered = ordered_ids(http)
        every = list(range(1, requisitions + 1))
        half = 50 * per_round * rounds  # the params-dict pass takes ids the first did not
        # (label, path, id pool, first id index, extra parameters, encoded, goal applies)
        variants: list[tuple[str, str, list[int], int, dict[str, str], bool, bool]] = [
            (
                "requisitions, daily-sync fields",
                "/api/requisitions",
                every,
                0,
                {"fields": SYNC_FIELDS},
                True,
                True,
            ),
            (
                "requisitions, daily-sync fields, httpx params",
                "/api/requisitions",
                every,
                half,
                {"fields": SYNC_FIELDS},
                False,
                False,
            ),
            ("requisitions, full records", "/api/requisitions", every, 0, {}, True, False),
            (
                "purchase_orders by requisition-header[id][in], fields",
                "/api/purchase_orders",
                ordered,
                0,
                {"fields": PO_FIELDS},
                True,
                False,
            ),
        ]
        with httpx.Client(base_url=sb.base_url, headers=headers, timeout=30) as http:
            for label, path, pool, first, extra, encoded, goal in variants:
                shuffled = list(pool)
                random.Random(1).shuffle(shuffled)
                # Disjoint ids per round: the cold pass renders each record once (the
                # fields and full variants have render caches of their own).
                size = 50 * per_round
                plan = []
                for r in range(rounds):
                    start = (first + r * size) % max(1, len(shuffled) - size + 1)
                    chunk = shuffled[start : start + size]
                    plan.append([chunk[k : k + 50] for k in range(0, len(chunk), 50)])
                for temper in ("cold", "warm"):
                    rates = []
                    cpu_before = server_cpu_seconds(pid)
                    client_before = time.process_time()
                    for batches in plan:
                        seconds = run_round(http, path, batches, extra, encoded)
                        rates.append(len(batches) / seconds)
                    cpu_after = server_cpu_seconds(pid)
                    client_ms = (time.process_time() - client_before) * 1000
                    count = sum(len(b) for b in plan)
                    results.append(
                        {
                            "label": f"{label}, {temper}",
                            "rounds": [round(r) for r in rates],
                            "median": statistics.median(rates),
                            "goal": goal,
                            "client_ms": client_ms / count,
                            "server_ms": None
                            if cpu_before is None or cpu_after is None
                            else (cpu_after - cpu_before) * 1000 / count,
                        }
                    )
    return results


def main() -> int:
    """Run the benchmarks and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requisitions", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200, help="requests per round")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script runs")
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.requisitions, args.rounds, args.per_round = 2_000, 3, 5
    ok = True
    if not args.skip_generation:
        for sizes in (
            {"requisitions": args.requisitions},
            {"requisitions": 0, "api_requisitions": args.requisitions},
        ):
            gen = bench_generation(sizes)
            print(
                f"(d) generation with {sizes}: {gen['seconds']:.1f} s, peak RSS "
                f"{gen['peak_rss_mb']:.0f} MB ({int(gen['requisitions'])} requisitions, "
                f"{int(gen['purchase_orders'])} POs)"
            )
    for r in bench_lookups(args.requisitions, args.rounds, args.per_round):
        met = r["median"] >= GOAL
        if r["goal"]:
            ok &= met
        cpu = r["server_ms"]
        print(
            f"(c) 50 ids per request over {args.requisitions} requisitions, {r['label']}: "
            f"median {r['median']:.0f} requests/s (rounds {r['rounds']})"
            + ("" if cpu is None else f", server CPU {cpu:.2f} ms/request")
            + f", client CPU {r['client_ms']:.2f} ms/request"
            + (f"  [goal >= {GOAL:.0f}: {'met' if met else 'MISSED'}]" if r["goal"] else "")
        )
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
