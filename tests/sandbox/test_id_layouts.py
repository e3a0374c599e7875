"""Id layouts (dense, sparse, clustered), inactive shares, touching a share, collection stats."""

from __future__ import annotations

import hashlib
import itertools
import json
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from coupa.sandbox import generator
from coupa.sandbox.customfields import parse_custom_field_option
from coupa.sandbox.layouts import LAYOUT_RESOURCES, parse_inactive_shares
from coupa.sandbox.resources import Registry, parse_custom_fields
from coupa.sandbox.state import anchor_from_date
from coupa.sandbox.store import Store
from coupa.sandbox.testing import SandboxHandle, running_sandbox

from .conftest import ANCHOR_DATE, Api

ANCHOR = anchor_from_date(datetime.fromisoformat(ANCHOR_DATE).date())
SIZES = {
    "account_types": 30,
    "accounts": 600,
    "suppliers": 120,
    "items": 1500,
    "users": 80,
    "requisitions": 60,
    "api_requisitions": 20,
}
REGISTRY = Registry.build(
    parse_custom_fields("accounts:cost-center,users:office-code"),
    parse_custom_field_option("header:po-ref:string,line:project:lookup=Apollo|Zephyr"),
)
LAYOUTS = ("dense", "sparse", "clustered")
Data = dict[str, list[dict[str, Any]]]


def _generate(layout: str = "dense", **kw: Any) -> Data:
    data, _ = generator.generate(
        seed=7, anchor=ANCHOR, registry=REGISTRY, sizes=SIZES, id_layout=layout, **kw
    )
    return data


@pytest.fixture(scope="module")
def generated() -> dict[str, Data]:
    return {layout: _generate(layout) for layout in LAYOUTS}


def _ids(data: Data, resource: str) -> list[int]:
    return [r["id"] for r in data[resource]]


def _runs(ids: list[int]) -> list[list[int]]:
    """Split increasing ids into runs of consecutive ones."""
    runs: list[list[int]] = [[ids[0]]]
    for prev, cur in itertools.pairwise(ids):
        if cur == prev + 1:
            runs[-1].append(cur)
        else:
            runs.append([cur])
    return runs


# -- generated ids ---------------------------------------------------------


def test_dense_ids_run_from_one(generated: dict[str, Data]) -> None:
    """On the dense layout every resource's ids are 1..n."""
    for resource, records in generated["dense"].items():
        if resource == "countries":  # Coupa's own ids, on every layout
            continue
        assert _ids(generated["dense"], resource) == list(range(1, len(records) + 1)), resource


def test_sparse_ids_increase_with_big_gaps(generated: dict[str, Data]) -> None:
    """Sparse ids start at 1 and jump by 1 to 199,999 (about 100,000 on average)."""
    for resource in LAYOUT_RESOURCES:
        ids = _ids(generated["sparse"], resource)
        gaps = [b - a for a, b in itertools.pairwise(ids)]
        assert ids[0] == 1, resource
        assert all(1 <= g <= 199_999 for g in gaps), resource
    items = _ids(generated["sparse"], "items")
    gaps = [b - a for a, b in itertools.pairwise(items)]
    assert 80_000 < statistics.mean(gaps) < 120_000
    assert sum(g == 1 for g in gaps) < 5


