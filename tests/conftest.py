"""Shared pytest fixtures. The machinery they start (Git servers, a fake Kubernetes API, task
environments) lives in tests/support/; the fixtures live here so that every test package
gets them by name, without importing them."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support import shared
from tests.support.fake_kube import FakeKube
from tests.support.remotes import Human, Origin, Remotes
from tests.support.taskenv import FakeTaskEnv

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the project (read-only). Missing: the test skips saying what and where,
    or fails in CI (`CI=true`), where it must be present."""
    if shared.missing():
        if shared.in_ci():
            pytest.fail(shared.reason() + "; CI=true requires it", pytrace=False)
        pytest.skip(shared.reason())
    return shared.shared_path()


# --------------------------------------------------------------------------- Git remotes

@pytest.fixture
def remotes(tmp_path: Path) -> Iterator[Remotes]:
    """Serves bare repos under `tmp_path/remotes` as file://, git:// or http://; every server
    it started is stopped after the test."""
    base = tmp_path / "remotes"
    base.mkdir()
    r = Remotes(base)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def remote_kind() -> str:
    """The Git transport an `origin` fixture serves: file://, the cheapest real remote.

    A test where the transport matters (fetch, push, watching and polling, credentials, server
    hooks) says so with `@every_transport` (tests/support/remotes.py), which runs it over
    file://, git daemon and smart HTTP."""
    return "file"


@pytest.fixture
def human_factory(tmp_path: Path) -> Callable[..., Human]:
    """`human_factory(url, branch="main")` clones into a fresh folder under tmp_path."""
    counter = iter(range(1_000))

    def make(url: str, branch: str = "main") -> Human:
        return Human(url, tmp_path / f"human-{next(counter)}", branch)

    return make


# --------------------------------------------------------------------------- task environments

@pytest.fixture
def make_env(remotes: Remotes, tmp_path: Path) -> Callable[..., tuple[FakeTaskEnv, Origin]]:
    """`make_env(branches, kind="file", settings=None, ...)` -> (env, origin)."""
    counter = iter(range(1000))

    def make(branches: Mapping[str, Mapping[str, str | bytes]], kind: str = "file", **kw: Any
             ) -> tuple[FakeTaskEnv, Origin]:
        n = next(counter)
        origin = remotes.origin(kind, branches, name=f"origin-{n}.git")
        work = tmp_path / f"work-{n}"
        work.mkdir()
        return FakeTaskEnv(origin.url, work, **kw), origin

    return make


# --------------------------------------------------------------------------- Kubernetes

@pytest.fixture
def fake_kube() -> Iterator[FakeKube]:
    """A started fake Kubernetes API server, stopped after the test."""
    server = FakeKube().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kube(fake_kube: FakeKube):
    """The project's Kubernetes adapter, bound to the fake API server."""
    from reconciler.kube.client import Kube, KubeAccess
    client = Kube.connect(KubeAccess(url=fake_kube.url, token=fake_kube.token), request_timeout=10)
    yield client
    client.close()


@pytest.fixture
def namespace(fake_kube: FakeKube) -> str:
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop-dev"}})
    return "shop-dev"
