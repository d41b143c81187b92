"""The invalid-config gate (engine.config_gate): a service whose config has errors starts nothing."""
import pytest

from reconciler.engine.config_gate import Place, blocking_errors, gate, place_of
from reconciler.engine.triggers import Trigger
from reconciler.spec.findings import Finding


def finding(file, severity="error", code="E1"):
    return Finding(file=file, line=3, column=1, severity=severity, code=code, message="bad")


def trigger(stage="dev", service="carts"):
    return Trigger(stage=stage, service=service, sequence="delivery", commit="c1" * 20, base=None,
                   context=f"ctx-{stage}-{service}", commits=("c1" * 20,))


@pytest.mark.parametrize("file,place", [
    ("dev:carts/values.yaml", Place("dev", "carts/values.yaml", "carts")),
    ("dev:carts/helm/templates/a.yaml", Place("dev", "carts/helm/templates/a.yaml", "carts")),
    ("dev:shipyard.yaml", Place("dev", "shipyard.yaml", None)),
    ("main:reconciler.yaml", Place("main", "reconciler.yaml", None)),
    ("shipyard.yaml", None),                         # no branch: not a place on a stage
])
def test_place_of(file, place):
    assert place_of(finding(file)) == place


@pytest.mark.parametrize("file,severity,blocks", [
    ("dev:carts/values.yaml", "error", True),         # the service's own files
    ("dev:carts/slo.yaml", "error", True),
    ("dev:metadata.yaml", "error", True),             # a stage-wide file of its stage
    ("dev:carts/values.yaml", "warning", False),      # warnings never block
    ("dev:orders/values.yaml", "error", False),       # another service's files
    ("staging:carts/values.yaml", "error", False),    # the same service on another stage
    ("main:shipyard.yaml", "error", False),           # project level: the last valid shipyard stays
    ("shipyard.yaml", "error", False),                # without a place
])
def test_which_findings_block_dev_carts(file, severity, blocks):
    f = finding(file, severity)
    assert blocking_errors([f], "dev", "carts") == ([f] if blocks else [])


def test_gate_keeps_order_and_names_the_errors_of_each_refused_trigger():
    errors = [finding("dev:carts/values.yaml", code="E1"), finding("dev:metadata.yaml", code="E2"),
              finding("staging:orders/values.yaml", code="E3"), finding("dev:orders/x.yaml", "warning")]
    triggers = [trigger("dev", "carts"), trigger("dev", "orders"), trigger("staging", "carts"),
                trigger("staging", "orders")]
    gated = gate(triggers, errors)
    assert [g.trigger for g in gated] == triggers
    assert [(g.starts, [f.code for f in g.errors]) for g in gated] == [
        (False, ["E1", "E2"]),      # its own error and its stage's
        (False, ["E2"]),            # the stage-wide error refuses every service of dev
        (True, []),
        (False, ["E3"]),
    ]


def test_no_findings_start_everything():
    assert all(g.starts for g in gate([trigger(), trigger("staging")], []))
