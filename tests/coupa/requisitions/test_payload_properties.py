"""Properties of the requisition payload builder, for any answers a form can post.

With a complete mapping, valid answers make a payload without problems that has every
field Coupa requires and the types of the committed R39 definitions (`validate_r39`); with
any answers at all, the builder names problems instead of raising, and the payload never
holds a field the version does not map.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from coupa.requisitions.mapping import pr_fields_for
from coupa.requisitions.payload import RequestInfo, requisition_payload, validate_r39
from tests.coupa.requisitions.conftest import Setup
from tests.coupa.requisitions.test_payload import _complete

pytestmark = pytest.mark.django_db
INFO = RequestInfo(title="New laptops", number="SF-42", link="https://app.test/requests/42")

texts = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=40).filter(
    str.strip
)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2)
days = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _valid_answers(s: Setup) -> st.SearchStrategy[dict[str, Any]]:
    r = s.records
    line = st.fixed_dictionaries(
        {
            "description": texts,
            "quantity": amounts.map(str) | st.integers(1, 500),
            "unit_price": st.builds(lambda a: {"amount": str(a), "currency": "USD"}, amounts),
            "vendor": st.just(r["vendor"].pk),
        },
        optional={"account": st.just(r["account"].pk), "item": st.just(r["item"].pk)},
    )
    request = st.fixed_dictionaries(
        {"title": texts, "ship_to": st.just(r["address"].pk)},
        optional={"needed_by": days.map(dt.date.isoformat), "business_reason": texts},
    )
    return st.fixed_dictionaries(
        {"request": request, "lines": st.lists(line, min_size=1, max_size=3)}
    )


def _mapped_keys(s: Setup) -> tuple[set[str], set[str]]:
    """The payload keys the version maps, on the header and on each line."""
    mapped = set(s.version.mappings.values_list("target", flat=True))
    prs = [pr for pr in pr_fields_for(s.version) if pr.key in mapped]
    header = {pr.coupa_key for pr in prs if pr.level == "header"}
    line = {pr.coupa_key for pr in prs if pr.level == "line"}
    return header | {"requisition-lines"}, line | {"line-num"}


def _build(s: Setup, answers: Any) -> Any:
    return requisition_payload(version=s.version, answers=answers, requester=s.admin, info=INFO)


def test_valid_answers_make_a_complete_payload_of_coupas_types(setup: Setup) -> None:
    _complete(setup)
    header_keys, line_keys = _mapped_keys(setup)

    @given(_valid_answers(setup))
    def check(answers: dict[str, Any]) -> None:
        result = _build(setup, answers)
        assert result.problems == []
        payload = result.payload
        assert {"requested-by", "ship-to-address", "req-title"} <= set(payload) <= header_keys
        assert len(payload["requisition-lines"]) == len(answers["lines"])
        for num, (line, given_line) in enumerate(
            zip(payload["requisition-lines"], answers["lines"], strict=True), start=1
        ):
            assert line["line-num"] == num
            assert {"line-type", "currency", "quantity", "uom", "description"} <= set(line)
            assert set(line) <= line_keys
            assert Decimal(line["quantity"]) == Decimal(str(given_line["quantity"]))
            assert ("item" in line) == ("item" in given_line)
        assert validate_r39(setup.version, payload) == []

    check()


def test_any_answers_give_problems_not_errors_and_only_mapped_fields(setup: Setup) -> None:
    _complete(setup)
    header_keys, line_keys = _mapped_keys(setup)
    valid = _valid_answers(setup)
    # Valid answers with values replaced by any JSON, and any JSON at all.
    mangled = st.one_of(
        json_values,
        st.builds(
            lambda answers, field, value: {
                "request": {**answers["request"], field: value},
                "lines": [{**line, field: value} for line in answers["lines"]],
            },
            valid,
            st.sampled_from(["title", "ship_to", "quantity", "unit_price", "vendor", "item"]),
            json_values,
        ),
    )

    @given(mangled)
    def check(answers: Any) -> None:
        result = _build(setup, answers if isinstance(answers, dict) else {"request": answers})
        assert all(p.message.strip() for p in result.problems)
        assert set(result.payload) <= header_keys
        for line in result.payload.get("requisition-lines", []):
            assert set(line) <= line_keys

    check()


def test_an_unmapped_optional_field_never_reaches_the_payload(setup: Setup) -> None:
    _complete(setup)
    optional = sorted(
        pr.key
        for pr in pr_fields_for(setup.version)
        if pr.required == "no" and setup.version.mappings.filter(target=pr.key).exists()
    )
    prs = {pr.key: pr for pr in pr_fields_for(setup.version)}

    @given(st.lists(st.sampled_from(optional), unique=True, min_size=1), _valid_answers(setup))
    def check(removed: list[str], answers: dict[str, Any]) -> None:
        with transaction.atomic():
            setup.version.mappings.filter(target__in=removed).delete()
            result = _build(setup, answers)
            transaction.set_rollback(True)
        gone = {prs[key].coupa_key for key in removed}
        assert result.problems == []
        assert not gone & set(result.payload)
        for line in result.payload["requisition-lines"]:
            assert not gone & set(line)

    check()
