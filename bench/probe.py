"""How fast the machine is right now: a fixed workload timed at a case's start and end.

The same code on the same machine has run up to half again slower in one half hour than
in the next (docs/benchmarks.md, case 5), and a case's figures move with it. The probe
times work that never changes, in Python and in the database, so that two reports, or
the start and end of one case, can be compared for the machine's speed before they are
compared for the code's. Each figure is the median of `ROUNDS` timings, in ms; less is
faster.

A slowdown that shows only while the machine is busy escapes a probe on an idle machine, so
`during()` also times the Python work every few seconds while the case runs, in a process
of its own (a thread would share the case's interpreter lock and time that instead). Run
alone: `python -m bench.probe --every 10` prints one reading per line until its standard
input closes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

ROUNDS = 5
#: Seconds between readings while a case runs, and the rounds of each (about 70 ms of one
#: core every 10 s: under 1% of the machine).
DURING_EVERY = 10.0
DURING_ROUNDS = 3
#: Rows the SQL workload generates and aggregates (about 60 ms on PostgreSQL on a quiet 2-core machine).
SQL_ROWS = 150_000

_DOCUMENT = {
    "items": [
        {"id": i, "name": f"Item {i}", "price": i * 1.25, "tags": ["a", "b", str(i % 7)]}
        for i in range(400)
    ]
}


def _python_work() -> int:
    # Parsing and building dicts, as an import or a page does; deterministic.
    total = 0
    for _ in range(20):
        doc = json.loads(json.dumps(_DOCUMENT))
        total += sum(len(item["name"]) + len(item["tags"]) for item in doc["items"])
        total += len(sorted(doc["items"], key=lambda item: (item["id"] * 7919) % 400))
    return total


def _sql_work() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        sql = "SELECT sum(i %% 7), count(DISTINCT i %% 1000) FROM generate_series(1, %s) AS i"
    else:
        sql = (
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %s) "
            "SELECT sum(i %% 7), count(DISTINCT i %% 1000) FROM s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [SQL_ROWS])
        cursor.fetchone()


def _median_ms(work: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def probe(*, rounds: int = ROUNDS, sql: bool = True) -> dict[str, float]:
    """{"python_ms": …, "sql_ms": …} for the fixed workloads (sql_ms only with `sql`)."""
    out = {"python_ms": _median_ms(_python_work, rounds)}
    if sql:
        out["sql_ms"] = _median_ms(_sql_work, rounds)
    return out


def _readings(lines: str) -> list[float]:
    out = []
    for line in lines.splitlines():
        with contextlib.suppress(ValueError):
            out.append(float(line))
    return out


@contextlib.contextmanager
def during(every: float = DURING_EVERY, rounds: int = DURING_ROUNDS) -> Iterator[dict[str, Any]]:
    """Time the Python work every `every` seconds, from a child process, while the block
    runs; on exit the yielded dict holds {"python_ms": [min, median, max], "readings": n}.
    The first reading is taken at once, so even a short block has one."""
    summary: dict[str, Any] = {}
    cmd = [sys.executable, "-m", "bench.probe", "--every", str(every), "--rounds", str(rounds)]
    child = subprocess.Popen(  # noqa: S603 - our interpreter, our module
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield summary
    finally:
        output, _ = child.communicate()  # closing its stdin is its signal to stop
        times = _readings(output)
        if times:
            summary["python_ms"] = [min(times), round(statistics.median(times), 1), max(times)]
            summary["readings"] = len(times)


def _watch(every: float, rounds: int) -> None:
    """Print a reading, then one every `every` seconds until standard input closes."""
    while True:
        print(_median_ms(_python_work, rounds), flush=True)
        ready, _, _ = select.select([sys.stdin], [], [], every)
        if ready and not sys.stdin.read(1):  # end of input: the case is over
            return


def probe_line(
    start: dict[str, float] | None = None,
    end: dict[str, float] | None = None,
    during: dict[str, Any] | None = None,
) -> str | None:
    """The report's sentence about the probe, or None when it did not run."""
    if not start:
        return None

    def one(p: dict[str, float]) -> str:
        parts = [f"Python {p['python_ms']:g} ms"]
        if "sql_ms" in p:
            parts.append(f"SQL {p['sql_ms']:g} ms")
        return " / ".join(parts)

    text = f"Machine speed probe (fixed work, less is faster): {one(start)} at the start"
    text += f", {one(end)} at the end" if end else ""
    if during and during.get("python_ms"):
        low, mid, high = during["python_ms"]
        text += (
            f"; while the case ran, Python {low:g}-{high:g} ms (median {mid:g}, "
            f"{during['readings']} readings)"
        )
    return text + "."


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Time the probe's Python work periodically.")
    parser.add_argument("--every", type=float, default=DURING_EVERY)
    parser.add_argument("--rounds", type=int, default=DURING_ROUNDS)
    args = parser.parse_args()
    _watch(args.every, args.rounds)
