"""Helpers shared by the test suite's conftest files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip when something a test needs is missing, except in CI, where that fails."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must not skip this test: {reason}", pytrace=False)
    pytest.skip(reason)


REPO_ROOT = Path(__file__).resolve().parents[1]
# Coupa's R39 Swagger files and published example payloads sit beside the repository, in
# ../shared; the repository never copies them. Tests that compare with them read them there.
SHARED_DIR = REPO_ROOT.parent / "shared"


def shared_path(name: str) -> Path:
    """Return ../shared/`name`; skip the test when it is absent (fail in CI).

    Call it inside the test, not at import, so only the tests that read ../shared skip.
    """
    require(
        SHARED_DIR.is_dir(),
        f"Coupa's specs and examples are absent: {SHARED_DIR} does not exist",
    )
    path = SHARED_DIR / name
    require(path.exists(), f"Coupa's specs and examples are incomplete: {path} does not exist")
    return path
