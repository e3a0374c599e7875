"""The actions benchmark case 7 loads (docs/benchmarks.md): the Items tab with a search, a
Show to Users toggle and the item picker each issue a fixed number of queries, whatever
the page holds: no query per row, none read twice (the session's user comes with its
organization, the connection with it too), none for what the answer does not show.

On PostgreSQL the tabs' counts are kept (coupa.reference.counts): one read of the kept
rows, and a toggle adjusts them under their lock. On SQLite they are counted on every read.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from coupa.models import Item
from coupa.reference.registry import PICKABLE
from coupa.reference.selectors import record_counts_all
from coupa.web.views import PAGE_SIZE
from tests.factories import ConnectionFactory, ItemFactory

pytestmark = pytest.mark.django_db

KEPT = db.vendor == "postgresql"


@pytest.fixture
def items(organization):
    connection = ConnectionFactory(organization=organization)
    ItemFactory.create_batch(PAGE_SIZE + 5, connection=connection, name="Desk chair")
    ItemFactory(connection=connection, name="Desk lamp", active=False)
    ItemFactory(connection=connection, name="Laptop")
    record_counts_all(connection=connection)  # counted once, as after an import
    return connection


def tables(ctx: CaptureQueriesContext) -> list[str]:
    """The first table each captured query names (or its statement), in order."""
    named = []
    for query in ctx.captured_queries:
        sql = query["sql"]
        verb = sql.split()[0]
        if verb == "SELECT" and 'FROM "' in sql:
            named.append(sql[sql.find('FROM "') :].split('"')[1])
        elif verb in ("INSERT", "UPDATE", "DELETE"):
            named.append(sql.split('"')[1])
        else:
            named.append(verb)  # SAVEPOINT, RELEASE, SELECT set_config(...)
    return named


def test_the_items_tab_reads_a_page_in_a_fixed_number_of_queries(
    client_as, admin_user, items
) -> None:
    """Session, user with organization, connection, the capped match count, the tabs'
    counts, unread notices and the page's rows; the counts of all three tabs are one read
    of their kept rows (one aggregate per tab where they are not kept)."""
    client = client_as(admin_user)
    url = reverse("coupa:records", args=["items"])
    with CaptureQueriesContext(db) as ctx:
        page = client.get(url, {"search": "desk"})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="switch"') == PAGE_SIZE
    assert f"{PAGE_SIZE + 7} imported · {PAGE_SIZE + 6} active in Coupa" in html
    counts = ["coupa_recordcounts"] if KEPT else ["coupa_account", "coupa_vendor", "coupa_item"]
    # On PostgreSQL the count of a search is planned onto the trigram indexes, with
    # settings that end with its savepoint's transaction (restored here: the test's).
    by_index = ["SAVEPOINT", "SELECT", "coupa_item", "SELECT", "RELEASE"]
    assert tables(ctx) == [
        "django_session",
        "users_user",
        "integrations_connection",
        *(by_index if KEPT else ["coupa_item"]),  # matches, counted up to the cap
        "coupa_item",  # the page
        *counts,
        "workflows_notification",
    ]


def test_every_toggle_on_the_page_posts_to_its_own_record(client_as, admin_user, items) -> None:
    html = client_as(admin_user).get(reverse("coupa:records", args=["items"])).content.decode()
    rows = re.findall(r'<tr id="items-(\d+)"', html)
    assert len(rows) == PAGE_SIZE
    for pk in rows:
        url = reverse("coupa:toggle", args=["items", int(pk)])
        assert f'<form method="post" action="{url}" hx-post="{url}"' in html


def test_a_toggle_writes_and_answers_in_a_fixed_number_of_queries(
    client_as, admin_user, items
) -> None:
    """The write (on PostgreSQL holding the kept counts and adjusting them), its audit
    event, the row and the tab's counts; no organization read again for the audit event
    and no notice count for a fragment without navigation."""
    item = Item.objects.filter(connection=items, active=True).first()
    client = client_as(admin_user)
    with CaptureQueriesContext(db) as ctx:
        answer = client.post(
            reverse("coupa:toggle", args=["items", item.pk]),
            {"show_to_users": "0"},
            HTTP_HX_REQUEST="true",
        )
    assert answer.status_code == 200
    html = answer.content.decode()
    assert f'id="items-{item.pk}"' in html and 'aria-checked="false"' in html
    assert f"{PAGE_SIZE + 5} offered to requesters" in html and 'hx-swap-oob="true"' in html
    write = (
        ["coupa_recordcounts", "coupa_item", "coupa_item", "coupa_recordcounts"]  # hold, flips
        if KEPT
        else ["coupa_item"]
    )
    assert tables(ctx) == [
        "django_session",
        "users_user",
        "integrations_connection",
        "SAVEPOINT",
        *write,
        "integrations_auditevent",
        "RELEASE",
        "coupa_item",  # the row, as the tab shows it
        "coupa_recordcounts" if KEPT else "coupa_item",  # the tab's counts
    ]


def test_the_item_picker_answers_in_a_fixed_number_of_queries(
    requester_user, items, django_assert_num_queries
) -> None:
    """Token with its user and organization, connection, capped count, the page."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=requester_user).key}")
    with django_assert_num_queries(4):
        page = api.get("/api/v1/pickers/items", {"search": "desk"}).json()
    assert page["count"] == PAGE_SIZE + 5 and len(page["results"]) == 20
    assert page["results"][0] == {
        "id": page["results"][0]["id"],
        "label": "Desk chair",
        "code": "",
        "number": "",
        "detail": "",
    }


def test_the_tabs_counts_are_one_read_when_kept(items) -> None:
    with CaptureQueriesContext(db) as ctx:
        counts = record_counts_all(connection=items)
    assert list(counts) == list(PICKABLE)
    assert counts["items"] == {
        "imported": PAGE_SIZE + 7,
        "active": PAGE_SIZE + 6,
        "offered": PAGE_SIZE + 6,
    }
    assert len(ctx.captured_queries) == (1 if KEPT else len(PICKABLE))
