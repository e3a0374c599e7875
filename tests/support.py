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
