"""The cases of `make bench` (docs/benchmarks.md). Each runs the product and the naive
baseline (bench/baselines.py) alternating, `reps` times, and returns one result dict:
id, title, sizes, options, metrics (bench.summary.metric), goals, series for the charts
and notes. Call `bench.env.django_setup()` and open a throwaway database first.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.baselines import baseline_import, baseline_pr_sync
from bench.cpu import CpuByRole
from bench.env import (
    PeakRss,
    Sampler,
    celery_worker,
    database_url,
    make_connection,
    refill,
    rss_mb,
    select_charts,
)
from bench.summary import goal, metric

BIG = ["accounts", "vendors", "items"]
PAGE = 50

#: CPU figures of a case: role -> side -> cores used in each run.
CpuRuns = dict[str, dict[str, list[float]]]


def _add_cpu(cpu: CpuRuns, side: str, used: dict[str, float], seconds: float) -> None:
    """Record one run's CPU seconds by role (CpuByRole.stop()) as cores."""
    for role, value in used.items():
        cpu.setdefault(role, {}).setdefault(side, []).append(value / seconds)


def _cpu_metrics(cpu: CpuRuns, prefix: str = "") -> list[dict[str, Any]]:
    """One figure per role, ours beside the baseline's."""
    return [
        metric(
            f"{prefix}CPU used: {role} (cores)",
            sides.get("ours", []),
            sides.get("baseline", []),
            better="same",
        )
        for role, sides in sorted(cpu.items())
    ]


CPU_NOTE = (
    "CPU used: CPU seconds each role's processes used in a run divided by the run's wall "
    "time (bench/cpu.py, from /proc), so 1.0 is one core busy; the machine's cores are "
    "in the header. Roles not named there (Redis, the shell) are left out."
)

# Sizes per case: the (full) and tiny ones for `make bench-quick`.
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "1": {
        "full": {"accounts": 5_000, "suppliers": 10_000, "items": 40_000},
        "quick": {"accounts": 150, "suppliers": 200, "items": 600},
    },
    "2": {
        "full": {"accounts": 1_000, "suppliers": 2_000, "items": 6_000},
        "quick": {"accounts": 40, "suppliers": 60, "items": 150},
    },
    "3": {
        # One save per record runs at a few hundred records/s: the baseline writes the
        # first `baseline_limit` items only (its rate is what is compared).
        "full": {"items": [50_000, 200_000], "baseline_limit": 10_000},
        "quick": {"items": [300, 1_000], "baseline_limit": None},
    },
    "4": {
        "full": {"accounts": 5_000, "suppliers": 10_000, "items": 40_000, "share": 0.01},
        "quick": {"accounts": 150, "suppliers": 200, "items": 600, "share": 0.05},
    },
    "5": {"full": {"requests": 1_000}, "quick": {"requests": 24}},
    "7": {
        # The load runs while the background import does, for at most `deadline_s`: ours
        # ends within it; the baseline's (about 6 minutes alone) is stopped at its end.
        "full": {
            "items": 200_000,
            "clients": 20,
            "cycles": 5,
            "deadline_s": 180.0,
            "think_s": (0.5, 1.5),
            "warmup_cycles": 3,
        },
        "quick": {
            "items": 300,
            "clients": 20,
            "cycles": 1,
            "deadline_s": 1.5,
            "think_s": (0.05, 0.15),
            "warmup_cycles": 1,
        },
    },
    "6": {
        "full": {"requisitions": 10_000, "ordered_share": 0.2},
        "quick": {"requisitions": 120, "ordered_share": 0.2},
    },
}
NETWORK = {"rate": 25.0, "burst": 20, "latency_ms": 150}
# Quick runs only prove the harness: a faster sandbox keeps them short.
QUICK_NETWORK = {"rate": 200.0, "burst": 20, "latency_ms": 5}
LAYOUTS: dict[str, dict[str, Any]] = {
    "dense": {"id_layout": "dense"},
    "sparse": {"id_layout": "sparse"},
    "clustered": {"id_layout": "clustered"},
    "selective": {"id_layout": "dense", "account_types": 30, "inactive_share": "items=0.95"},
}
CHARTS_IMPORTED = {"selective": 2}


def network(quick: bool) -> dict[str, Any]:
    """The sandbox's rate, burst and latency of the network-bound cases."""
    return dict(QUICK_NETWORK if quick else NETWORK)


def _sandbox(**options: Any) -> Any:
    from coupa.sandbox.testing import running_sandbox

    return running_sandbox(users=30, addresses=10, startup_timeout=600, **options)


def per_path(stats: dict[str, Any]) -> dict[str, int]:
    """Successful GETs per /api/ collection from the sandbox's statistics."""
    out: dict[str, int] = {}
    for endpoint, n in stats["by_endpoint"].items():
        method, _, path = endpoint.partition(" ")
        if method == "GET" and path.startswith("/api/"):
            name = path[len("/api/") :].split("/")[0].split("?")[0]
            out[name] = out.get(name, 0) + n
    return out


def _served(sandbox: Any) -> Callable[[], float]:
    """Records the sandbox has returned since its statistics were reset."""

    def probe() -> float:
        stats = sandbox.stats(recent=0)
        return float(sum(c["records"] for c in stats.get("by_collection", {}).values()))

    return probe


def _ours_sync(connection: Any, resources: list[str] | None, trigger: str) -> tuple[Any, float]:
    from coupa.reference.sync import sync_request
    from coupa.reference.walk import sync_run_execute
    from integrations.models import SyncRun

    run = sync_request(connection=connection, trigger=trigger, resources=resources, enqueue=False)
    started = time.perf_counter()
    done = sync_run_execute(sync_run_id=run.pk)
    elapsed = time.perf_counter() - started
    if done is None or done.state != SyncRun.State.SUCCEEDED:
        raise RuntimeError(f"sync failed: {done and done.error}")
    return done, elapsed


def _records(counts: dict[str, Any], resource: str) -> int:
    c = counts.get(resource, {})
    return int(c.get("created", 0) + c.get("updated", 0) + c.get("unchanged", 0))


