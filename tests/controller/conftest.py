"""A real controller against real remotes (file://, git daemon, smart HTTP)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.controller import seeded_origin, start_service


@pytest.fixture
def origin(remotes, remote_kind, tmp_path: Path):
    """The example project as a bare repo, served as `remote_kind`."""
    path = seeded_origin(remotes.base / "config.git")
    return remotes.serve(remote_kind, path)


@pytest.fixture
def service_factory(tmp_path: Path):
    started = []

    def make(url: str, name: str = "work", **kwargs):
        service = start_service(url, tmp_path / name, **kwargs)
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()
