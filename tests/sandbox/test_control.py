"""Control API: mutations bump updated-at, stats, reset, state file, the HTML page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from coupa.sandbox.testing import SandboxHandle, running_sandbox


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_rename_deactivate_reactivate_bump_updated_at(
    fresh_sandbox: SandboxHandle, make_api: Any
) -> None:
    """Mutations change the record and move updated-at past every generated timestamp."""
    api = make_api(fresh_sandbox)
    before = api.ok("/api/suppliers/3")
    newest = max(_stamp(s["updated-at"]) for s in api.walk("suppliers"))
    fresh_sandbox.rename("suppliers", 3, "Renamed Supplier Ltd.")
    fresh_sandbox.deactivate("suppliers", 3)
    after = api.ok("/api/suppliers/3")
    assert after["name"] == "Renamed Supplier Ltd."
    assert after["status"] == "inactive"
    assert _stamp(after["updated-at"]) > newest >= _stamp(before["updated-at"])
    assert 3 not in fresh_sandbox.ids("suppliers", active_only=True)
    changed = api.walk(
        "suppliers", {"updated-at[gt]": datetime.fromtimestamp(newest).astimezone().isoformat()}
    )
    assert [s["id"] for s in changed] == [3]
    fresh_sandbox.reactivate("suppliers", 3)
    assert api.ok("/api/suppliers/3")["status"] == "active"
    fresh_sandbox.deactivate("items", 1, 2)
    assert {i["id"] for i in api.walk("items", {"active": "false"})} >= {1, 2}


def test_renamed_chart_shows_in_nested_account_type(
    fresh_sandbox: SandboxHandle, make_api: Any
) -> None:
    """Nested snapshots follow changes of the referenced record (no stale cache)."""
    api = make_api(fresh_sandbox)
    assert api.ok("/api/accounts/1")["account-type"]["id"] == 1
    fresh_sandbox.rename("account_types", 1, "Renamed Chart")
    assert api.ok("/api/accounts/1")["account-type"]["name"] == "Renamed Chart"
    assert (
        api.ok("/api/accounts", {"account-type[name]": "Renamed Chart", "limit": 1})[0][
            "account-type"
        ]["name"]
        == "Renamed Chart"
    )


def test_add_records_and_move_accounts(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """add creates records with new ids; move_accounts attaches accounts to another chart."""
    api = make_api(fresh_sandbox)
    total = fresh_sandbox.count("items")
    new_ids = fresh_sandbox.add("items", 5)
    assert len(new_ids) == 5
    assert fresh_sandbox.count("items") == total + 5
    assert [i["id"] for i in api.walk("items")][-5:] == new_ids
    accounts = fresh_sandbox.add("accounts", 3, account_type_id=2)
    codes = {a["code"] for a in api.walk("accounts", {"account-type[id]": "2"})}
    for acc_id in accounts:
        acc = api.ok(f"/api/accounts/{acc_id}")
        assert acc["account-type"]["id"] == 2
        assert acc["code"] == "-".join(acc[f"segment-{i}"] for i in range(1, 5))
        assert acc["code"] in codes
    fresh_sandbox.move_accounts(3, accounts[0], 1)
    assert api.ok(f"/api/accounts/{accounts[0]}")["account-type"]["id"] == 3
    assert api.ok("/api/accounts/1")["account-type"]["id"] == 3


def test_records_lists_every_record_as_the_api_renders_it(fresh_sandbox: SandboxHandle) -> None:
    """records() is record() for every id, in id order; active_only gives the active set."""
    fresh_sandbox.deactivate("suppliers", 2)
    every = fresh_sandbox.records("suppliers")
    active = fresh_sandbox.records("suppliers", active_only=True)
    assert [r["id"] for r in every] == fresh_sandbox.ids("suppliers")
    assert [r["id"] for r in active] == fresh_sandbox.ids("suppliers", active_only=True)
    assert 2 in {r["id"] for r in every} - {r["id"] for r in active}
    assert every[4] == fresh_sandbox.record("suppliers", every[4]["id"])
    with pytest.raises(RuntimeError, match="404"):
        fresh_sandbox.records("planets")


def test_update_and_bad_mutations(fresh_sandbox: SandboxHandle) -> None:
    """update sets fields; unknown operations, fields and ids are refused with 400."""
    fresh_sandbox.mutate(
        {"op": "update", "resource": "users", "id": 2, "set": {"firstname": "Zed"}}
    )
    assert fresh_sandbox.record("users", 2)["firstname"] == "Zed"
    for bad in (
        {"op": "explode", "resource": "items", "id": 1},
        {"op": "update", "resource": "items", "id": 1, "set": {"nope": 1}},
        {"op": "rename", "resource": "items", "id": 10**9},
        {"op": "add", "resource": "currencies"},
        {"op": "rename", "resource": "nothing", "id": 1},
    ):
        resp = httpx.post(f"{fresh_sandbox.base_url}/_sandbox/mutate", json=bad)
        assert resp.status_code == 400, bad


def test_stats_count_by_endpoint_status_and_client(
    fresh_sandbox: SandboxHandle, make_api: Any
) -> None:
    """Stats count requests by endpoint, status and client, and keep recent requests."""
    fresh_sandbox.reset_stats()
    api = make_api(fresh_sandbox)
    api.get("/api/items")
    api.get("/api/items/1")
    api.get("/api/items/99999999")
    api.get("/api/items", {"nope": 1})
    stats = fresh_sandbox.stats()
    assert stats["total"] == 5  # the token request too
    assert stats["by_endpoint"]["GET /api/items"] == 2
    assert stats["by_endpoint"]["GET /api/items/{id}"] == 2
    assert stats["by_endpoint"]["POST /oauth2/token"] == 1
    assert stats["by_status"] == {"200": 3, "404": 1, "400": 1}
    assert stats["by_client"][fresh_sandbox.client_id] == 4
    assert [r["status"] for r in stats["recent"]][-2:] == [404, 400]
    assert stats["accept_not_json"] == 0


def test_reset_restores_data_and_scopes(fresh_sandbox: SandboxHandle) -> None:
    """reset regenerates the data from the seed and restores scopes."""
    before = fresh_sandbox.record("items", 4)
    fresh_sandbox.rename("items", 4, "Changed")
    fresh_sandbox.add("items", 2)
    fresh_sandbox.remove_scope(fresh_sandbox.client_id, "core.catalog.read")
    fresh_sandbox.reset()
    assert fresh_sandbox.record("items", 4) == before
    assert fresh_sandbox.count("items") == 150
    assert "core.catalog.read" in fresh_sandbox.scopes(fresh_sandbox.client_id)


def test_same_seed_same_data(fresh_sandbox: SandboxHandle) -> None:
    """Two instances with the same seed, sizes and anchor serve identical records."""
    with running_sandbox(
        seed=7, anchor_date="2025-06-30", rate=0, accounts=120, suppliers=80, items=150
    ) as other:
        for resource, rec_id in (("accounts", 17), ("suppliers", 5), ("items", 99), ("users", 9)):
            assert other.record(resource, rec_id) == fresh_sandbox.record(resource, rec_id)


def test_state_file_round_trip(tmp_path: Path) -> None:
    """Mutations survive a restart with the same --state-file."""
    state = tmp_path / "state.json"
    opts = {"state_file": str(state), "accounts": 30, "suppliers": 20, "items": 40, "users": 5}
    with running_sandbox(**opts) as sb:
        sb.rename("suppliers", 2, "Persisted Supplier")
        new_ids = sb.add("items", 3)
        sb.remove_scope(sb.client_id, "core.user.read")
    assert state.exists()
    with running_sandbox(**opts) as sb:
        assert sb.record("suppliers", 2)["name"] == "Persisted Supplier"
        assert sb.ids("items")[-3:] == new_ids
        assert "core.user.read" not in sb.scopes(sb.client_id)


def test_html_page_shows_counts_requests_and_faults(
    fresh_sandbox: SandboxHandle, make_api: Any
) -> None:
    """GET / is an HTML page with data counts, recent requests and faults."""
    make_api(fresh_sandbox).get("/api/uoms")
    fresh_sandbox.set_faults(error_503=0.01)
    page = httpx.get(f"{fresh_sandbox.base_url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/items" in page.text
    assert "/api/uoms" in page.text
    assert "error_503" in page.text
