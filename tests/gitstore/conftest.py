"""Fixtures for Git store tests: real remotes of all three kinds (tests/support/remotes.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.remotes import Origin, Remotes

STAGES = ("dev", "staging", "production")


def stage_repo() -> dict[str, dict[str, str]]:
    """A small Keptn-layout config repo: shipyard on main, two services on three stages."""
    branches: dict[str, dict[str, str]] = {"main": {"shipyard.yaml": "apiVersion: spec.keptn.sh/0.2.2\n"}}
    for i, stage in enumerate(STAGES):
        branches[stage] = {
            "carts/values.yaml": f"image: carts:1.0\nreplicas: {i + 1}\n",
            "carts/slo.yaml": "objectives: []\n",
            "orders/values.yaml": f"image: orders:1.0\nreplicas: {i + 1}\n",
        }
    return branches


@pytest.fixture
def origin(remotes: Remotes, remote_kind: str) -> Origin:
    """The stage repo served as `remote_kind` (file, daemon, http)."""
    return remotes.origin(remote_kind, stage_repo())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path
