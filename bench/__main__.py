"""`make bench`: run every case (docs/benchmarks.md), write the JSON, the report and charts.

Cases run in worker processes (`bench.worker`) with a throwaway database each: PostgreSQL
when DATABASE_URL is set (case 3 then also runs on SQLite), else SQLite; Redis for the
rate limiter and caches when REDIS_URL is set. The workers start the sandboxes they need.

Run: .venv/bin/python -m bench [--quick] [--cases 1,2,4] [--reps 3] [--merge]
     [--json var/bench/results.json] [--report docs/benchmarks.md] [--charts docs/benchmarks]

--merge keeps the cases already in --json (else in the copy a full run leaves beside its
charts, docs/benchmarks/results.json) that this run does not repeat, so one case can be run
again (after a fix, say) without rerunning the rest; each case in the report says when it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.env import ROOT
from bench.report import render_markdown, write_charts, write_json

#: Every case of the issue, in the order they run; case 3 runs in its own process
#: (its memory figure is the worker's) once per database.
ALL_CASES = ["1", "2", "4", "6", "3", "5", "7"]
OWN_PROCESS = {"3"}


def machine() -> dict[str, Any]:
    """What the report says about the machine."""
    memory = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "platform": platform.platform(terse=True),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": memory,
        "load": load,
        "python": platform.python_version(),
        "redis": "yes" if os.environ.get("REDIS_URL") else "no",
    }


def plan(cases: list[str], env: dict[str, str]) -> list[tuple[list[str], dict[str, str]]]:
    """Worker runs: (cases, environment). Case 3 alone, on each database."""
    shared = [c for c in cases if c not in OWN_PROCESS]
    runs: list[tuple[list[str], dict[str, str]]] = []
    if shared:
        runs.append((shared, env))
    for case in cases:
        if case in OWN_PROCESS:
            runs.append(([case], env))
            if env.get("DATABASE_URL", "").startswith("postgres"):
                sqlite = {k: v for k, v in env.items() if k != "DATABASE_URL"}
                runs.append(([case], sqlite))
    return runs


def _worker_cmd(group: list[str], out: Path, *, quick: bool, reps: int) -> list[str]:
    cmd = [sys.executable, "-m", "bench.worker", "--cases", ",".join(group)]
    cmd += ["--reps", str(reps), "--out", str(out)]
    return [*cmd, "--quick"] if quick else cmd


def run_workers(cases: list[str], *, quick: bool, reps: int) -> list[dict[str, Any]]:
    """Run the plan's workers and gather their results in plan order. A full run starts
    them one after another (each has the machine to itself); a quick run starts them all
    at once, each on a database of its own (`BENCH_DB_SUFFIX`), for the time, not the
    figures."""
    groups = plan(cases, dict(os.environ))
    started: list[tuple[list[str], Path, subprocess.Popen[bytes]]] = []
    results: list[dict[str, Any]] = []
    for i, (group, env) in enumerate(groups):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            out = Path(tmp.name)
        if quick:
            env = {**env, "BENCH_DB_SUFFIX": f"w{i}"}
        proc = subprocess.Popen(_worker_cmd(group, out, quick=quick, reps=reps), cwd=ROOT, env=env)  # noqa: S603 - our interpreter
        started.append((group, out, proc))
        if not quick:
            proc.wait()
    for group, out, proc in started:
        code = proc.wait()
        try:
            results.extend(json.loads(out.read_text()))
        except (OSError, ValueError):
            results.extend({"id": c, "error": f"worker exited {code}"} for c in group)
        finally:
            out.unlink(missing_ok=True)
    return results


def merged(new: list[dict[str, Any]], path: Path, *, quick: bool) -> list[dict[str, Any]]:
    """`new` plus the cases of an earlier run at the same sizes that `new` does not repeat."""
    try:
        earlier: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return new
    if bool(earlier.get("quick")) != quick:
        raise SystemExit(
            f"--merge: {path} holds a {'quick' if earlier.get('quick') else 'full'} run"
        )
    rerun = {(c["id"], c.get("database")) for c in new}
    kept = [c for c in earlier.get("cases", []) if (c["id"], c.get("database")) not in rerun]
    return kept + new


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (make bench-quick)")
    p.add_argument("--cases", default=",".join(ALL_CASES))
    p.add_argument("--reps", type=int, default=3, help="runs of each side, alternating (>= 3)")
    p.add_argument("--json", default="var/bench/results.json")
    p.add_argument("--report", default="docs/benchmarks.md")
    p.add_argument("--charts", default="docs/benchmarks", help="directory of the PNG charts")
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the cases of --json (or of <charts>/results.json) this run does not repeat",
    )
    p.add_argument(
        "--render-only", action="store_true", help="write the report and charts from --json again"
    )
    args = p.parse_args(argv)
    if args.render_only:
        saved: dict[str, Any] = json.loads((ROOT / args.json).read_text())
        report = ROOT / args.report
        report.write_text(
            render_markdown(saved, write_charts(saved, ROOT / args.charts, report.parent))
        )
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(ALL_CASES))
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}: choose from {', '.join(ALL_CASES)}")
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "reps": args.reps,
        "command": "make bench-quick" if args.quick else "make bench",
        "machine": machine(),
    }
    results["cases"] = run_workers(cases, quick=args.quick, reps=args.reps)
    json_path = ROOT / args.json
    # A full run's figures also go beside its charts, in the repository: a later --merge
    # on a fresh clone (no var/) then keeps the cases it does not repeat.
    kept_path = ROOT / args.charts / "results.json"
    if args.merge:
        earlier = json_path if json_path.exists() or args.quick else kept_path
        results["cases"] = merged(results["cases"], earlier, quick=args.quick)
    results["databases"] = sorted({c["database"] for c in results["cases"] if c.get("database")})
    results["seconds"] = round(time.perf_counter() - started, 1)
    report_path = ROOT / args.report
    write_json(results, json_path)
    if not args.quick:
        write_json(results, kept_path)
    charts = write_charts(results, ROOT / args.charts, report_path.parent)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render_markdown(results, charts))
    failed = [c["id"] for c in results["cases"] if c.get("error")]
    print(
        f"wrote {args.json}, {args.report} and {len(charts)} chart(s)"
        f" in {results['seconds']} s" + (f"; failed: case {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