def _paths() -> dict[str, str]:
    from coupa.reference.registry import RESOURCES

    return {spec.name: spec.path for spec in RESOURCES.values()}


def _alternate(reps: int, ours: Callable[[], None], baseline: Callable[[], None]) -> None:
    """Run both `reps` times, alternating which goes first."""
    for rep in range(reps):
        first, second = (ours, baseline) if rep % 2 == 0 else (baseline, ours)
        first()
        second()


# -- case 1 ------------------------------------------------------------------------------


def case_first_import(*, quick: bool, reps: int) -> dict[str, Any]:
    """First import of accounts, vendors and items at 25 rps, burst 20, 150 ms latency."""
    from integrations.models import SyncRun

    sizes = SIZES["1"]["quick" if quick else "full"]
    net = network(quick)
    rate = net["rate"]
    paths = _paths()
    sides: dict[str, dict[str, list[float]]] = {
        side: {"seconds": [], "requests": [], "throttled": [], "records": [], "pages": []}
        for side in ("ours", "baseline")
    }
    series: dict[str, list[tuple[float, float]]] = {}
    peak: list[float] = []
    with _sandbox(**net, **sizes) as sandbox:

        def measure(side: str, work: Callable[[Any], dict[str, int]]) -> None:
            conn = make_connection(sandbox, rate=rate, label=side)
            select_charts(conn)
            refill(rate, net["burst"])
            sandbox.reset_stats()
            with Sampler(_served(sandbox)) as sampler, PeakRss() as rss:
                started = time.perf_counter()
                records = work(conn)
                elapsed = time.perf_counter() - started
            stats = sandbox.stats(recent=0)
            got = per_path(stats)
            pages = sum(math.ceil(records[r] / PAGE) for r in BIG)
            row = sides[side]
            row["seconds"].append(elapsed)
            row["requests"].append(sum(got.get(paths[r], 0) for r in BIG))
            row["throttled"].append(stats["status_429"])
            row["records"].append(sum(records.values()))
            row["pages"].append(pages)
            series.setdefault(side, sampler.points)
            if side == "ours":
                peak.append(rss.peak)

        def ours(conn: Any) -> dict[str, int]:
            done, _ = _ours_sync(conn, BIG, SyncRun.Trigger.INITIAL)
            return {r: _records(done.counts, r) for r in BIG}

        def baseline(conn: Any) -> dict[str, int]:
            before = dict.fromkeys(BIG, 0)
            from coupa.reference.registry import resource_get

            baseline_import(connection=conn, resources=BIG)
            for r in BIG:
                before[r] = resource_get(r).model._default_manager.filter(connection=conn).count()
            return before

        _alternate(reps, lambda: measure("ours", ours), lambda: measure("baseline", baseline))

    pages = sides["ours"]["pages"][0]
    bound = pages / rate
    util = {s: [bound / t for t in sides[s]["seconds"]] for s in sides}
    m_util = metric("utilization (bound / wall)", util["ours"], util["baseline"], better="higher")
    return {
        "title": "First import, network bound",
        "sizes": sizes,
        "options": {**net, "concurrency": settings.COUPA_PAGE_CONCURRENCY},
        "bound_seconds": bound,
        "minimal_pages": pages,
        "metrics": [
            metric("wall time", sides["ours"]["seconds"], sides["baseline"]["seconds"], unit="s"),
            m_util,
            metric("requests", sides["ours"]["requests"], sides["baseline"]["requests"]),
            metric("429s", sides["ours"]["throttled"], sides["baseline"]["throttled"]),
            metric(
                "records", sides["ours"]["records"], sides["baseline"]["records"], better="same"
            ),
            metric("peak worker RSS", peak, unit="MB"),
        ],
        "goals": [
            goal(
                "utilization >= 0.87 (wall <= 1.15 x bound)",
                m_util["ours"]["median"],
                0.87,
                at_most=False,
            )
        ],
        "series": {"throughput": series},
        "notes": [
            f"Rate-limit bound: {pages} minimal pages / {rate:g} rps = {bound:.1f} s.",
            "Requests and 429s are counted by the sandbox; records by the database.",
            "The sync runs in the benchmark process, as a Celery worker runs the task "
            "(sync_run_execute), without a broker in between.",
        ],
    }


# -- case 2 ------------------------------------------------------------------------------


def _layout_runs(
    layout: str, sizes: dict[str, int], net: dict[str, Any], reps: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, float]]:
    """Both sides on one layout: requests / minimal pages, seconds, ours' worst share of
    the allowance (1.25 x pages + 2) per resource."""
    from coupa.reference.registry import resource_get
    from integrations.models import SyncRun

    rate = net["rate"]
    paths = _paths()
    ratios: dict[str, list[float]] = {"ours": [], "baseline": []}
    seconds: dict[str, list[float]] = {"ours": [], "baseline": []}
    worst: dict[str, float] = {}
    with _sandbox(**net, **sizes, **LAYOUTS[layout]) as sandbox:

        def measure(side: str) -> None:
            conn = make_connection(sandbox, rate=rate, label=f"{layout}-{side}")
            select_charts(conn, CHARTS_IMPORTED.get(layout))
            refill(rate, net["burst"])
            sandbox.reset_stats()
            started = time.perf_counter()
            if side == "ours":
                done, _ = _ours_sync(conn, BIG, SyncRun.Trigger.INITIAL)
                records = {r: _records(done.counts, r) for r in BIG}
            else:
                baseline_import(connection=conn, resources=BIG)
                records = {
                    r: resource_get(r).model._default_manager.filter(connection=conn).count()
                    for r in BIG
                }
            seconds[side].append(time.perf_counter() - started)
            got = per_path(sandbox.stats(recent=0))
            pages = sum(math.ceil(records[r] / PAGE) for r in BIG)
            made = sum(got.get(paths[r], 0) for r in BIG)
            ratios[side].append(made / pages if pages else 0.0)
            if side == "ours":
                for r in BIG:
                    allowed = 1.25 * math.ceil(records[r] / PAGE) + 2
                    worst[r] = max(worst.get(r, 0.0), got.get(paths[r], 0) / allowed)

        _alternate(reps, lambda: measure("ours"), lambda: measure("baseline"))
    return ratios, seconds, worst


