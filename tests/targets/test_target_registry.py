"""Target kinds by name (`targets.registry`) and the hooks the controller calls through the
`DeploymentTarget` protocol (no duck-typed extras)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.controller.taskenv import Targets
from reconciler.spec.settings import Settings
from reconciler.targets import registry
from reconciler.targets.base import DeploymentTarget, TargetBase, TargetContext
from reconciler.targets.kubernetes import KubernetesTarget
from reconciler.targets.local import LocalTarget

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "reconciler.json"


def test_every_kind_the_schema_allows_is_a_target_module_or_none(tmp_path):
    kinds = json.loads(SCHEMA.read_text())["$defs"]["StageSettings"]["properties"]["target"]["enum"]
    assert registry.NONE in kinds
    context = TargetContext(tmp_path, Settings, {"RECONCILER_KUBE_URL": "http://127.0.0.1:9"}, tmp_path / "sd")
    for kind in kinds:
        if kind in registry.WITHOUT_MODULE:
            assert registry.create(kind, context) is None
            continue
        target = registry.create(kind, context)
        try:
            assert isinstance(target, DeploymentTarget)
        finally:
            target.close()


def test_none_is_no_target_until_a_module_says_otherwise(tmp_path):
    assert registry.create("none", TargetContext(tmp_path, Settings, {}, tmp_path / "sd")) is None


@pytest.mark.parametrize("kind", ["base", "registry", "manifests", "helm"])
def test_a_kind_without_a_target_module_is_refused(tmp_path, kind):
    with pytest.raises(ValueError, match=f"no deployment target of kind '{kind}'"):
        registry.create(kind, TargetContext(tmp_path, Settings, {}, tmp_path / "sd"))


def test_the_local_target_keeps_its_state_under_the_work_dir(tmp_path):
    target = registry.create("local", TargetContext(tmp_path, Settings, {}, tmp_path / "sd"))
    try:
        assert isinstance(target, LocalTarget)
        assert target.work_dir == tmp_path / "targets" / "local" and target.file_sd_dir == tmp_path / "sd"
        assert list(target.recovered) == []
    finally:
        target.close()


class Counting(TargetBase):
    """A target that only counts what the controller tells it."""

    def __init__(self) -> None:
        self.configured: list[Settings] = []

    def configure(self, settings: Settings) -> None:
        self.configured.append(settings)


def test_the_controller_hands_every_target_the_current_settings(tmp_path):
    settings = [Settings.from_data({"spec": {"stages": {"dev": {"target": "kubernetes"}}}})]
    made = Counting()
    targets = Targets(tmp_path, lambda: settings[0], factories={"kubernetes": lambda: made})
    assert targets.for_stage("dev") is made and made.configured == [settings[0]]
    settings[0] = Settings.from_data({"spec": {"stages": {"dev": {"target": "kubernetes"}, "qa": {"target": "none"}}}})
    assert targets.for_stage("dev") is made and made.configured[-1] is settings[0]
    assert targets.for_stage("qa") is None


def test_the_kubernetes_target_takes_new_settings_through_the_protocol(kube):
    target: DeploymentTarget = KubernetesTarget(kube)
    target.configure(Settings.from_data({"spec": {"stages": {"dev": {"kubernetes": {"namespace": "elsewhere"}}}}}))
    assert isinstance(target, KubernetesTarget) and target.namespace("dev") == "elsewhere"
    assert list(target.recovered) == []
