"""Run some cases in this process and write their results as JSON (used by `python -m bench`).

Run: .venv/bin/python -m bench.worker --cases 1,2 [--quick] [--reps 3] --out FILE
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from bench.env import django_setup


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    django_setup()
    from django.db import connection as db

    from bench.cases import CASES
    from bench.env import throwaway_database
    from bench.probe import ROUNDS, during, probe

    results: list[dict[str, Any]] = []
    with throwaway_database() as vendor:
        for case_id in args.cases.split(","):
            title, run = CASES[case_id]
            print(f"== case {case_id}: {title} ({vendor})", file=sys.stderr, flush=True)
            started = time.perf_counter()
            date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            rounds = 2 if args.quick else ROUNDS  # quick: the harness runs, not figures
            speed: dict[str, Any] = {"start": probe(rounds=rounds)}
            with during() as busy:
                try:
                    result = run(quick=args.quick, reps=args.reps)
                except Exception as exc:  # one failing case must not lose the others
                    traceback.print_exc()
                    result = {"error": f"{type(exc).__name__}: {exc}"}
            speed["during"] = busy
            speed["end"] = probe(rounds=rounds)
            result.setdefault("title", title)
            result.update(
                id=case_id,
                database=result.get("database", db.vendor),
                reps=args.reps,
                date=date,
                load=load,
                probe=speed,
                case_seconds=round(time.perf_counter() - started, 1),
            )
            results.append(result)
            # Written after every case: a failure later (or in the teardown) loses nothing.
            with open(args.out, "w") as f:
                json.dump(results, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