def case_id_layouts(*, quick: bool, reps: int) -> dict[str, Any]:
    """Requests made / minimal pages on every id layout, ours and offset paging."""
    sizes = SIZES["2"]["quick" if quick else "full"]
    net = network(quick)
    metrics: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    per_layout: dict[str, dict[str, float]] = {}
    for layout in LAYOUTS:
        ratios, seconds, worst = _layout_runs(layout, sizes, net, reps)
        m = metric(f"{layout}: requests / minimal pages", ratios["ours"], ratios["baseline"])
        metrics.append(m)
        metrics.append(
            metric(f"{layout}: wall time", seconds["ours"], seconds["baseline"], unit="s")
        )
        goals.append(
            goal(
                f"{layout}: requests <= 1.25 x pages + 2 per resource (worst share of the allowance)",
                max(worst.values()) if worst else None,
                1.0,
            )
        )
        per_layout[layout] = {"ours": m["ours"]["median"], "baseline": m["baseline"]["median"]}
    return {
        "title": "Id layouts",
        "sizes": sizes,
        "options": {**net, "layouts": LAYOUTS, "charts_imported": CHARTS_IMPORTED},
        "metrics": metrics,
        "goals": goals,
        "series": {"requests_per_layout": per_layout},
        "notes": [
            "Selective: 2 of 30 charts imported, 95% of items inactive.",
            "Offset paging reads one page after another, so its request count is minimal; "
            "what it pays is wall time (see case 1).",
        ],
    }


# -- case 4 ------------------------------------------------------------------------------


def case_hourly(*, quick: bool, reps: int) -> dict[str, Any]:
    """Incremental syncs after a first import: 1% changed, and nothing changed."""
    from django.utils import timezone

    from coupa.reference.registry import resource_get
    from integrations.models import SyncRun

    cfg = SIZES["4"]["quick" if quick else "full"]
    share = cfg["share"]
    sizes = {k: v for k, v in cfg.items() if k != "share"}
    net = network(quick)
    rate = net["rate"]
    paths = _paths()
    overlap = 0.5 if quick else 2.0
    settings.COUPA_SYNC_OVERLAP = overlap
    data: dict[str, dict[str, list[float]]] = {
        kind: {"ours": [], "baseline": [], "ours_s": [], "baseline_s": []}
        for kind in ("changed", "unchanged")
    }
    worst_unchanged: list[float] = []
    changed_goal: list[float] = []
    changed_counts: list[int] = []
    with _sandbox(**net, **sizes) as sandbox:
        conns = {}
        since: dict[str, Any] = {}
        for side in ("ours", "baseline"):
            conn = make_connection(sandbox, rate=rate, label=f"hourly-{side}")
            select_charts(conn)
            since[side] = timezone.now()
            _ours_sync(conn, BIG, SyncRun.Trigger.INITIAL)
            conns[side] = conn
        time.sleep(overlap + 0.5)

        def measure(side: str, kind: str, touched: dict[str, int]) -> None:
            refill(rate, net["burst"])
            sandbox.reset_stats()
            started_at = timezone.now()
            started = time.perf_counter()
            if side == "ours":
                _ours_sync(conns[side], BIG, SyncRun.Trigger.HOURLY)
            else:
                baseline_import(
                    connection=conns[side],
                    resources=BIG,
                    since=since[side] - timedelta(seconds=overlap),
                )
            since[side] = started_at
            data[kind][f"{side}_s"].append(time.perf_counter() - started)
            got = per_path(sandbox.stats(recent=0))
            made = [got.get(paths[r], 0) for r in BIG]
            data[kind][side].append(sum(made))
            if side == "ours" and kind == "unchanged":
                worst_unchanged.append(max(made))
            if side == "ours" and kind == "changed":
                allowed = sum(math.ceil(touched[r] / PAGE) + 2 for r in BIG)
                changed_goal.append(sum(made) / allowed)

        for rep in range(reps):
            touched = {r: len(sandbox.touch(resource_get(r).path, share=share)) for r in BIG}
            changed_counts.append(sum(touched.values()))
            # The changes must be older than the overlap before the changed sync's start:
            # else the no-change sync after it reads them again through its overlap window
            # (as it should), and measures that rather than a sync with nothing to read.
            time.sleep(overlap + 0.5)
            order = ("ours", "baseline") if rep % 2 == 0 else ("baseline", "ours")
            for side in order:
                measure(side, "changed", touched)
            time.sleep(overlap + 0.5)
            for side in order:
                measure(side, "unchanged", touched)
            time.sleep(overlap + 0.5)
    return {
        "title": "Hourly sync",
        "sizes": {**sizes, "changed_share": share},
        "options": {**net, "overlap_s": overlap},
        "metrics": [
            metric(
                f"{share:.0%} changed: requests",
                data["changed"]["ours"],
                data["changed"]["baseline"],
            ),
            metric(
                f"{share:.0%} changed: wall time",
                data["changed"]["ours_s"],
                data["changed"]["baseline_s"],
                unit="s",
            ),
            metric("no change: requests", data["unchanged"]["ours"], data["unchanged"]["baseline"]),
            metric(
                "no change: wall time",
                data["unchanged"]["ours_s"],
                data["unchanged"]["baseline_s"],
                unit="s",
            ),
            metric("records changed", changed_counts, better="same"),
        ],
        "goals": [
            goal("no change: <= 2 requests per resource", max(worst_unchanged, default=None), 2),
            goal(
                "changed: requests <= sum of ceil(changed / 50) + 2 per resource (share of it)",
                max(changed_goal, default=None),
                1.0,
            ),
        ],
        "series": {},
        "notes": [
            f"{share:.0%} of accounts, suppliers and items touched (updated-at moved to now) per round.",
            f"COUPA_SYNC_OVERLAP is {overlap:g} s here: the rounds are seconds apart, not an hour, "
            "and the default 5-minute overlap would re-read every earlier round.",
            "The baseline reads `updated-at[gt_or_eq]=<its last start>` by offset and saves each record.",
        ],
    }


