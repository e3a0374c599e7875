"""Schemathesis against every `/api/v1/` operation of the generated schema.

The schema comes from drf-spectacular's generator (what `/api/schema/` serves) and the
requests go to the Django app in-process through its WSGI handler, signed in with a token as
an admin and as a requester of an organization with data (tests.support.tenant_with_data:
a connected Coupa connection with records, a workflow, a failed request). Every answer must
be no server error, a status the operation documents, with the documented content type and
a body (and headers) that match the documented schema.

Bounded: `API_FUZZ_EXAMPLES` examples per operation and role (4 by default, so `make test`
stays quick), without schemathesis's coverage phase unless `API_FUZZ_COVERAGE=1`; a deeper
local run: `HYPOTHESIS_PROFILE=deep API_FUZZ_EXAMPLES=200 API_FUZZ_COVERAGE=1`. Each example runs in a
savepoint that is rolled back, so a deletion one example makes never changes what the next
meets. Nothing reaches Coupa: jobs are queued on commit, which never comes in these tests,
and any HTTP a request makes anyway gets a 503 from respx.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import respx
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from spendflo.users.models import User
from tests.support import tenant_with_data

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "4"))
APP = WSGIHandler()


def _generated_schema() -> dict[str, Any]:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    document: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(generated))
    return document


# Schemathesis's coverage phase (boundary values of every parameter, each invalid in turn)
# sends dozens of requests per operation whatever the example count: on for a deep run.
CONFIG = schemathesis.Config.from_dict(
    {"phases": {"coverage": {"enabled": os.environ.get("API_FUZZ_COVERAGE") == "1"}}}
)
loaded = schemathesis.openapi.from_dict(_generated_schema(), config=CONFIG)
loaded.app = APP  # requests, and the checks' own probes, go to the WSGI handler
schema = loaded.include(path_regex="^/api/v1/")

# Left out, as they cannot apply here:
# - negative_data_rejection: a form body carries only strings, so DRF's reading "1" as an
#   integer or a boolean is the form encoding, not a schema violation; and an empty filter
#   parameter (`?active=`) means "no filter" on every list, by design.
# - positive_data_acceptance: schema-valid input may still be refused with a documented 4xx
#   (ids that are not this organization's, a state that does not allow the change).
# - use_after_free, ensure_resource_availability: they follow links between operations in
#   schemathesis's stateful phase; each case here is one request.
# - max_response_time: tests assert behaviour, never durations (make bench measures those).
CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.ignored_auth,
    openapi_checks.missing_required_header,
    openapi_checks.unsupported_method,
]


@pytest.fixture(params=[User.Role.ADMIN, User.Role.REQUESTER])
def token(request: pytest.FixtureRequest, db: None) -> str:
    tenant = tenant_with_data("acme")
    return Token.objects.create(user=tenant.users[request.param]).key


@pytest.fixture
def in_process(settings: Any) -> Iterator[None]:
    """The WSGI handler as the test client runs it: the test's transaction stays open
    across requests, and no request leaves the process."""
    settings.OUTBOUND_RESOLVER = lambda host, port: ["93.184.216.34"]  # a public address
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with respx.mock(assert_all_called=False) as coupa:
            coupa.route().respond(503)
            yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_its_schema_says(case: Any, token: str, in_process: None) -> None:
    """No 500, and a documented status, content type, body and headers, for any input."""
    with transaction.atomic():
        try:
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
        finally:
            transaction.set_rollback(True)
