"""The benchmark harness's arithmetic, writers and case list, on canned data (no timing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import ALL_CASES, merged, plan
from bench.cases import CASES, SIZES
from bench.env import ROOT
from bench.probe import during, probe, probe_line
from bench.report import render_markdown, write_charts, write_json
from bench.summary import goal, metric, percentile, ratio, summarize


def test_summarize_gives_median_extremes_and_relative_spread() -> None:
    s = summarize([3.0, 1.0, 2.0])
    assert (s["n"], s["median"], s["min"], s["max"]) == (3, 2.0, 1.0, 3.0)
    assert s["spread"] == 1.0  # (3 - 1) / 2
    assert summarize([4, 1, 2, 3])["median"] == 2.5


def test_summarize_of_nothing_is_empty_not_an_error() -> None:
    assert summarize([])["median"] is None
    assert summarize([0.0, 0.0])["spread"] == 0.0


def test_ratio_and_percentile() -> None:
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None
    assert percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert percentile([10, 20], 0.95) == pytest.approx(19.5)
    assert percentile([], 0.5) is None


def test_metric_puts_the_baseline_beside_ours_with_the_ratio_of_medians() -> None:
    m = metric("wall time", [10, 12, 11], [40, 44, 42], unit="s")
    assert m["ours"]["median"] == 11
    assert m["baseline"]["median"] == 42
    assert m["ratio"] == pytest.approx(11 / 42, abs=1e-4)
    assert metric("peak RSS", [90, 95, 92])["baseline"] is None


def test_goal_says_whether_it_is_met_and_by_how_much_it_is_missed() -> None:
    assert goal("<= 2 requests", 2, 2)["met"] is True
    missed = goal("utilization >= 0.87", 0.5, 0.87, at_most=False)
    assert missed["met"] is False
    assert missed["by"] == pytest.approx(0.575, abs=1e-3)
    assert goal("not run", None, 1)["met"] is None


def _results(quick: bool) -> dict[str, Any]:
    return {
        "date": "2026-12-01 10:00 UTC",
        "quick": quick,
        "reps": 3,
        "command": "make bench-quick" if quick else "make bench",
        "seconds": 123.4,
        "databases": ["postgresql"],
        "machine": {
            "platform": "Linux",
            "cpus": 2,
            "memory_gb": 8.0,
            "load": "0.1",
            "python": "3.11",
        },
        "cases": [
            {
                "id": "1",
                "title": "First import, network bound",
                "database": "postgresql",
                "reps": 3,
                "sizes": {"items": 40000},
                "options": {"rate": 25},
                "bound_seconds": 2.0,
                "metrics": [
                    metric("wall time", [50.0, 51.0, 52.0], [160.0, 170.0, 165.0], unit="s")
                ],
                "goals": [goal("utilization >= 0.87", 0.9, 0.87, at_most=False)],
                "series": {
                    "throughput": {
                        "ours": [(0.0, 0.0), (1.0, 50.0)],
                        "baseline": [(0.0, 0.0), (2.0, 50.0)],
                    }
                },
                "notes": ["A note."],
                "probe": {
                    "start": {"python_ms": 31.5, "sql_ms": 60.2},
                    "end": {"python_ms": 47.0, "sql_ms": 88.0},
                },
            },
            {"id": "7", "title": "App under load while syncing", "not_built": True},
            {"id": "2", "title": "Id layouts", "error": "RuntimeError: boom"},
        ],
    }


def test_report_shows_machine_date_sizes_and_each_figure_beside_the_baseline() -> None:
    text = render_markdown(_results(quick=False))
    assert "2026-12-01 10:00 UTC" in text
    assert "2 CPUs" in text
    assert '{"items": 40000}' in text
    assert "| wall time (s) | 51.0 | 4% (n=3) | 165 | 6% (n=3) | 0.309 |" in text
    assert "| 1 | utilization >= 0.87 | 0.9 | >= 0.87 | met |" in text
    assert "Quick run" not in text
    # Cases in the issue's order; a missing case and a failed one say so.
    assert text.index("## Case 1") < text.index("## Case 2") < text.index("## Case 7")
    assert "Not built yet" in text
    assert "RuntimeError: boom" in text
    assert "Not measured in this report: case 4, 6, 3, 5." in text
    # The machine's speed at the case's start and end, to compare runs from different times.
    assert (
        "Machine speed probe (fixed work, less is faster): Python 31.5 ms / SQL 60.2 ms at "
        "the start, Python 47 ms / SQL 88 ms at the end." in text
    )


@pytest.mark.django_db
def test_the_speed_probe_times_its_fixed_work_in_python_and_in_the_database() -> None:
    speed = probe(rounds=1)
    assert set(speed) == {"python_ms", "sql_ms"}
    assert all(ms > 0 for ms in speed.values())
    assert set(probe(rounds=1, sql=False)) == {"python_ms"}
    assert probe_line(None, None) is None
    assert probe_line({"python_ms": 30.0}, None) == (
        "Machine speed probe (fixed work, less is faster): Python 30 ms at the start."
    )
    assert probe_line(
        {"python_ms": 30.0}, {"python_ms": 29.0}, {"python_ms": [22.0, 31.5, 64.0], "readings": 9}
    ) == (
        "Machine speed probe (fixed work, less is faster): Python 30 ms at the start, "
        "Python 29 ms at the end; while the case ran, Python 22-64 ms (median 31.5, 9 readings)."
    )


def test_the_probe_also_reads_the_machine_while_a_case_runs_from_a_process_of_its_own() -> None:
    """A real child process: it takes its first reading at once and stops when the block
    ends, however long its interval (so the test waits for nothing)."""
    with during(every=3600, rounds=1) as speed:
        assert speed == {}
    assert speed["readings"] == 1
    low, mid, high = speed["python_ms"]
    assert 0 < low == mid == high


def test_a_quick_report_is_labelled_as_such() -> None:
    assert "**Quick run**" in render_markdown(_results(quick=True))


def test_merge_replaces_the_cases_run_again_and_keeps_the_rest(tmp_path: Path) -> None:
    earlier = _results(quick=False)
    earlier["cases"][0]["date"] = "2026-12-01 10:00 UTC"
    path = tmp_path / "results.json"
    write_json(earlier, path)
    again = {"id": "2", "title": "Id layouts", "database": None, "date": "2026-12-01 12:00 UTC"}
    cases = merged([again], path, quick=False)
    assert [(c["id"], c.get("error")) for c in cases] == [("1", None), ("7", None), ("2", None)]
    with pytest.raises(SystemExit, match="full run"):
        merged([again], path, quick=True)  # never quick figures beside full ones
    # The report says that its cases ran at different times, and when each did.
    text = render_markdown({**earlier, "date": "2026-12-01 12:00 UTC", "cases": cases})
    assert "with cases run from 2026-12-01 10:00 UTC to 2026-12-01 12:00 UTC" in text
    assert "started 2026-12-01 10:00 UTC" in text


def test_a_fresh_clone_merges_into_the_figures_kept_beside_the_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """var/ is not in the repository: a full run leaves its figures beside the charts
    too, and a --merge without var/bench/results.json keeps the cases found there."""
    import bench.__main__ as cli

    def run(cases: list[str], **_: Any) -> list[dict[str, Any]]:
        return [{"id": c, "title": f"case {c}", "database": None, "date": "d"} for c in cases]

    monkeypatch.setattr(cli, "run_workers", run)
    monkeypatch.setattr(cli, "write_charts", lambda *a, **k: {})
    charts = tmp_path / "docs" / "benchmarks"
    paths = ["--report", str(tmp_path / "docs" / "benchmarks.md"), "--charts", str(charts)]
    assert cli.main(["--cases", "1,2", "--json", str(tmp_path / "var" / "r.json"), *paths]) == 0
    kept = json.loads((charts / "results.json").read_text())
    assert [c["id"] for c in kept["cases"]] == ["1", "2"]
    fresh = str(tmp_path / "clone-var" / "r.json")
    assert cli.main(["--cases", "2", "--merge", "--json", fresh, *paths]) == 0
    assert [c["id"] for c in json.loads(Path(fresh).read_text())["cases"]] == ["1", "2"]
    # Quick runs neither leave a copy nor read one.
    assert cli.main(["--quick", "--cases", "7", "--merge", "--json", fresh + ".q", *paths]) == 0
    assert [c["id"] for c in json.loads(Path(fresh + ".q").read_text())["cases"]] == ["7"]
    assert [c["id"] for c in json.loads((charts / "results.json").read_text())["cases"]] == [
        "1",
        "2",
    ]


def test_json_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "results.json"
    write_json(_results(quick=True), path)
    data = json.loads(path.read_text())
    assert data["cases"][0]["metrics"][0]["baseline"]["median"] == 165.0


def test_charts_are_written_and_linked_relative_to_the_report(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    charts = write_charts(_results(quick=False), tmp_path / "charts", tmp_path)
    assert charts == {"1:case1-throughput": "charts/case1-throughput.png"}
    assert (tmp_path / "charts" / "case1-throughput.png").read_bytes()[:4] == b"\x89PNG"
    assert "![case1-throughput](charts/case1-throughput.png)" in render_markdown(
        _results(False), charts
    )


def test_bench_quick_covers_every_case_of_the_issue() -> None:
    assert sorted(ALL_CASES) == sorted(CASES) == [str(n) for n in range(1, 8)]
    assert all("quick" in SIZES[c] and "full" in SIZES[c] for c in CASES)
    # Every case runs in some worker; case 3 on PostgreSQL and on SQLite.
    runs = plan(ALL_CASES, {"DATABASE_URL": "postgres://x/y"})
    assert sorted(c for group, _ in runs for c in group) == sorted([*ALL_CASES, "3"])
    assert [env.get("DATABASE_URL") for group, env in runs if group == ["3"]] == [
        "postgres://x/y",
        None,
    ]
    # `make bench-quick` does not narrow the list.
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("bench-quick: install-dev", 1)[1].split("\n\n", 1)[0]
    assert "-m bench --quick" in recipe
    assert "--cases" not in recipe


def test_load_clients_pause_between_actions_like_people(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each action is followed by a think time drawn from `think`; none without it."""
    import threading

    import httpx

    from bench import load

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    real_client = httpx.Client
    monkeypatch.setattr(load.httpx, "Client", lambda **kw: real_client(transport=transport, **kw))
    pauses: list[float] = []
    monkeypatch.setattr(load.time, "sleep", pauses.append)
    stopped = threading.Event()
    stopped.set()
    people = load.Load("http://app.test", ("sessionid", "s"), "t", [1], {}, think=(0.5, 1.5))
    people.admin(stopped, 2, seed=1)
    people.requester(stopped, 2, seed=2)
    assert [s.kind for s in people.samples] == ["list", "toggle"] * 2 + ["picker", "submit"] * 2
    assert len(pauses) == 8 and all(0.5 <= p <= 1.5 for p in pauses)
    saturating = load.Load("http://app.test", ("sessionid", "s"), "t", [1], {})
    saturating.admin(stopped, 1, seed=1)
    assert len(pauses) == 8