# -- case 6 ------------------------------------------------------------------------------


def case_pr_sync(*, quick: bool, reps: int) -> dict[str, Any]:
    """The daily PR/PO pass over N open PRs, 20% ordered, against one call per PR."""
    from django.utils import timezone

    from coupa.models import PurchaseOrder, Requisition
    from coupa.requisitions.status_sync import requisition_sync
    from spendflo.users.models import User
    from spendflo.workflows.models import PurchaseRequest, Workflow, WorkflowVersion

    cfg = SIZES["6"]["quick" if quick else "full"]
    n, share = cfg["requisitions"], cfg["ordered_share"]
    data: dict[str, dict[str, list[float]]] = {
        "requests": {"ours": [], "baseline": []},
        "seconds": {"ours": [], "baseline": []},
        "status_calls": {"ours": [], "baseline": []},
        "po_calls": {"ours": [], "baseline": []},
    }
    ordered_rows = 0
    with _sandbox(
        rate=0, latency_ms=0, requisitions=0, api_requisitions=n, api_ordered_share=share
    ) as sandbox:
        conn = make_connection(sandbox, rate=0, label="prsync")
        org = conn.organization
        user = User.objects.create(
            organization=org, email="bench@example.test", username="bench@example.test"
        )
        workflow = Workflow.objects.create(organization=org, name="Bench")
        version = WorkflowVersion.objects.create(
            workflow=workflow, number=1, state=WorkflowVersion.State.PUBLISHED
        )
        ids = sandbox.ids("requisitions")
        now = timezone.now()
        requests = PurchaseRequest.objects.bulk_create(
            [
                PurchaseRequest(
                    organization=org,
                    version=version,
                    requester=user,
                    number=i + 1,
                    title=f"Bench {i + 1}",
                    state=PurchaseRequest.State.PR_CREATED,
                    submitted_at=now,
                )
                for i in range(len(ids))
            ],
            batch_size=2000,
        )
        Requisition.objects.bulk_create(
            [
                Requisition(
                    request=request,
                    connection=conn,
                    marker=f"SF-bench-{i}",
                    state=Requisition.State.CREATED,
                    submit=True,
                    external_id=coupa_id,
                    status="pending_approval",
                )
                for i, (request, coupa_id) in enumerate(zip(requests, ids, strict=True))
            ],
            batch_size=2000,
        )

        def measure(side: str) -> None:
            nonlocal ordered_rows
            Requisition.objects.filter(connection=conn).update(status="pending_approval")
            PurchaseOrder.objects.filter(connection=conn).delete()
            sandbox.reset_stats()
            started = time.perf_counter()
            if side == "ours":
                run = requisition_sync(connection=conn, mode="daily")
                if run.error:
                    raise RuntimeError(run.error)
            else:
                baseline_pr_sync(connection=conn)
            data["seconds"][side].append(time.perf_counter() - started)
            endpoints = sandbox.stats(recent=0)["by_endpoint"]
            status = sum(v for k, v in endpoints.items() if k.startswith("GET /api/requisitions"))
            pos = sum(v for k, v in endpoints.items() if k.startswith("GET /api/purchase_orders"))
            data["status_calls"][side].append(status)
            data["po_calls"][side].append(pos)
            data["requests"][side].append(status + pos)
            ordered_rows = Requisition.objects.filter(
                connection=conn, status__in=["ordered", "partially_received", "received"]
            ).count()

        _alternate(reps, lambda: measure("ours"), lambda: measure("baseline"))
    bound_status = math.ceil(n / PAGE)
    bound_po = math.ceil(ordered_rows / PAGE)
    return {
        "title": "Daily PR/PO sync",
        "sizes": {"requisitions": n, "ordered_share": share, "ordered": ordered_rows},
        "options": {"rate": 0, "latency_ms": 0},
        "metrics": [
            metric("requests", data["requests"]["ours"], data["requests"]["baseline"]),
            metric("status calls", data["status_calls"]["ours"], data["status_calls"]["baseline"]),
            metric("PO calls", data["po_calls"]["ours"], data["po_calls"]["baseline"]),
            metric("wall time", data["seconds"]["ours"], data["seconds"]["baseline"], unit="s"),
        ],
        "goals": [
            goal(
                f"status calls <= ceil({n}/50) = {bound_status}",
                max(data["status_calls"]["ours"]),
                bound_status,
            ),
            goal(
                f"PO calls <= ceil(ordered/50) = {bound_po}",
                max(data["po_calls"]["ours"]),
                bound_po,
            ),
        ],
        "series": {},
        "notes": [
            "Sandbox unthrottled with no latency: the figure that matters is requests; at 25 rps "
            "the wall time is about requests / 25 s for both.",
        ],
    }


# -- case 3 ------------------------------------------------------------------------------


def _db_runs(
    items: int, reps: int, limit: int | None
) -> tuple[dict[str, dict[str, list[float]]], CpuRuns]:
    """Both sides importing `items` items from an unthrottled sandbox: records/s, peak
    RSS and its growth during the run; and the CPU each role used."""
    from coupa.reference.registry import resource_get
    from integrations.models import SyncRun

    out: dict[str, dict[str, list[float]]] = {
        key: {"ours": [], "baseline": []} for key in ("rps", "rss", "growth")
    }
    cpu: CpuRuns = {}
    with _sandbox(rate=0, latency_ms=0, items=items, accounts=10, suppliers=10) as sandbox:

        def measure(side: str) -> None:
            conn = make_connection(sandbox, rate=0, label=f"db-{side}")
            before = rss_mb()
            sampler = CpuByRole(me="importer (this process)").start()
            with PeakRss() as peak:
                started = time.perf_counter()
                if side == "ours":
                    done, _ = _ours_sync(conn, ["items"], SyncRun.Trigger.INITIAL)
                    n = _records(done.counts, "items")
                else:
                    baseline_import(connection=conn, resources=["items"], limit=limit)
                    n = resource_get("items").model._default_manager.filter(connection=conn).count()
                elapsed = time.perf_counter() - started
            _add_cpu(cpu, side, sampler.stop(), elapsed)
            out["rps"][side].append(n / elapsed)
            out["rss"][side].append(peak.peak)
            out["growth"][side].append(peak.peak - before)

        _alternate(reps, lambda: measure("ours"), lambda: measure("baseline"))
    return out, cpu


