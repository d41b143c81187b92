"""A real controller (in-process) against a real file:// remote, for the web UI's tests."""
from __future__ import annotations

import pytest

from tests.controller.conftest import origin, service_factory  # noqa: F401 - fixtures
from tests.support.remotes import human_factory, remotes  # noqa: F401 - fixtures


@pytest.fixture
def remote_kind():          # the UI reads the mirror; one remote kind suffices
    return "file"