def test_clustered_ids_form_runs_far_apart(generated: dict[str, Data]) -> None:
    """Clustered ids: five dense runs of uneven sizes tens of millions apart, plus lone ids."""
    ids = _ids(generated["clustered"], "items")
    assert ids[0] == 1
    assert ids == sorted(set(ids))
    runs = _runs(ids)
    big = [r for r in runs if len(r) > 1]
    assert [len(r) for r in big] == [749, 74, 447, 14, 208]
    assert [r[0] // 50_000_000 for r in big] == [0, 1, 2, 3, 4]
    lone = [r[0] for r in runs if len(r) == 1]
    assert len(lone) == 8
    assert all(not (r[0] - 1000 < x < r[-1] + 1000) for x in lone for r in big)
    charts = _ids(generated["clustered"], "account_types")
    assert charts[0] == 1
    assert charts[-1] > 100_000_000


def test_layouts_keep_the_api_user_at_id_one(generated: dict[str, Data]) -> None:
    """User 1 is the API user on every layout, and records created by the API say so."""
    for data in generated.values():
        api_user = data["users"][0]
        assert (api_user["id"], api_user["login"], api_user["api-user"]) == (
            1,
            "spendflo.integration",
            True,
        )
        assert all(r["created-by"] == 1 for r in data["items"])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_reference_resolves(generated: dict[str, Data], layout: str) -> None:
    """Every `ref` and `refs` field of every record names an existing record of its target."""
    data = generated[layout]
    ids = {resource: set(_ids(data, resource)) for resource in data}
    checked = 0
    for resource, records in data.items():
        refs = [f for f in REGISTRY.specs[resource].fields if f.kind in ("ref", "refs")]
        for rec in records:
            for f in refs:
                value = rec.get(f.name)
                if value is None:
                    continue
                assert f.target is not None
                for target_id in value if f.kind == "refs" else [value]:
                    assert target_id in ids[f.target], (resource, rec["id"], f.name, target_id)
                    checked += 1
    assert checked > 10_000


@pytest.mark.parametrize("layout", ["sparse", "clustered"])
def test_layout_changes_nothing_but_ids(generated: dict[str, Data], layout: str) -> None:
    """Mapped back to positions, the data of a layout is the dense data, key for key."""
    dense, other = generated["dense"], generated[layout]
    back = {
        resource: {rec["id"]: i + 1 for i, rec in enumerate(other[resource])}
        for resource in LAYOUT_RESOURCES
    }
    assert set(dense) == set(other)
    for resource, records in dense.items():
        fmap = REGISTRY.specs[resource].field_map()
        assert len(records) == len(other[resource])
        for want, got in zip(records, other[resource], strict=True):
            assert set(want) == set(got), (resource, want["id"])
            for key, value in got.items():
                f = fmap.get(key)  # accounts keep an undeclared created-by: the API user
                target = resource if key == "id" else f.target if f is not None else None
                if target in back and value is not None:
                    if f is not None and f.kind == "refs":
                        value = [back[target][v] for v in value]
                    else:
                        value = back[target][value]
                assert value == want[key], (resource, want["id"], key)
    assert _ids(other, "requisitions") == _ids(dense, "requisitions")
    assert _ids(other, "items") != _ids(dense, "items")


def test_dense_layout_is_unchanged() -> None:
    """The dense layout generates exactly what the generator made before layouts existed.

    The digest is of seed 7's default data; change it only with a deliberate change of
    the generated data.
    """
    data, _ = generator.generate(
        seed=7, anchor=ANCHOR, registry=Registry.build(), sizes={"api_requisitions": 30}
    )
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    assert digest == "026d2aa4433f921462b5588d8a89e7bd504c03303bafa2a64b244b0ed116f272"


def test_bad_layout_or_share_is_refused() -> None:
    """An unknown layout, a resource without an active flag or a share outside 0..1 is a
    ValueError that says what is wrong."""
    with pytest.raises(ValueError, match="id layout must be one of dense, sparse, clustered"):
        _generate("random")
    with pytest.raises(ValueError, match="'requisitions' has no active flag"):
        _generate(inactive_shares={"requisitions": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        Store(registry=REGISTRY, seed=7, anchor=ANCHOR, inactive_shares={"items": 1.5})
    with pytest.raises(ValueError, match="RESOURCE=SHARE"):
        parse_inactive_shares("items:0.5")
    with pytest.raises(ValueError, match="must be a number"):
        parse_inactive_shares("items=most")
    assert parse_inactive_shares(" items=0.95, accounts=0.5 ") == {"items": 0.95, "accounts": 0.5}


# -- charts and inactive shares --------------------------------------------


def test_accounts_spread_over_every_chart() -> None:
    """With 30 charts every chart has accounts, however few, and two charts are a small share."""
    for accounts in (40, 600):
        data, _ = generator.generate(
            seed=7,
            anchor=ANCHOR,
            registry=REGISTRY,
            sizes={"account_types": 30, "accounts": accounts, "requisitions": 0},
        )
        per_chart = [
            sum(1 for a in data["accounts"] if a["account-type"] == c["id"])
            for c in data["account_types"]
        ]
        assert min(per_chart) >= 1, accounts
        assert sum(per_chart) == accounts
        assert sum(sorted(per_chart)[-2:]) / accounts < 0.2


def test_inactive_shares_are_exact_and_change_nothing_else(generated: dict[str, Data]) -> None:
    """Each resource gets round(n * share) inactive records; nothing but the flag changes."""
    shares = {"items": 0.95, "accounts": 0.5, "suppliers": 0.3, "currencies": 0.5, "users": 1.0}
    data = _generate("sparse", inactive_shares=shares)
    plain = generated["sparse"]
    flags = {"suppliers": "status", "currencies": "enabled"}
    for resource, share in shares.items():
        flag = flags.get(resource, "active")
        inactive = [r for r in data[resource] if r[flag] in (False, "inactive")]
        n = len(data[resource])
        assert len(inactive) == (n - 1 if resource == "users" else round(n * share)), resource
    assert data["users"][0]["active"] is True  # the API user
    # Suppliers not drawn keep their status: drafts stay drafts.
    drafts = {r["id"] for r in plain["suppliers"] if r["status"] == "draft"}
    assert any(r["status"] == "draft" for r in data["suppliers"] if r["id"] in drafts)
    for resource, records in data.items():
        changed = flags.get(resource, "active") if resource in shares else None
        for got, want in zip(records, plain[resource], strict=True):
            assert {k: v for k, v in got.items() if k != changed} == {
                k: v for k, v in want.items() if k != changed
            }, resource


# -- the store: records created later, state files ---------------------------


@pytest.fixture
def sparse_store() -> Store:
    store = Store(registry=REGISTRY, seed=7, anchor=ANCHOR, sizes=SIZES, id_layout="sparse")
    store.generate()
    return store


def _resolves(store: Store, resource: str, ids: list[int]) -> None:
    spec = store.registry.specs[resource]
    for rec_id in ids:
        rec = store.collection(resource).records[rec_id]
        for f in spec.fields:
            value = rec.get(f.name)
            if f.kind == "ref" and value is not None:
                assert f.target is not None
                assert store.lookup(f.target, value) is not None, (resource, rec_id, f.name)


def _segments(rec: dict[str, Any]) -> int:
    return sum(1 for k in rec if k.startswith("segment-"))


def test_records_created_later_get_ids_above_the_highest(sparse_store: Store) -> None:
    """Records added through the control API or seeded get ids after the highest, and their
    references (manager, parent commodity, chart currency, USD) resolve."""
    store = sparse_store
    for resource in ("items", "users", "commodities", "account_types", "suppliers"):
        # Enough users and commodities that some point at new ones (manager, parent).
        count = 40 if resource in ("users", "commodities") else 5
        top = store.collection(resource).ids[-1]
        ids = store.apply({"op": "add", "resource": resource, "count": count})["ids"]
        assert ids == list(range(top + 1, top + count + 1)), resource
        _resolves(store, resource, ids)
    users = store.collection("users")
    assert all(users.records[i]["manager"] in users.records for i in users.ids[-40:])
    # A new chart's template (and currency) follows its position, as generated ones do.
    charts = store.collection("account_types")
    for position in range(len(charts) - 5, len(charts)):
        currency = store.lookup("currencies", charts.records[charts.ids[position]]["currency"])
        assert currency is not None
        assert currency["code"] == generator.chart_template(position).currency
    accounts = store.collection("accounts")
    for chart in store.collection("account_types").ids[:30]:
        # New accounts follow their chart's template: as many segments as its others.
        old = next(r for r in accounts.records.values() if r["account-type"] == chart)
        added = store.apply(
            {"op": "add", "resource": "accounts", "count": 1, "account_type_id": chart}
        )
        new = accounts.records[added["ids"][0]]
        assert _segments(new) == _segments(old), chart
        _resolves(store, "accounts", added["ids"])
    seeded = store.seed_requisitions(5, 0.5)
    _resolves(store, "requisitions", seeded["requisitions"])
    _resolves(store, "requisition_lines", seeded["requisition_lines"])
    usd = next(
        r["id"] for r in store.collection("currencies").records.values() if r["code"] == "USD"
    )
    assert {
        store.collection("requisitions").records[i]["currency"] for i in seeded["requisitions"]
    } == {usd}


def test_state_keeps_the_layout(sparse_store: Store) -> None:
    """A state file keeps the ids, layout and shares; a reset after loading regenerates them."""
    state = json.loads(json.dumps(sparse_store.to_state()))
    assert state["id_layout"] == "sparse"
    loaded = Store(registry=REGISTRY, seed=7, anchor=ANCHOR, sizes=SIZES)
    loaded.load_state(state)
    assert loaded.collection("items").ids == sparse_store.collection("items").ids
    loaded.generate()
    assert loaded.id_layout == "sparse"
    assert loaded.collection("items").ids == sparse_store.collection("items").ids


# -- over HTTP ---------------------------------------------------------------

HTTP_SIZES = {
    "account_types": 30,
    "accounts": 600,
    "suppliers": 60,
    "items": 1500,
    "users": 40,
    "requisitions": 20,
}


@pytest.fixture(scope="module", params=LAYOUTS)
def _layout_process(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    with running_sandbox(
        seed=7,
        anchor_date=ANCHOR_DATE,
        rate=0,
        id_layout=request.param,
        inactive_share="items=0.95",
        user_emails="ada@example.com,bob@example.com",
        **HTTP_SIZES,
    ) as sb:
        yield sb


@pytest.fixture
def layout_api(_layout_process: SandboxHandle) -> Iterator[Api]:
    """An API client of a sandbox with one id layout, reset to its start-up state."""
    _layout_process.reset(tokens=True)
    api = Api(_layout_process)
    yield api
    api.close()


def _layout(api: Api) -> str:
    return str(api.sb.settings()["id_layout"])


def test_walk_returns_the_layouts_ids(layout_api: Api) -> None:
    """A keyset walk returns every item, in id order, with the layout's ids."""
    sb, layout = layout_api.sb, _layout(layout_api)
    ids = [r["id"] for r in layout_api.walk("items")]
    assert ids == sb.ids("items")
    assert len(ids) == HTTP_SIZES["items"]
    assert (ids == list(range(1, len(ids) + 1))) is (layout == "dense")
    assert sb.settings()["inactive_shares"] == {"items": 0.95}
    active = layout_api.walk("items", {"active": "true"})
    assert len(active) == 75  # 5% of 1,500


def test_id_filters_over_the_layouts_ids(layout_api: Api) -> None:
    """id[gt], id[lt_or_eq] and order_by=id&dir=desc&limit=1 work across gaps and runs."""
    ids = layout_api.sb.ids("accounts")
    cut = (ids[299] + ids[300]) // 2 if ids[300] - ids[299] > 1 else ids[299]
    after = layout_api.ok("/api/accounts", {"id[gt]": str(cut), "order_by": "id", "limit": "50"})
    assert [r["id"] for r in after] == ids[300:350]
    upto = layout_api.ok(
        "/api/accounts",
        {"id[lt_or_eq]": str(cut), "order_by": "id", "dir": "desc", "limit": "3"},
    )
    assert [r["id"] for r in upto] == ids[299:296:-1]
    last = layout_api.ok("/api/accounts", {"order_by": "id", "dir": "desc", "limit": "1"})
    assert [r["id"] for r in last] == [ids[-1]]
    beyond = layout_api.ok("/api/accounts", {"id[gt]": str(ids[-1]), "order_by": "id"})
    assert beyond == []


def test_accounts_of_two_charts_by_chart_ids(layout_api: Api) -> None:
    """account-type[id][in] with two charts returns exactly their accounts, a small share."""
    sb = layout_api.sb
    charts = sb.ids("account_types")
    pair = [charts[5], charts[-1]]
    want = [a["id"] for a in sb.records("accounts") if a["account-type"]["id"] in pair]
    got = layout_api.walk("accounts", {"account-type[id][in]": ",".join(map(str, pair))})
    assert [a["id"] for a in got] == want
    assert 0 < len(want) < HTTP_SIZES["accounts"] * 0.1
    assert {a["account-type"]["id"] for a in got} == set(pair)


def test_touch_a_share_moves_updated_at(layout_api: Api) -> None:
    """Touching 1% of the items makes an updated-at window holding exactly them."""
    sb = layout_api.sb
    touched = sb.touch("items", share=0.01)
    assert len(touched) == 15
    assert set(touched) <= set(sb.ids("items"))
    since = datetime.fromtimestamp(ANCHOR, UTC).isoformat()
    changed = layout_api.walk("items", {"updated-at[gt]": since})
    assert [r["id"] for r in changed] == touched
    assert sb.touch("items", touched[0]) == [touched[0]]


def test_touch_share_out_of_range_is_a_400(layout_api: Api) -> None:
    """A share that is not a number between 0 and 1 is refused with words."""
    resp = layout_api.sb._http.post(
        "/_sandbox/mutate", json={"op": "touch", "resource": "items", "share": 2}
    )
    assert resp.status_code == 400
    assert "share must be a number between 0 and 1" in resp.json()["error"]


def test_stats_count_collection_gets_and_records(layout_api: Api) -> None:
    """by_collection counts 2xx GETs and records per collection path; reset zeroes it."""
    sb = layout_api.sb
    sb.reset_stats()
    items = layout_api.walk("items")
    layout_api.ok("/api/accounts", {"limit": "7"})
    layout_api.ok(f"/api/items/{items[3]['id']}")
    assert layout_api.get("/api/items", {"nope[gt]": "1"}).status_code == 400
    stats = sb.stats()
    assert stats["by_collection"] == {
        "/api/items": {"gets": 31, "records": 1500},
        "/api/accounts": {"gets": 1, "records": 7},
    }
    assert stats["by_endpoint"]["GET /api/items"] == 32
    # A 200 whose body was cut short is no successful GET.
    sb.set_faults(next=["truncate"])
    assert layout_api.get("/api/items", {"limit": "5"}).status_code == 200
    assert sb.stats()["by_collection"]["/api/items"] == {"gets": 31, "records": 1500}
    sb.reset_stats()
    assert sb.stats()["by_collection"] == {}


def test_demo_emails_go_to_the_second_and_third_user(layout_api: Api) -> None:
    """--user-emails names the 2nd and 3rd user by position, whatever their ids."""
    users = layout_api.walk("users")
    assert [u["email"] for u in users[1:3]] == ["ada@example.com", "bob@example.com"]
    assert users[0]["id"] == 1


def test_added_records_get_ids_above_the_highest(layout_api: Api) -> None:
    """Records added at run time get ids after the highest one, as on Coupa."""
    sb = layout_api.sb
    top = sb.ids("suppliers")[-1]
    assert sb.add("suppliers", 2) == [top + 1, top + 2]
    assert layout_api.ok(f"/api/suppliers/{top + 2}")["id"] == top + 2