def case_database(*, quick: bool, reps: int) -> dict[str, Any]:
    """Write throughput and worker memory with the network out of the way."""
    from django.db import connection as db

    cfg = SIZES["3"]["quick" if quick else "full"]
    metrics: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    peaks: dict[int, float] = {}
    for items in sorted(cfg["items"]):
        runs, cpu = _db_runs(items, reps, cfg["baseline_limit"])
        speed = metric(
            f"{items} items: records/s",
            runs["rps"]["ours"],
            runs["rps"]["baseline"],
            better="higher",
        )
        metrics.append(speed)
        metrics.append(
            metric(
                f"{items} items: peak RSS", runs["rss"]["ours"], runs["rss"]["baseline"], unit="MB"
            )
        )
        metrics.append(
            metric(
                f"{items} items: RSS growth in the run",
                runs["growth"]["ours"],
                runs["growth"]["baseline"],
                unit="MB",
            )
        )
        metrics.extend(_cpu_metrics(cpu, prefix=f"{items} items: "))
        peaks[items] = max(runs["rss"]["ours"])
        if db.vendor == "postgresql":
            goals.append(
                goal(
                    f"{items} items: >= 10,000 records/s on PostgreSQL",
                    speed["ours"]["median"],
                    10_000,
                    at_most=False,
                )
            )
    smallest, largest = min(peaks), max(peaks)
    goals.append(goal(f"peak worker RSS at {largest} items < 300 MB", peaks[largest], 300))
    goals.append(
        goal(
            f"flat memory: peak at {largest} items / peak at {smallest} items",
            round(peaks[largest] / peaks[smallest], 3) if peaks[smallest] else None,
            1.25,
        )
    )
    return {
        "title": f"Database bound ({db.vendor})",
        "database": db.vendor,
        "sizes": cfg,
        "options": {"rate": 0, "latency_ms": 0},
        "metrics": metrics,
        "goals": goals,
        "series": {},
        "notes": [
            "Records/s is the whole import of items (walk, parse, write) divided by its wall time; "
            "the baseline writes at most `baseline_limit` items per run.",
            "RSS is the benchmark process's (it is the worker: the sync runs in it); the sandbox is "
            "another process. Sides alternate in one process, so a later side starts from the "
            "memory the earlier ones left.",
            CPU_NOTE,
        ],
    }


# -- case 5 ------------------------------------------------------------------------------

PR_FAULTS = {"fault_503": 0.02, "fault_reset": 0.01, "fault_lost_response": 0.02}
PR_WORKERS = 8  # the Celery worker's processes: concurrent creations
PR_DEADLINE_S = 120.0  # COUPA_PUSH_DEADLINE of the case


def _wait_settled(pks: list[int], *, deadline: float) -> int:
    """Wait until none of the requisitions is pending or sending (or `deadline` s pass);
    return how many were created."""
    from coupa.models import Requisition

    rows = Requisition.objects.filter(pk__in=pks)
    open_states = [Requisition.State.PENDING, Requisition.State.SENDING]
    until = time.monotonic() + deadline
    while rows.filter(state__in=open_states).exists() and time.monotonic() < until:
        time.sleep(0.05)
    return rows.filter(state=Requisition.State.CREATED).count()


def _pr_world(sandbox: Any, rate: float) -> tuple[Any, Any, Any, dict[str, Any]]:
    """A connection with its reference data imported, a published workflow whose form is
    completely mapped (suggestions accepted), and a requester who is a Coupa user."""
    from django.utils import timezone

    from coupa.models import CoupaUser, Uom
    from coupa.requisitions.mapping import mapping_accept_suggestions, mapping_problems
    from coupa.requisitions.payload import sample_answers
    from integrations.models import SyncRun
    from spendflo.users.models import User
    from spendflo.workflows.models import WorkflowVersion
    from spendflo.workflows.services import FieldInput, form_field_add, workflow_create

    conn = make_connection(sandbox, rate=rate, label="pr")
    select_charts(conn, 1)
    _ours_sync(conn, None, SyncRun.Trigger.INITIAL)
    org = conn.organization
    taken = User.objects.values_list("email", flat=True)
    coupa_user = (
        CoupaUser.objects.filter(connection=conn, active=True)
        .exclude(external_id=1)
        .exclude(email__in=taken)
        .order_by("external_id")
        .first()
    )
    if coupa_user is None:
        raise RuntimeError("the sandbox has no active Coupa user to request as")
    requester = User.objects.create(
        organization=org, email=coupa_user.email, username=coupa_user.email
    )
    workflow = workflow_create(organization=org, name="Bench", user=None)
    version = workflow.versions.get()
    form = [
        FieldInput("Title", type="short_text", required=True),
        FieldInput("Ship to", type="ship_to", required=True),
        FieldInput("Description", type="short_text", group="line", required=True),
        FieldInput("Quantity", type="number", group="line", required=True),
        FieldInput("Unit price", type="money", group="line", required=True),
        FieldInput("Vendor", type="vendor", group="line", required=True),
        FieldInput("Account", type="account", group="line"),
        FieldInput("Unit", type="uom", group="line"),
    ]
    for data in form:
        form_field_add(version=version, data=data, user=None)
    mapping_accept_suggestions(version=version, user=None)
    uom = version.mappings.get(target="line.uom")
    uom.default = {"id": Uom.objects.get(connection=conn, code="EA").pk}
    uom.save()
    problems = mapping_problems(version)
    if problems:
        raise RuntimeError(f"mapping incomplete: {problems}")
    version.state = WorkflowVersion.State.PUBLISHED
    version.published_at = timezone.now()
    version.document_status = WorkflowVersion.DocumentStatus.SUBMITTED
    version.save()
    return conn, version, requester, sample_answers(version, requester=requester)


