from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.ratelimit import release_db_connections


@pytest.fixture(autouse=True)
def _release_limiter_connections() -> Iterator[None]:
    # The database limiter's helper thread keeps a connection; the test database can
    # only be dropped once it is closed.
    yield
    release_db_connections()
