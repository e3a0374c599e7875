"""The chaos run's report (docs/chaos.md): machine, seed, scenarios, faults, kills, violations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.__main__ import machine
from chaos.scenarios import SCENARIOS

__all__ = ["machine", "render_markdown"]


def render_markdown(
    result: dict[str, Any], *, line: str, machine: dict[str, Any], started_at: datetime
) -> str:
    """The report as Markdown; `line` is the figure line the run printed."""
    m = machine
    out = [
        "# Chaos run",
        "",
        "Written by `make chaos` (`python -m chaos`): scenarios against the Coupa sandbox with its "
        "fault mix on while real Celery workers are killed with SIGKILL, then recovery by the "
        "product's own mechanisms (worker restarted, stale runs failed by their heartbeat, "
        "requisitions resent by the sweep, follow-up runs), then the invariants. "
        "Repeat a run with `python -m chaos --seed N`.",
        "",
        f"**{line}**",
        "",
        f"- Date: {started_at:%Y-%m-%d %H:%M} UTC; seed {result['seed']}; "
        f"{'quick' if result['quick'] else 'full'} sizes; about {result['minutes']:g} minutes asked",
        f"- Machine: {m['platform']}, {m['cpus']} CPUs, {m['memory_gb']} GB, load average {m['load']} "
        f"at the end, Python {m['python']}",
        f"- Database: {result['database']}; broker: {result['broker']}; "
        f"workers started: {result['restarts']} (every kill is followed by a restart)",
        "- Sandbox: "
        + ", ".join(f"{n} {k}" for k, n in result.get("sizes", {}).items())
        + "; fault mix during the work (per call; lost_response and slow_create hit POSTs): "
        + ", ".join(f"{k} {v:g}" for k, v in result.get("fault_mix", {}).items()),
        "- Short limits of the run (the product's defaults are minutes): "
        + ", ".join(f"`{k}={v}`" for k, v in result.get("settings", {}).items()),
        "",
        "## Scenarios",
        "",
        "| # | scenario | seconds | faults | kills | violations | notes |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for n, o in enumerate(result["outcomes"], 1):
        notes = ", ".join(sorted(set(o.notes)))
        out.append(
            f"| {n} | {o.name} | {o.seconds:.1f} | {sum(o.faults.values())} | {o.kills} | "
            f"{len(o.violations)} | {notes} |"
        )
    out += [
        "",
        "## Faults injected, by kind (the sandbox's statistics)",
        "",
        "| kind | count |",
        "|---|---:|",
    ]
    for kind, count in sorted(result["faults"].items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"| {kind} | {count} |")
    by_kind: dict[str, int] = {}
    for o in result["outcomes"]:
        by_kind[o.name] = by_kind.get(o.name, 0) + o.kills
    out += ["", "## Kills, by the work under way", "", "| scenario | kills |", "|---|---:|"]
    out += [f"| {name} | {kills} |" for name, kills in by_kind.items()]
    picks = result.get("picks", {})
    if picks:
        out += [
            "",
            "The worker killed was the one "
            + ", ".join(
                f"{reason} ({n})" for reason, n in sorted(picks.items(), key=lambda kv: -kv[1])
            )
            + ": with an open connection to the sandbox, else the one using the most CPU.",
        ]
    out += ["", "## Invariant violations", ""]
    violations = [(n, v) for n, o in enumerate(result["outcomes"], 1) for v in o.violations]
    if not violations:
        out.append("None.")
    out += [f"- scenario {n}: {v}" for n, v in violations]
    out += ["", "## The scenarios", ""]
    for name, scenario in SCENARIOS.items():
        out.append(f"- **{name}**: {' '.join((scenario.__doc__ or '').split())}")
    out += [
        "",
        "## What is checked after every scenario",
        "",
        "- Imported accounts (per selected chart), vendors and items equal the sandbox's active "
        "sets: none missing, none extra, no Coupa id twice.",
        "- Show to Users choices an admin made before the sync are unchanged.",
        "- Every submitted request has exactly one PR in the sandbox, the one the product "
        "recorded, with the status it was sent for (draft, or submitted for approval).",
        "- Each PR's status and purchase orders in the product equal the sandbox's.",
        "- No request is lost or stuck: its PR is created, or it failed with an error an admin sees.",
        "- Every sync run and validation ended in a recorded state (a failed one says why).",
        "",
        "Admins are alerted when a killed worker's run fails: that is by design, not a violation.",
        "",
    ]
    return "\n".join(out)