def _pr_batch(
    conn: Any, version: Any, requester: Any, answers: dict[str, Any], n: int, start: int
) -> list[Any]:
    """`n` submitted requests, each with its pending requisition (as requisition_send
    records it; the creation itself is what is measured)."""
    from django.utils import timezone

    from coupa.models import Requisition
    from coupa.requisitions.push import requisition_marker
    from spendflo.workflows.models import PurchaseRequest

    requests = PurchaseRequest.objects.bulk_create(
        [
            PurchaseRequest(
                organization=conn.organization,
                version=version,
                requester=requester,
                number=start + i,
                title=f"Bench request {start + i}",
                answers=answers,
                state=PurchaseRequest.State.SENDING,
                submitted_at=timezone.now(),
            )
            for i in range(n)
        ]
    )
    return Requisition.objects.bulk_create(
        [
            Requisition(
                request=r,
                connection=conn,
                marker=requisition_marker(r),
                submit=True,
                state=Requisition.State.PENDING,
            )
            for r in requests
        ]
    )


def case_pr_creation(*, quick: bool, reps: int) -> dict[str, Any]:
    """Create N submitted requests' requisitions at the rate budget, with 5% faults."""
    from django.db import connection as db_connection

    from bench.baselines import baseline_pr_create
    from coupa.tasks import requisition_create_task

    n = SIZES["5"]["quick" if quick else "full"]["requests"]
    net = network(quick)
    rate = net["rate"]
    data: dict[str, dict[str, list[float]]] = {
        key: {"ours": [], "baseline": [], "shared": []}
        for key in ("per_s", "budget", "in_sandbox", "duplicates", "requests", "failed")
    }
    sync_share: list[float] = []
    cpu: CpuRuns = {}
    settings.COUPA_PUSH_DEADLINE = PR_DEADLINE_S
    sync_items = SIZES["1"]["quick" if quick else "full"]["items"]
    with (
        _sandbox(
            **net, accounts=40, suppliers=30, items=sync_items, fault_methods="POST", **PR_FAULTS
        ) as sandbox,
        celery_worker(
            concurrency=PR_WORKERS,
            sandboxes=[sandbox],
            env={"COUPA_PUSH_DEADLINE": str(PR_DEADLINE_S)},
        ),
    ):
        conn, version, requester, answers = _pr_world(sandbox, rate)
        counter = [1]

        def background_sync() -> Any:
            """A first import of items by another connection to the same host (it shares
            the host's rate budget), running in a thread."""
            import threading

            from integrations.models import SyncRun

            other = make_connection(sandbox, rate=rate, label="pr-sync")

            def run() -> None:
                try:
                    _ours_sync(other, ["items"], SyncRun.Trigger.INITIAL)
                finally:
                    db_connection.close()

            return threading.Thread(target=run, daemon=True)

        def measure(side: str) -> None:
            rows = _pr_batch(conn, version, requester, answers, n, counter[0])
            counter[0] += n
            sync = background_sync() if side == "shared" else None
            refill(rate, net["burst"])
            sandbox.reset_stats()
            if sync is not None:
                sync.start()
            sampler = CpuByRole(
                me="bench process (queues the tasks; the baseline posts from it)"
            ).start()
            started = time.perf_counter()
            if side != "baseline":
                # As requisition_send queues them: one task per requisition, which the
                # worker's processes take as they come.
                for r in rows:
                    requisition_create_task.delay(r.pk)
                created = _wait_settled([r.pk for r in rows], deadline=PR_DEADLINE_S + 60)
            else:
                created = baseline_pr_create(requisitions=rows)
            elapsed = time.perf_counter() - started
            _add_cpu(cpu, side, sampler.stop(), elapsed)
            markers = {r.marker for r in rows}
            titles = [str(rec.get("req-title") or "") for rec in sandbox.records("requisitions")]
            found = [t for t in titles if t.startswith("[") and t[1:].split("]", 1)[0] in markers]
            stats = sandbox.stats(recent=0)
            data["per_s"][side].append(created / elapsed)
            data["budget"][side].append(created / elapsed / rate)
            data["in_sandbox"][side].append(len({t[1:].split("]", 1)[0] for t in found}))
            data["duplicates"][side].append(
                len(found) - len({t[1:].split("]", 1)[0] for t in found})
            )
            data["requests"][side].append(stats["total"])
            data["failed"][side].append(n - created)
            if sync is not None:
                gets = sum(
                    v for k, v in stats["by_endpoint"].items() if k.startswith("GET /api/items")
                )
                sync_share.append(gets / stats["total"] if stats["total"] else 0.0)
                sync.join()

        for rep in range(reps):
            first, second = ("ours", "baseline") if rep % 2 == 0 else ("baseline", "ours")
            measure(first)
            measure(second)
            measure("shared")
    share = metric(
        "PRs/s / rate budget", data["budget"]["ours"], data["budget"]["baseline"], better="higher"
    )
    return {
        "title": "PR creation with faults",
        "sizes": {"requests": n},
        "options": {**net, **PR_FAULTS, "fault_methods": "POST", "workers": PR_WORKERS},
        "metrics": [
            metric(
                "PRs per second", data["per_s"]["ours"], data["per_s"]["baseline"], better="higher"
            ),
            share,
            metric(
                "requisitions in the sandbox",
                data["in_sandbox"]["ours"],
                data["in_sandbox"]["baseline"],
                better="same",
            ),
            metric(
                "duplicates in the sandbox",
                data["duplicates"]["ours"],
                data["duplicates"]["baseline"],
            ),
            metric("not created", data["failed"]["ours"], data["failed"]["baseline"]),
            metric("requests", data["requests"]["ours"], data["requests"]["baseline"]),
            metric(
                "with a sync running: PRs/s / rate budget",
                data["budget"]["shared"],
                better="higher",
            ),
            metric("with a sync running: the sync's share of requests", sync_share, better="same"),
            metric("with a sync running: PRs not created", data["failed"]["shared"]),
            *_cpu_metrics(cpu),
        ],
        "goals": [
            goal("PRs/s >= 0.85 of the rate budget", share["ours"]["median"], 0.85, at_most=False),
            goal(
                f"exactly {n} PRs in the sandbox per run (worst miss)",
                max(
                    abs(v - n) + d
                    for v, d in zip(
                        data["in_sandbox"]["ours"], data["duplicates"]["ours"], strict=True
                    )
                ),
                0,
            ),
        ],
        "series": {},
        "notes": [
            f"Ours: one task per requisition, queued as requisition_send queues it, taken by a "
            f"Celery worker of {PR_WORKERS} processes (threads on SQLite); the time runs from "
            "the first task queued to the last requisition settled. "
            "faults on POSTs only: 2% 503, 1% reset before handling, 2% lost responses (created, no reply).",
            "The baseline posts one requisition at a time and, on an error, posts it again "
            "(up to 3 times) without looking it up: a lost response becomes a duplicate.",
            "With a sync running: another connection to the same host imports items during "
            "the creations; both draw on the host's one rate budget (a fair split is about "
            "half each while both run).",
            CPU_NOTE,
        ],
    }


