"""Shared pytest configuration. Fixtures that start processes live in tests/support/."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the project (read-only, present in CI)."""
    assert SHARED.is_dir(), f"expected the shared material at {SHARED}"
    return SHARED
