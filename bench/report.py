"""Write `make bench`'s results: the JSON, the Markdown report and the PNG charts.

Pure functions of the results dict (see `bench.__main__`), so they run on canned data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.probe import probe_line

ISSUE_ORDER = ["1", "2", "4", "6", "3", "5", "7"]


def fmt(value: Any) -> str:
    """A number for a table: thousands separated, about three significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    v = float(value)
    if v == int(v) and abs(v) >= 100:
        return f"{int(v):,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def _spread(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("spread") is None:
        return "-"
    return f"{summary['spread'] * 100:.0f}% (n={summary['n']})"


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write the results to `path` (directories created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def _goal_line(g: dict[str, Any]) -> str:
    if g["met"] is None:
        verdict = "not measured"
    elif g["met"]:
        verdict = "met"
    else:
        verdict = f"MISSED ({fmt(g['value'])} vs {fmt(g['target'])}, {fmt(g['by'])} x the target)"
    return f"{g['text']}: {fmt(g['value'])} (target {'<=' if g['at_most'] else '>='} {fmt(g['target'])}) {verdict}"


def _case_key(case: dict[str, Any]) -> tuple[int, str]:
    cid = str(case.get("id"))
    return (ISSUE_ORDER.index(cid) if cid in ISSUE_ORDER else 99, str(case.get("database", "")))


def render_markdown(results: dict[str, Any], charts: dict[str, str] | None = None) -> str:
    """The report: machine, date, sizes, each figure beside the baseline's and their ratio."""
    charts = charts or {}
    m = results.get("machine", {})
    lines = ["# Benchmarks", ""]
    if results.get("quick"):
        lines += [
            "> **Quick run** (`make bench-quick`, tiny sizes): these figures show that the harness",
            "> runs; they are not the figures the goals are about. `make bench` writes the full ones.",
            "> Its case 3 workers run beside the others, so every figure shares the machine.",
            "",
        ]
    dates = sorted(c["date"] for c in results.get("cases", []) if c.get("date"))
    started = str(results.get("date", "?"))
    when = (
        f"with cases run from {dates[0]} to {dates[-1]} (each case says when)"
        if dates and dates[0] < started  # cases kept from an earlier run (--merge)
        else f"on {started} in {fmt(results.get('seconds'))} s"
    )
    lines += [
        f"Produced by `{results.get('command', 'make bench')}` {when}, "
        f"{results.get('reps', '?')} alternating runs of each side.",
        "",
        f"- Machine: {m.get('platform', '?')}, {m.get('cpus', '?')} CPUs, {fmt(m.get('memory_gb'))} GB RAM, "
        f"load average {m.get('load', '?')} at the start; Python {m.get('python', '?')}.",
        f"- Databases: {', '.join(results.get('databases', [])) or '?'}; Redis: {m.get('redis', 'no')}.",
        "- Each figure: the median of the runs, its spread ((max - min) / median), the naive "
        "baseline's median beside it (one page at a time with offset paging, one ORM save per "
        "record, one status call and one PO lookup per PR; `bench/baselines.py`) and ours / baseline.",
        "- Each case times a fixed workload in Python and in the database at its start and end, "
        "and the Python one every 10 s while it runs, from a process of its own "
        "(`bench/probe.py`): where those differ between cases or reports, the machine's speed "
        "moved, not only the code.",
        "",
        "## Goals",
        "",
        "| Case | Goal | Value | Target | Verdict |",
        "|---|---|---|---|---|",
    ]
    cases = sorted(results.get("cases", []), key=_case_key)
    vendors = [c.get("database") for c in cases if c.get("database")]
    main_db = max(set(vendors), key=vendors.count) if vendors else None
    for case in cases:
        label = str(case["id"])
        if case.get("database") and case.get("database") != main_db:
            label += f" [{case['database']}]"
        for g in case.get("goals", []):
            verdict = (
                "not measured"
                if g["met"] is None
                else "met"
                if g["met"]
                else f"missed ({fmt(g['by'])} x)"
            )
            lines.append(
                f"| {label} | {g['text']} | {fmt(g['value'])} | "
                f"{'<=' if g['at_most'] else '>='} {fmt(g['target'])} | {verdict} |"
            )
    missing = [c for c in ISSUE_ORDER if c not in {str(case.get("id")) for case in cases}]
    if missing:
        lines += ["", f"Not measured in this report: case {', '.join(missing)}."]
    lines.append("")
    for case in cases:
        title = case.get("title", "")
        db = case.get("database")
        lines += [
            f"## Case {case['id']}: {title}" + (f" [{db}]" if db and db not in title else ""),
            "",
        ]
        if case.get("not_built"):
            lines += ["Not built yet: the harness lists the case and reports it as missing.", ""]
            continue
        if case.get("error"):
            lines += [f"The case failed: `{case['error']}`", ""]
            continue
        lines.append(
            f"Sizes: {json.dumps(case.get('sizes', {}))}. Options: {json.dumps(case.get('options', {}))}."
        )
        lines.append(
            f"Runs: {case.get('reps')} per side; the case took {fmt(case.get('case_seconds'))} s"
            + (
                f", started {case['date']} (load average {case.get('load', '?')})."
                if case.get("date")
                else "."
            )
        )
        speed = probe_line(**case.get("probe", {}))
        if speed:
            lines.append(speed)
        lines += [
            "",
            "| Figure | Ours | Spread | Baseline | Spread | Ours / baseline |",
            "|---|---|---|---|---|---|",
        ]
        for metric in case.get("metrics", []):
            unit = f" ({metric['unit']})" if metric.get("unit") else ""
            ours, base = metric["ours"], metric.get("baseline")
            lines.append(
                f"| {metric['name']}{unit} | {fmt(ours['median'])} | {_spread(ours)} | "
                f"{fmt(base['median']) if base else '-'} | {_spread(base)} | {fmt(metric.get('ratio'))} |"
            )
        lines.append("")
        for g in case.get("goals", []):
            lines.append(f"- Goal: {_goal_line(g)}")
        for note in case.get("notes", []):
            lines.append(f"- {note}")
        for key in sorted(charts):
            if key.startswith(f"{case['id']}:"):
                lines += ["", f"![{key.split(':', 1)[1]}]({charts[key]})"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_charts(results: dict[str, Any], directory: Path, relative_to: Path) -> dict[str, str]:
    """PNG charts (matplotlib, when installed); return {"<case>:<name>": relative path}."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    prefix = "quick-" if results.get("quick") else ""
    for case in results.get("cases", []):
        series = case.get("series") or {}
        if case.get("id") == "1" and series.get("throughput"):
            fig, ax = plt.subplots(figsize=(7, 4))
            for side, points in series["throughput"].items():
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, label=side)
            bound = case.get("bound_seconds")
            if bound:
                total = max((p[-1][1] for p in series["throughput"].values() if p), default=0)
                ax.plot(
                    [0, bound], [0, total], linestyle="--", color="grey", label="rate-limit bound"
                )
            ax.set_xlabel("seconds")
            ax.set_ylabel("records received")
            ax.set_title("Case 1: first import, records over time")
            ax.legend()
            name = f"{prefix}case1-throughput.png"
        elif case.get("id") == "2" and series.get("requests_per_layout"):
            layouts = list(series["requests_per_layout"])
            fig, ax = plt.subplots(figsize=(7, 4))
            width = 0.38
            for i, side in enumerate(("ours", "baseline")):
                values = [series["requests_per_layout"][lay].get(side) or 0 for lay in layouts]
                ax.bar(
                    [x + (i - 0.5) * width for x in range(len(layouts))], values, width, label=side
                )
            ax.axhline(1.25, linestyle="--", color="grey", label="goal 1.25")
            top = max(
                (v or 0) for lay in layouts for v in series["requests_per_layout"][lay].values()
            )
            ax.set_ylim(0, max(1.6, top * 1.3))
            ax.set_xticks(range(len(layouts)), layouts)
            ax.set_ylabel("requests / minimal pages")
            ax.set_title("Case 2: requests per id layout")
            ax.legend(loc="upper center", ncol=3)
            name = f"{prefix}case2-requests-per-layout.png"
        elif case.get("id") == "7" and series.get("latency_ms"):
            fig, ax = plt.subplots(figsize=(7, 4))
            for label, values in series["latency_ms"].items():
                ax.hist(values, bins=40, alpha=0.6, label=label)
            ax.set_xlabel("ms")
            ax.set_ylabel("requests")
            ax.set_title("Case 7: latency while a sync runs")
            ax.legend()
            name = f"{prefix}case7-latency.png"
        else:
            continue
        fig.tight_layout()
        path = directory / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        out[f"{case['id']}:{name[:-4]}"] = os.path.relpath(path, relative_to)
    return out
