"""Properties of the records filter (`parse_filter`) and the query it builds (`record_list`).

Any filter the tabs, the bulk form or the API can express survives a trip through query
parameters unchanged; any parameters at all give a bounded filter or a RecordFilterError
naming one of the filter's parameters with a sentence; and every filter that parses makes a
query the database runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import BigIntegerField
from hypothesis import given
from hypothesis import strategies as st

from coupa.reference.selectors import (
    PICKABLE,
    RESOURCES,
    SUPPORTING,
    RecordFilter,
    RecordFilterError,
    parse_filter,
    record_list,
)
from tests.coupa.web import test_records_pages

pytestmark = pytest.mark.django_db

data = test_records_pages.data  # fixture: one connection's charts, accounts, vendors, items

KINDS = sorted({*PICKABLE, *SUPPORTING})
PARAMETERS = ("search", "chart", "visibility", "active", "sort")
searches = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=200
)


@st.composite
def filters(draw: st.DrawFn) -> tuple[str, RecordFilter]:
    """A kind of list and a filter its tab offers."""
    kind = draw(st.sampled_from(KINDS))
    sorts = sorted(RESOURCES[kind].sorts)
    sort = draw(st.sampled_from(["", *sorts, *(f"-{s}" for s in sorts)]))
    chart = (
        draw(st.none() | st.integers(1, BigIntegerField.MAX_BIGINT)) if kind == "accounts" else None
    )
    visibility = draw(st.sampled_from(["", "shown", "hidden"])) if kind in PICKABLE else ""
    return kind, RecordFilter(
        search=draw(searches),
        chart=chart,
        visibility=visibility,  # type: ignore[arg-type]
        active=draw(st.sampled_from(["", "active", "inactive"])),  # type: ignore[arg-type]
        sort=sort,
    )


def as_query(record_filter: RecordFilter) -> dict[str, str]:
    """The filter as the tab's links and forms send it."""
    return {
        "search": record_filter.search,
        "chart": "" if record_filter.chart is None else str(record_filter.chart),
        "visibility": record_filter.visibility,
        "active": record_filter.active,
        "sort": record_filter.sort,
    }


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=30),
    st.sampled_from(["shown", "hidden", "active", "inactive", "name", "-name", "0", "1", "\x00"]),
    st.integers(min_value=2**62).map(str),
)


@given(filters())
def test_a_filter_survives_a_trip_through_query_parameters(kind_and_filter: Any) -> None:
    kind, record_filter = kind_and_filter
    assert parse_filter(as_query(record_filter), kind=kind) == record_filter
    # The API's JSON body gives the chart as a number.
    body = {**as_query(record_filter), "chart": record_filter.chart}
    assert parse_filter(body, kind=kind) == record_filter


@given(
    st.sampled_from([None, *KINDS]),
    st.dictionaries(st.sampled_from([*PARAMETERS, "page", "q"]), values, max_size=6),
)
def test_any_parameters_give_a_bounded_filter_or_a_sentence_naming_one(
    kind: str | None, params: dict[str, Any]
) -> None:
    try:
        parsed = parse_filter(params, kind=kind)
    except RecordFilterError as exc:
        assert exc.field in PARAMETERS
        assert exc.message.endswith(".") and exc.message.lower().startswith(exc.field)
        return
    assert len(parsed.search) <= 200 and "\x00" not in parsed.search
    assert parsed.chart is None or 1 <= parsed.chart <= BigIntegerField.MAX_BIGINT
    assert parsed.visibility in ("", "shown", "hidden")
    assert parsed.active in ("", "active", "inactive")
    if kind is not None:
        assert parsed.sort.lstrip("-") in ("", *RESOURCES[kind].sorts)
        assert parsed.chart is None or kind == "accounts"


def test_every_filter_that_parses_makes_a_query_the_database_runs(organization, data) -> None:
    @given(filters())
    def check(kind_and_filter: Any) -> None:
        kind, record_filter = kind_and_filter
        rows = record_list(
            organization=organization, connection=data["conn"], kind=kind, filters=record_filter
        )
        found = list(rows[:5])
        assert all(row.connection_id == data["conn"].pk for row in found)
        if record_filter.chart is not None:
            assert all(row.chart_id == record_filter.chart for row in found)

    check()


@given(st.integers(-(2**70), 2**70), st.booleans(), st.sampled_from(["accounts", None]))
def test_a_chart_is_a_64_bit_id_or_refused_naming_it(
    number: int, as_text: bool, kind: str | None
) -> None:
    try:
        parsed = parse_filter({"chart": str(number) if as_text else number}, kind=kind)
    except RecordFilterError as exc:
        assert exc.field == "chart"
        assert not 1 <= number <= BigIntegerField.MAX_BIGINT
        return
    assert parsed.chart == number and 1 <= number <= BigIntegerField.MAX_BIGINT
