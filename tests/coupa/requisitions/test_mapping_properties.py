"""Properties of the mapping validator (`mapping_problems`, the publish gate).

A complete mapping is accepted whichever optional fields it leaves out; a mapping missing
any set of required fields is refused with, for each of them, a sentence on its row that
names it.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from coupa.requisitions.mapping import Problem, mapping_problems, mapping_table
from tests.coupa.requisitions.conftest import Setup
from tests.coupa.requisitions.test_payload import _complete

pytestmark = pytest.mark.django_db


def _problems_without(s: Setup, targets: list[str]) -> list[Problem]:
    """The problems of the version with these mappings removed (rolled back after)."""
    with transaction.atomic():
        s.version.mappings.filter(target__in=targets).delete()
        problems = mapping_problems(s.version)
        transaction.set_rollback(True)
    return problems


def test_a_complete_mapping_is_accepted_whatever_optional_fields_it_leaves_out(
    setup: Setup,
) -> None:
    _complete(setup)
    optional = sorted(
        row.field.key for row in mapping_table(setup.version) if row.mapping and not row.required
    )
    assert optional

    @given(st.lists(st.sampled_from(optional), unique=True))
    def check(left_out: list[str]) -> None:
        assert _problems_without(setup, left_out) == []

    check()


def test_each_required_field_left_unmapped_is_refused_with_a_sentence_naming_it(
    setup: Setup,
) -> None:
    _complete(setup)
    rows = {row.field.key: row for row in mapping_table(setup.version)}
    required = sorted(key for key, row in rows.items() if row.required and row.mapping)
    assert {"requested-by", "ship-to-address", "line.currency"} <= set(required)

    @given(st.lists(st.sampled_from(required), unique=True, min_size=1))
    def check(left_out: list[str]) -> None:
        problems = _problems_without(setup, left_out)
        for target in left_out:
            label = rows[target].field.label
            mine = [p.message for p in problems if p.target == target]
            assert any(m.startswith(label) and m.endswith(".") for m in mine), (target, mine)

    check()