# -- case 7 ------------------------------------------------------------------------------

APP_GOALS_MS = {"list": 300.0, "toggle": 100.0, "picker": 100.0}
#: The web server runs as the image runs it: gunicorn.conf.py's settings (sync workers,
#: 4 per core + 1; WEB_CONCURRENCY sets another number, as in production).
WEB_CONFIG = "gunicorn.conf.py"


def web_workers() -> int:
    """How many workers gunicorn.conf.py gives the web server on this machine."""
    import runpy

    from bench.env import ROOT

    return int(runpy.run_path(str(ROOT / WEB_CONFIG))["workers"])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _web_server(env: dict[str, str], access_log: Path) -> tuple[Any, str]:
    """gunicorn (gunicorn.conf.py) on a free loopback port; wait for /healthz.
    Each request's method, path, status and time in the server (microseconds) go to
    `access_log`."""
    import subprocess

    import httpx

    from bench.env import ROOT

    static = tempfile.mkdtemp(prefix="bench-static-")
    env = {**env, "STATIC_ROOT": static}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = _free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(  # noqa: S603 - our own virtualenv's gunicorn
        [
            gunicorn,
            "--config",
            WEB_CONFIG,
            "spendflo.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code < 500:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the web server did not start")


def _server_times(access_log: Path, offset: int) -> dict[str, list[float]]:
    """Time in the web server (ms) of each load action logged after `offset`, by kind."""
    from bench.load import action_of

    out: dict[str, list[float]] = {"list": [], "toggle": [], "picker": [], "submit": []}
    with access_log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        method, path, _, micros = parts
        kind = action_of(method, path)
        if kind is not None:
            out[kind].append(int(micros) / 1000)
    return out


def case_app_load(*, quick: bool, reps: int) -> dict[str, Any]:
    """20 clients on the Items tab, toggles, the item picker and submissions while a first
    import runs (ours, or the baseline's) in another process."""
    import subprocess

    from django.test import Client
    from rest_framework.authtoken.models import Token

    from bench.env import ROOT
    from bench.load import Load
    from bench.summary import percentile
    from coupa.models import Item
    from spendflo.users.models import User

    cfg = SIZES["7"]["quick" if quick else "full"]
    items, clients, cycles = cfg["items"], cfg["clients"], cfg["cycles"]
    net = network(quick)
    rate = net["rate"]
    sync_sizes = SIZES["1"]["quick" if quick else "full"]
    runs: dict[str, list[list[Any]]] = {"ours": [], "baseline": []}
    background_s: dict[str, list[float]] = {"ours": [], "baseline": []}
    unfinished = {"ours": 0, "baseline": 0}
    served: dict[str, list[float]] = {"ours": [], "baseline": []}  # requests/s of a run
    in_server: dict[str, list[dict[str, list[float]]]] = {"ours": [], "baseline": []}
    cpu: CpuRuns = {}
    access_log = Path(tempfile.mkdtemp(prefix="bench-web-")) / "access.log"
    with _sandbox(rate=0, latency_ms=0, items=items, accounts=40, suppliers=30) as app_sandbox:
        conn, version, requester, answers = _pr_world(app_sandbox, 0)
        org = conn.organization
        admin = User.objects.create(
            organization=org,
            email="admin@bench.test",
            username="admin@bench.test",
            role=User.Role.ADMIN,
        )
        browser = Client()
        browser.force_login(admin)
        session = (
            settings.SESSION_COOKIE_NAME,
            browser.cookies[settings.SESSION_COOKIE_NAME].value,
        )
        token = Token.objects.create(user=requester).key
        pks = list(Item.objects.filter(connection=conn).values_list("pk", flat=True)[:500])
        body = {"version": version.pk, "title": "Load", "answers": answers}
        with _sandbox(**net, **sync_sizes) as sync_sandbox:
            env = {
                **os.environ,
                "DATABASE_URL": database_url(),
                "COUPA_ALLOWED_HOSTS": ",".join([sync_sandbox.base_url, app_sandbox.base_url]),
                "SECURE_SSL_REDIRECT": "false",
                "SESSION_COOKIE_SECURE": "false",
                "CSRF_COOKIE_SECURE": "false",
                "SECURE_HSTS_SECONDS": "0",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
            }
            # Submissions queue their PR creation; a worker creates them in the app's
            # sandbox while the load runs, as in production.
            web, url = _web_server(env, access_log)
            try:

                def measure(side: str) -> None:
                    target = make_connection(sync_sandbox, rate=rate, label=f"load-{side}")
                    select_charts(target)
                    refill(rate, net["burst"])
                    load = Load(url, session, token, pks, body, think=cfg["think_s"])
                    log_offset = access_log.stat().st_size if access_log.exists() else 0
                    sampler = CpuByRole().start()
                    started = time.perf_counter()
                    proc = subprocess.Popen(  # noqa: S603 - our interpreter and module
                        [sys.executable, "-m", "bench.background", side, str(target.pk)],
                        cwd=ROOT,
                        env=env,
                    )
                    print(
                        f"case 7: {side}: load while the import runs", file=sys.stderr, flush=True
                    )
                    load.run(
                        clients,
                        cycles,
                        until=lambda: proc.poll() is not None,
                        deadline=cfg["deadline_s"],
                    )
                    seconds = time.perf_counter() - started
                    _add_cpu(cpu, side, sampler.stop(), seconds)
                    served[side].append(len(load.samples) / seconds)
                    in_server[side].append(_server_times(access_log, log_offset))
                    if proc.poll() is None:  # past the deadline: the load window is over
                        proc.terminate()
                        proc.wait(timeout=30)
                        unfinished[side] += 1
                    elif proc.returncode != 0:
                        raise RuntimeError(f"the background import ({side}) failed")
                    else:
                        background_s[side].append(seconds)
                    print(
                        f"case 7: {side}: {len(load.samples)} requests in {seconds:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    runs[side].append(load.samples)

                with celery_worker(concurrency=2, sandboxes=[app_sandbox]):
                    # Unmeasured, before either side: every web worker's first requests
                    # (URLs, templates, its database connection, cold caches) would
                    # otherwise all fall in the first side's run.
                    warm = Load(url, session, token, pks, body)
                    warm.run(clients, cfg["warmup_cycles"], until=lambda: True, deadline=0)
                    _alternate(reps, lambda: measure("ours"), lambda: measure("baseline"))
            finally:
                web.terminate()
                web.wait(timeout=30)
    metrics: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    latency: dict[str, list[float]] = {}
    for kind in ("list", "toggle", "picker", "submit"):
        for q, label in ((0.5, "p50"), (0.95, "p95")):
            # One percentile per run; the figure is their median, the spread across runs.
            values = {
                s: [percentile([x.ms for x in run if x.kind == kind], q) for run in runs[s]]
                for s in runs
            }
            m = metric(f"{kind}: {label}", values["ours"], values["baseline"], unit="ms")
            metrics.append(m)
            if label == "p95" and kind in APP_GOALS_MS:
                goals.append(
                    goal(
                        f"{kind}: p95 < {APP_GOALS_MS[kind]:g} ms",
                        m["ours"]["median"],
                        APP_GOALS_MS[kind],
                    )
                )
        latency[kind] = [x.ms for run in runs["ours"] for x in run if x.kind == kind]
    for kind in ("list", "toggle", "picker", "submit"):
        for q, label in ((0.5, "p50"), (0.95, "p95")):
            values = {
                s: [percentile(run[kind], q) for run in in_server[s] if run[kind]]
                for s in in_server
            }
            metrics.append(
                metric(
                    f"{kind}: {label} in the web server",
                    values["ours"],
                    values["baseline"],
                    unit="ms",
                )
            )
    errors = {s: [sum(1 for x in run if not x.ok) for run in runs[s]] for s in runs}
    metrics.append(metric("errors", errors["ours"], errors["baseline"]))
    metrics.append(
        metric(
            "requests made",
            [len(r) for r in runs["ours"]],
            [len(r) for r in runs["baseline"]],
            better="same",
        )
    )
    metrics.append(metric("requests/s served", served["ours"], served["baseline"], better="same"))
    metrics.append(
        metric(
            "background import under load", background_s["ours"], background_s["baseline"], unit="s"
        )
    )
    metrics.append(
        metric(
            "imports stopped at the deadline",
            [unfinished["ours"]],
            [unfinished["baseline"]],
            better="same",
        )
    )
    metrics.extend(_cpu_metrics(cpu))
    errors_total = {s: sum(v) for s, v in errors.items()}
    goals.insert(0, goal("0 errors", errors_total["ours"], 0))
    return {
        "title": "App under load while syncing",
        "sizes": {"items_in_app": items, "clients": clients, "background_import": sync_sizes},
        "options": {
            **net,
            "web": f"gunicorn ({WEB_CONFIG}), {web_workers()} sync workers",
            "think_s": list(cfg["think_s"]),
        },
        "metrics": metrics,
        "goals": goals,
        "series": {"latency_ms": latency},
        "notes": [
            "Half the clients are admins (Items tab with a search, Show to Users toggles), half "
            "requesters (item picker search, a request submitted through the API), each "
            f"pausing {cfg['think_s'][0]:g}-{cfg['think_s'][1]:g} s between actions as a "
            "person does; they run until the background import ends (at most "
            f"{cfg['deadline_s']:g} s, then it is stopped). Each percentile is taken per run; "
            "the figure is the median of the runs, the chart pools ours.",
            "Before the first run the clients go through their actions unmeasured "
            f"({cfg['warmup_cycles']} x each) with no import running, so that no run holds the web "
            "workers' first requests (loading URLs and templates, opening a database "
            "connection).",
            "Submitted requests queue their PR creation; a Celery worker (2 processes) creates "
            "them in the app's own unthrottled sandbox during the case.",
            "The goals are about PostgreSQL; on SQLite writers wait for one another.",
            "In the web server: the time gunicorn logs for each action (from reading the "
            "request to the response written); the rest of a client's figure is the wait for "
            "a free worker and the loopback.",
            CPU_NOTE,
        ],
    }


CASES: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "1": ("First import, network bound", case_first_import),
    "2": ("Id layouts", case_id_layouts),
    "3": ("Database bound", case_database),
    "4": ("Hourly sync", case_hourly),
    "5": ("PR creation with faults", case_pr_creation),
    "6": ("Daily PR/PO sync", case_pr_sync),
    "7": ("App under load while syncing", case_app_load),
}
