"""The broker down when Validate or Sync Data is asked: a 503 with a sentence, nothing stranded.

A real Redis broker URL on a port where nothing listens (`broker_down`); the requests
commit for real (transactional tests), so the message is sent after commit, as in production.
"""

from __future__ import annotations

import pytest

from coupa.connections.services import VALIDATION_NOT_STARTED
from coupa.reference.sync import NOT_STARTED_MESSAGE, sync_request, sync_run_live
from integrations.models import Connection, ConnectionValidation, Provider, SyncRun
from integrations.selectors import connection_syncable_list
from spendflo.celery import app as celery_app
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connection(organization) -> Connection:
    return ConnectionFactory(organization=organization)


def _assert_validation_not_stranded(connection: Connection) -> None:
    connection.refresh_from_db()
    # Still connected (hourly syncs go on), and no validation left waiting for a worker.
    assert connection.state == Connection.State.CONNECTED
    assert list(connection_syncable_list(provider=Provider.COUPA)) == [connection]
    validation = ConnectionValidation.objects.get(connection=connection)
    assert (validation.state, validation.error) == ("failed", VALIDATION_NOT_STARTED)
    assert {step["status"] for step in validation.steps} == {"skipped"}


def test_validate_api_with_the_broker_down_answers_503_and_keeps_the_connection(
    broker_down, connection, admin_user, client_as
) -> None:
    response = client_as(admin_user).post("/api/v1/integrations/coupa/validate")

    assert response.status_code == 503
    assert response.json() == {"detail": VALIDATION_NOT_STARTED}
    _assert_validation_not_stranded(connection)


def test_validate_button_with_the_broker_down_shows_the_sentence(
    broker_down, connection, admin_user, client_as
) -> None:
    response = client_as(admin_user).post("/settings/integrations/coupa/validate/", follow=True)

    assert response.status_code == 200
    assert VALIDATION_NOT_STARTED in response.content.decode()
    _assert_validation_not_stranded(connection)


def test_connect_with_the_broker_down_leaves_a_connection_to_validate_again(
    broker_down, organization, admin_user, client_as, settings
) -> None:
    settings.COUPA_ALLOWED_HOSTS = ["*.coupahost.com"]
    settings.OUTBOUND_RESOLVER = lambda host, port: ["93.184.216.34"]  # a public address
    response = client_as(admin_user).post(
        "/api/v1/integrations/coupa/connect",
        {"domain": "acme.coupahost.com", "client_id": "c", "client_secret": "s"},
        content_type="application/json",
    )

    assert response.status_code == 503, response.content
    assert response.json() == {"detail": VALIDATION_NOT_STARTED}
    connection = Connection.objects.get(organization=organization)
    # Never validated: it stays a draft, with the sentence, and offers Validate.
    assert (connection.state, connection.state_reason) == (
        Connection.State.DRAFT,
        VALIDATION_NOT_STARTED,
    )
    assert not ConnectionValidation.objects.filter(state__in=["queued", "running"]).exists()


def _assert_sync_not_stranded(connection: Connection) -> None:
    run = SyncRun.objects.get(connection=connection)
    assert (run.state, run.error) == (SyncRun.State.FAILED, NOT_STARTED_MESSAGE)
    assert sync_run_live(connection=connection) is None
    # Once the broker is back, the next request starts a new run (it attaches to nothing).
    celery_app.conf.task_always_eager = True
    again = sync_request(connection=connection, trigger=SyncRun.Trigger.MANUAL, enqueue=False)
    assert again.pk != run.pk and again.state == SyncRun.State.QUEUED


def test_sync_api_with_the_broker_down_answers_503_and_fails_the_run(
    broker_down, connection, admin_user, client_as
) -> None:
    response = client_as(admin_user).post("/api/v1/coupa/sync", {}, content_type="application/json")

    assert response.status_code == 503
    assert response.json() == {"detail": NOT_STARTED_MESSAGE}
    _assert_sync_not_stranded(connection)


def test_sync_button_with_the_broker_down_shows_the_sentence(
    broker_down, connection, admin_user, client_as
) -> None:
    response = client_as(admin_user).post("/settings/integrations/coupa/sync/", follow=True)

    assert response.status_code == 200
    assert NOT_STARTED_MESSAGE in response.content.decode()
    _assert_sync_not_stranded(connection)


def test_edit_form_with_the_broker_down_keeps_the_edit_and_shows_the_sentence(
    broker_down, connection, admin_user, client_as, settings
) -> None:
    settings.OUTBOUND_RESOLVER = lambda host, port: ["93.184.216.34"]  # a public address
    response = client_as(admin_user).post(
        "/settings/integrations/coupa/edit/",
        {
            "domain": connection.base_url,
            "client_id": "client-2",
            "client_secret": "",
            "rate_limit": 20,
        },
        follow=True,
    )

    assert response.status_code == 200
    assert VALIDATION_NOT_STARTED in response.content.decode()
    connection.refresh_from_db()
    assert connection.provider_settings["client_id"] == "client-2"
    _assert_validation_not_stranded(connection)