def test_a_quick_run_starts_its_workers_side_by_side_each_on_its_own_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bench-quick's time: the case 3 workers run beside the shared one, never on the same
    PostgreSQL test database; a full run starts each once the one before has ended."""
    import bench.__main__ as cli

    events: list[tuple[str, Any]] = []

    class FakeProc:
        def __init__(self, cmd: list[str], cwd: Any, env: dict[str, str]) -> None:
            self.out = Path(cmd[cmd.index("--out") + 1])
            self.cases = cmd[cmd.index("--cases") + 1].split(",")
            events.append(("start", env.get("BENCH_DB_SUFFIX")))

        def wait(self) -> int:
            events.append(("wait", None))
            self.out.write_text(json.dumps([{"id": c} for c in self.cases]))
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", FakeProc)
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    results = cli.run_workers(["1", "3", "7"], quick=True, reps=3)
    assert [r["id"] for r in results] == ["1", "7", "3", "3"]  # plan order
    starts = [e for e in events if e[0] == "start"]
    assert [e[1] for e in starts] == ["w0", "w1", "w2"]
    assert events[:3] == starts  # all started before the first is waited for
    events.clear()
    cli.run_workers(["1", "3"], quick=False, reps=3)
    assert [e[0] for e in events[:4]] == ["start", "wait", "start", "wait"]
    assert {e[1] for e in events} == {None}


def test_case_7_reads_each_actions_time_in_the_web_server_from_the_access_log(
    tmp_path: Path,
) -> None:
    from bench.cases import _server_times
    from bench.load import RECORDS_PATH

    log = tmp_path / "access.log"
    log.write_text(f"GET {RECORDS_PATH} 200 1500\n")  # before the run: skipped by offset
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write(f"GET {RECORDS_PATH} 200 40000\n")
        f.write(f"POST {RECORDS_PATH}17/toggle/ 200 12000\n")
        f.write("GET /api/v1/pickers/items 200 9000\n")
        f.write("POST /api/v1/requests 201 55000\n")
        f.write("GET /healthz 200 300\n")  # not a load action
        f.write("a line gunicorn wrote about something else\n")
    assert _server_times(log, offset) == {
        "list": [40.0],
        "toggle": [12.0],
        "picker": [9.0],
        "submit": [55.0],
    }


def test_cpu_by_role_counts_this_process_as_the_load_generator() -> None:
    import sys
    import time

    from bench.cpu import CpuByRole

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    sampler = CpuByRole(interval=0.05).start()
    spent = time.process_time() + 0.1
    while time.process_time() < spent:  # CPU work, not a sleep
        pass
    used = sampler.stop()
    assert used["load generator (this process)"] > 0.05


def test_cpu_figures_are_cores_per_role_ours_beside_the_baseline() -> None:
    from bench.cases import _add_cpu, _cpu_metrics

    cpu: dict[str, dict[str, list[float]]] = {}
    _add_cpu(cpu, "ours", {"web server": 10.0, "PostgreSQL": 5.0}, 10.0)
    _add_cpu(cpu, "baseline", {"web server": 4.0}, 8.0)
    _add_cpu(cpu, "shared", {"web server": 1.0}, 1.0)  # a side no figure shows
    figures = {m["name"]: m for m in _cpu_metrics(cpu, prefix="50 items: ")}
    assert list(figures) == [
        "50 items: CPU used: PostgreSQL (cores)",
        "50 items: CPU used: web server (cores)",
    ]
    web = figures["50 items: CPU used: web server (cores)"]
    assert (web["ours"]["median"], web["baseline"]["median"], web["ratio"]) == (1.0, 0.5, 2.0)
    assert figures["50 items: CPU used: PostgreSQL (cores)"]["baseline"]["median"] is None
