"""docs/chaos.md as the run writes it: the figure line, a row per scenario, faults by kind,
kills and every violation, from canned figures (no run)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from chaos.report import render_markdown
from chaos.scenarios import Outcome

MACHINE = {
    "platform": "Linux",
    "cpus": 2,
    "memory_gb": 8.0,
    "load": "1.0, 1.0, 1.0",
    "python": "3.11",
}


def test_report_lists_scenarios_faults_kills_and_violations() -> None:
    ok = Outcome(
        "first import", seconds=12.5, kills=2, faults=Counter(reset=3), notes=["runs: 1 succeeded"]
    )
    bad = Outcome("PR creation", seconds=8.0, kills=1, faults=Counter(lost_response=2))
    bad.violations.append("Request 7 (SF-acme-7-abcd) has 2 PRs in Coupa, not one.")
    result = {
        "seed": 99, "quick": True, "minutes": 1.0, "database": "sqlite", "broker": "embedded",
        "restarts": 4, "outcomes": [ok, bad], "faults": Counter(reset=3, lost_response=2),
        "picks": {"talking to Coupa": 3},
    }  # fmt: skip
    text = render_markdown(
        result, line="chaos: 2 scenarios ...", machine=MACHINE, started_at=datetime.now(UTC)
    )
    assert "**chaos: 2 scenarios ...**" in text
    assert "| 1 | first import | 12.5 | 3 | 2 | 0 | runs: 1 succeeded |" in text
    assert "| 2 | PR creation | 8.0 | 2 | 1 | 1 |  |" in text
    assert "| reset | 3 |" in text and "| lost_response | 2 |" in text
    assert "- scenario 2: Request 7 (SF-acme-7-abcd) has 2 PRs in Coupa, not one." in text
    assert "talking to Coupa (3)" in text
    assert "None." not in text
