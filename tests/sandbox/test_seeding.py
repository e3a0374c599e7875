"""Seeded API requisitions: `--api-requisitions` at start and `POST /_sandbox/seed` later.

Open requisitions created by the API user, a share of them ordered into purchase orders,
as N submissions would leave them, without N calls: what the daily sync's benchmarks need.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from coupa.sandbox.generator import API_USER_ID
from coupa.sandbox.resources import Registry
from coupa.sandbox.store import Store
from coupa.sandbox.testing import SandboxHandle, running_sandbox
from coupa.spec import SpecValidator

OPEN = {"pending_approval", "approved", "ordered"}
SIZES = {"accounts": 40, "suppliers": 30, "items": 60, "users": 12, "requisitions": 10}


@pytest.fixture(scope="module")
def seeded(make_api: Any) -> Iterator[tuple[SandboxHandle, Any]]:
    """10 generated requisitions, then 200 seeded ones of the API user, 30% ordered."""
    with running_sandbox(
        seed=5, anchor_date="2025-06-30", rate=0, api_requisitions=200, **SIZES
    ) as sb:
        api = make_api(sb)
        yield sb, api
        api.close()


def _check_links(api: Any, reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assert that the POs of `reqs` link back to them line by line; return the POs."""
    pos: list[dict[str, Any]] = []
    for start in range(0, len(reqs), 50):
        chunk = ",".join(str(r["id"]) for r in reqs[start : start + 50])
        pos += api.walk("purchase_orders", {"requisition-header[id][in]": chunk})
    by_id = {r["id"]: r for r in reqs}
    line_ids: set[int] = set()
    for po in pos:
        req = by_id[po["requisition-header"]["id"]]
        lines = {str(ln["id"]): ln for ln in req["requisition-lines"]}
        assert po["created-by"]["id"] == API_USER_ID
        assert po["po-number"] == str(po["id"])
        for pol in po["order-lines"]:
            line = lines[pol["requisition-line-id"]]
            assert line["order-line-id"] == pol["id"]
            assert pol["order-header-id"] == po["id"]
            line_ids.add(line["id"])
    ordered = [r for r in reqs if r["status"] == "ordered"]
    assert line_ids == {ln["id"] for r in ordered for ln in r["requisition-lines"]}
    assert {po["requisition-header"]["id"] for po in pos} == {r["id"] for r in ordered}
    return pos


def test_api_requisitions_option_seeds_open_requisitions(
    seeded: tuple[SandboxHandle, Any],
) -> None:
    """--api-requisitions 200: ids after the generated 10, all created by the API user,
    open, exactly 60 ordered (the default share 0.3), their POs linked both ways."""
    sb, api = seeded
    reqs = api.walk("requisitions", {"id[gt_or_eq]": "11"})
    assert [r["id"] for r in reqs] == list(range(11, 211))
    assert {r["created-by"]["id"] for r in reqs} == {API_USER_ID}
    assert {r["updated-by"]["id"] for r in reqs} == {API_USER_ID}
    statuses = Counter(r["status"] for r in reqs)
    assert set(statuses) == OPEN
    assert statuses["ordered"] == 60
    assert all(r["submitted-at"] for r in reqs)
    by_api_user = api.walk("requisitions", {"created-by[id]": "1", "status[in]": "approved"})
    assert {r["id"] for r in by_api_user} >= {r["id"] for r in reqs if r["status"] == "approved"}
    pos = _check_links(api, reqs)
    assert sb.count("purchase_orders") == len(pos) + len(
        api.walk("purchase_orders", {"requisition-header[id][lt_or_eq]": "10"})
    )


def test_seeded_records_conform_to_r39(seeded: tuple[SandboxHandle, Any]) -> None:
    """A sample of seeded requisitions, their lines and POs validate against R39."""
    _, api = seeded
    validator = SpecValidator.default()
    reqs = api.ok("/api/requisitions", {"id[gt]": "10", "limit": "20"})
    pos = api.ok("/api/purchase_orders", {"requisition-header[id][gt]": "10", "limit": "10"})
    assert reqs and pos
    for definition, records in (("RequisitionHeader", reqs), ("OrderHeader", pos)):
        for rec in records:
            result = validator.validate(definition, rec)
            assert list(result.errors) == [], (definition, rec["id"])


def test_seeding_is_deterministic_for_a_seed() -> None:
    """The same seed, sizes and share give the same records; another share changes them."""

    def data(share: float) -> dict[str, list[dict[str, Any]]]:
        store = Store(
            registry=Registry.build(),
            seed=9,
            anchor=1750000000,
            sizes={**SIZES, "api_requisitions": 50},
            api_ordered_share=share,
        )
        store.generate()
        return store.to_state()["resources"]

    first = data(0.5)
    assert first == data(0.5)
    statuses = Counter(r["status"] for r in first["requisitions"][10:])
    assert statuses["ordered"] == 25
    assert Counter(r["status"] for r in data(0.0)["requisitions"][10:])["ordered"] == 0


def test_seed_control_call_adds_to_live_data(fresh_sandbox: SandboxHandle, make_api: Any) -> None:
    """POST /_sandbox/seed adds requisitions after the current ones,
    with their POs; a reset takes them away again."""
    sb = fresh_sandbox
    before = {name: sb.count(name) for name in ("requisitions", "purchase_orders")}
    added = sb.seed_requisitions(30, ordered_share=0.5)
    assert added["requisitions"] == list(
        range(before["requisitions"] + 1, before["requisitions"] + 31)
    )
    assert sb.count("purchase_orders") == before["purchase_orders"] + len(added["purchase_orders"])
    api = make_api(sb)
    reqs = api.walk("requisitions", {"id[gt_or_eq]": str(added["requisitions"][0])})
    assert Counter(r["status"] for r in reqs)["ordered"] == 15
    assert {r["created-by"]["id"] for r in reqs} == {API_USER_ID}
    _check_links(api, reqs)
    more = sb.seed_requisitions(5)
    assert more["requisitions"][0] == added["requisitions"][-1] + 1
    api.close()
    sb.reset()
    assert sb.count("requisitions") == before["requisitions"]


@pytest.mark.parametrize(
    "body",
    [{}, {"requisitions": 0}, {"requisitions": "5"}, {"requisitions": 5, "ordered_share": 2}],
)
def test_bad_seed_bodies_are_refused(fresh_sandbox: SandboxHandle, body: dict[str, Any]) -> None:
    """The count must be a positive integer and the share a number in 0..1."""
    resp = httpx.post(f"{fresh_sandbox.base_url}/_sandbox/seed", json=body)
    assert resp.status_code == 400
    assert "error" in resp.json()
