"""Benchmark the Coupa sandbox against its goals (docs/sandbox.md, "Goals and figures").

(a) pages of 50 records per second from one keep-alive client walking keyset
    pages over items, latency 0, no rate limit (goal: >= 500 pages/s), on a
    fresh instance (first walk renders every record; the server prefetches the
    next page while the client parses), again with `--no-prefetch`, and with
    `--warm-cache`; each pass also reports the server's CPU time per page
    (Linux), which unlike pages/s hardly depends on what else the host runs;
(b) generation time and peak RSS of `--accounts 20000 --suppliers 50000
    --items 200000` (goal: < 30 s and < 1 GB).

Run: .venv/bin/python bench/sandbox_bench.py [--items N] [--passes N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coupa.sandbox.testing import running_sandbox  # noqa: E402

GEN_SCRIPT = """
import json, resource, time
from coupa.sandbox.resources import Registry
from coupa.sandbox.store import Store
t = time.perf_counter()
store = Store(registry=Registry.build(), seed=42, anchor=1750000000,
              sizes={"accounts": 20000, "suppliers": 50000, "items": 200000})
store.generate()
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "records": sum(c["total"] for c in store.counts().values())}))
"""


def bench_generation() -> dict[str, float]:
    """Generate the large data set in a fresh interpreter; return time and peak RSS."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", GEN_SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def walk(http: httpx.Client, parse: bool) -> tuple[int, int, float]:
    """Walk every item by keyset paging; return (pages, records, seconds)."""
    pages = records = 0
    last = 0
    started = time.perf_counter()
    while True:
        resp = http.get("/api/items", params={"id[gt]": last, "order_by": "id", "limit": 50})
        resp.raise_for_status()
        pages += 1
        if parse:
            page = resp.json()
            n = len(page)
            if n:
                last = page[-1]["id"]
        else:
            # Without parsing: ids are consecutive in the generated set.
            n = resp.content.count(b'"item-number"')
            last += n
        records += n
        if n < 50:
            return pages, records, time.perf_counter() - started


def server_cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds of a process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_paging(
    items: int, passes: int, warm: bool = False, prefetch: bool = True
) -> list[dict[str, Any]]:
    """Start a sandbox with `items` items and no limit; walk it `passes` times."""
    results: list[dict[str, Any]] = []
    flags = () if prefetch else ("--no-prefetch",)
    with running_sandbox(*flags, items=items, rate=0, latency_ms=0, warm_cache=warm) as sb:
        pid = sb.process.pid if sb.process is not None else 0
        token = httpx.post(
            sb.token_url, data={"client_id": sb.client_id, "client_secret": sb.client_secret}
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
        with httpx.Client(base_url=sb.base_url, headers=headers, timeout=30) as http:
            for i in range(passes):
                cpu_before = server_cpu_seconds(pid)
                pages, records, seconds = walk(http, parse=True)
                cpu_after = server_cpu_seconds(pid)
                label = "warm (cached JSON)" if i or warm else "cold (first render)"
                if warm:
                    label += ", --warm-cache"
                if not prefetch:
                    label += ", --no-prefetch"
                results.append(
                    {
                        "pass": i + 1,
                        "label": label,
                        "pages": pages,
                        "records": records,
                        "seconds": seconds,
                        "pages_per_s": pages / seconds,
                        "server_ms_per_page": None
                        if cpu_before is None or cpu_after is None
                        else (cpu_after - cpu_before) * 1000 / pages,
                        "counts": bool(prefetch),
                    }
                )
    return results


def main() -> int:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args()
    ok = True
    if not args.skip_generation:
        gen = bench_generation()
        met = gen["seconds"] < 30 and gen["peak_rss_mb"] < 1024
        ok &= met
        print(
            f"(b) generation of {int(gen['records'])} records (accounts 20000, suppliers 50000, items 200000): "
            f"{gen['seconds']:.1f} s, peak RSS {gen['peak_rss_mb']:.0f} MB  "
            f"[goal < 30 s and < 1024 MB: {'met' if met else 'MISSED'}]"
        )
    runs = (
        bench_paging(args.items, args.passes)
        + bench_paging(args.items, 1, prefetch=False)
        + bench_paging(args.items, 1, warm=True)
    )
    for r in runs:
        met = r["pages_per_s"] >= 500
        if r["counts"]:
            ok &= met
        cpu = r["server_ms_per_page"]
        print(
            f"(a) pass {r['pass']} {r['label']}: {r['pages']} pages / {r['records']} items in {r['seconds']:.2f} s "
            f"= {r['pages_per_s']:.0f} pages/s"
            + ("" if cpu is None else f", server CPU {cpu:.2f} ms/page")
            + (f"  [goal >= 500: {'met' if met else 'MISSED'}]" if r["counts"] else "")
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
