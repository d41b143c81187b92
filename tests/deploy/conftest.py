"""The example project as a bare repo on a file:// remote, for the chart's RBAC test."""
from pathlib import Path

import pytest

from tests.support.controller import seeded_origin


@pytest.fixture
def origin(remotes, tmp_path: Path):
    return remotes.serve("file", seeded_origin(remotes.base / "config.git"))
