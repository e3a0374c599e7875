"""One rule of what requesters are offered: pickers, tabs, counts, coupa_status and the API
agree on the same data, whatever makes a record not offered."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from coupa.reference.registry import PICKABLE
from coupa.reference.selectors import (
    RecordFilter,
    pickable_list,
    record_counts,
    record_list,
    sync_status,
)
from integrations.models import Connection
from tests.factories import (
    AccountFactory,
    ChartFactory,
    ConnectionFactory,
    ItemFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(organization) -> Connection:
    conn = ConnectionFactory(organization=organization)
    selected = ChartFactory(connection=conn, selected=True)
    deselected = ChartFactory(connection=conn, selected=False)
    # Selected but deactivated in Coupa since: its accounts are not offered.
    inactive_chart = ChartFactory(connection=conn, selected=True, active=False)
    AccountFactory.create_batch(3, connection=conn, chart=selected)
    AccountFactory(connection=conn, chart=selected, show_to_users=False)
    AccountFactory(connection=conn, chart=selected, active=False)
    AccountFactory(connection=conn, chart=deselected)
    AccountFactory(connection=conn, chart=inactive_chart)
    VendorFactory.create_batch(2, connection=conn)
    VendorFactory(connection=conn, show_to_users=False)
    VendorFactory(connection=conn, active=False, status="inactive")
    ItemFactory.create_batch(4, connection=conn)
    ItemFactory(connection=conn, active=False)
    # Another tenant's records never count.
    other = ConnectionFactory()
    VendorFactory.create_batch(5, connection=other)
    return conn


EXPECTED = {"accounts": 3, "vendors": 2, "items": 4}


def offered_everywhere(connection: Connection, user) -> dict[str, dict[str, int]]:
    organization = connection.organization
    api = APIClient()
    api.force_authenticate(user)
    out = io_status(organization.slug)
    seen: dict[str, dict[str, int]] = {}
    for kind in PICKABLE:
        tab = record_list(
            organization=organization, connection=connection, kind=kind, filters=RecordFilter()
        )
        picker = api.get(f"/api/v1/pickable/{kind}").json()
        seen[kind] = {
            "picker": pickable_list(organization=organization, kind=kind).count(),
            "api_picker": picker["count"],
            "form_picker": api.get(f"/api/v1/pickers/{kind}").json()["count"],
            "tab_label_yes": tab.filter(offered="yes").count(),
            "tab_count": record_counts(connection=connection, kind=kind)["offered"],
            "coupa_status": sync_status(connection=connection)["resources"][kind]["shown"],
            "coupa_status_command": out["resources"][kind]["shown"],
        }
    return seen


def io_status(slug: str) -> dict:
    buffer = StringIO()
    call_command("coupa_status", "--org", slug, "--json", stdout=buffer)
    return json.loads(buffer.getvalue())


def test_every_reader_offers_the_same_records(connection, admin_user) -> None:
    for kind, counts in offered_everywhere(connection, admin_user).items():
        assert set(counts.values()) == {EXPECTED[kind]}, (kind, counts)


@pytest.mark.parametrize(
    "state", [Connection.State.DISCONNECTED, Connection.State.NEEDS_ATTENTION]
)
def test_the_connection_state_applies_everywhere(connection, admin_user, state) -> None:
    connection.state = state
    connection.save(update_fields=["state"])
    # Needs attention: the data is still valid and stays on offer; disconnected: nothing.
    expected = EXPECTED if state == Connection.State.NEEDS_ATTENTION else dict.fromkeys(EXPECTED, 0)
    for kind, counts in offered_everywhere(connection, admin_user).items():
        assert set(counts.values()) == {expected[kind]}, (kind, counts)
