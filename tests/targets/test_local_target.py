"""The local target against real processes (tests/targets/svc.py)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from reconciler.targets import filesd, processes
from reconciler.targets.base import DeploymentFailed, DeploymentTarget, DeployRequest
from reconciler.targets.local import MARKER_KEY, LocalTarget, value_env
from tests.support.waiting import wait_until

SVC = Path(__file__).with_name("svc.py")
ROOT = Path(__file__).resolve().parents[2]


def make_service(root: Path, name: str = "hello", local_yaml: str | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SVC, folder / "svc.py")
    (folder / "local.yaml").write_text(local_yaml or textwrap.dedent("""\
        command: [python, svc.py]
        env: {GREETING: hi}
        startTimeout: 10s
        """))
    return folder


def request(folder: Path, commit: str = "a" * 40, **values) -> DeployRequest:
    values.setdefault("image", "hello:1")
    values.setdefault("replicaCount", 1)
    return DeployRequest(project="shop", stage="dev", service="hello", commit=commit,
                         service_dir=folder, values=values)


def get(address: str, path: str = "/info"):
    with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if path == "/info" else body


def processes_in(directory: Path) -> set[int]:
    """Live processes whose working directory is inside `directory` (leak detector)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd.startswith(str(directory)) and processes.alive(int(entry.name)):
                found.add(int(entry.name))
    return found


@pytest.fixture
def target(tmp_path):
    environ = {**os.environ, "RECONCILER_SECRET_DB_PASSWORD": "hunter2-secret"}
    t = LocalTarget(tmp_path / "work", restart_backoff=0.05, supervise_interval=0.05, stop_timeout=3,
                    environ=environ)
    yield t
    t.close()
    assert not processes_in(tmp_path / "work"), "processes outlived close()"


def test_is_a_deployment_target(target):
    assert isinstance(target, DeploymentTarget)


def test_deploy_runs_replica_count_processes_with_the_documented_environment(target, tmp_path):
    folder = make_service(tmp_path / "export")
    result = target.deploy(request(folder, replicaCount=2, mode="ok", nested={"a": 1}))

    assert len(result.deployment_uris_local) == 2
    assert result.deployment_names == ["hello"]
    infos = [get(uri.removeprefix("http://")) for uri in result.deployment_uris_local]
    assert sorted(i["RECONCILER_REPLICA"] for i in infos) == ["0", "1"]
    for uri, info in zip(result.deployment_uris_local, infos, strict=True):
        assert uri.endswith(":" + info["PORT"])
        assert info["RECONCILER_PROJECT"] == "shop" and info["RECONCILER_STAGE"] == "dev"
        assert info["RECONCILER_SERVICE"] == "hello"
        assert info["VALUE_IMAGE"] == "hello:1" and info["VALUE_REPLICACOUNT"] == "2"
        assert "VALUE_NESTED" not in info
        assert json.loads(info["VALUES_JSON"])["nested"] == {"a": 1}
        assert info["GREETING"] == "hi"
        assert "RECONCILER_SECRET_DB_PASSWORD" not in info     # the reconciler's env is not passed on
        assert Path(info["cwd"], "svc.py").exists() and not info["cwd"].startswith(str(folder))
    assert result.event_data()["deployment"]["deploymentURIsLocal"] == result.deployment_uris_local
    status = target.status("dev", "hello")
    assert status.deployed and status.ready == 2 and status.commit == "a" * 40


def test_file_sd_lists_the_replicas_for_prometheus(target, tmp_path):
    folder = make_service(tmp_path / "export")
    result = target.deploy(request(folder, replicaCount=2))
    doc = json.loads((target.file_sd_dir / "dev-hello.json").read_text())
    assert doc == [{"targets": sorted(u.removeprefix("http://") for u in result.deployment_uris_local),
                    "labels": {"job": "hello-shop-dev", "project": "shop", "stage": "dev", "service": "hello"}}]
    assert get(doc[0]["targets"][0], "/metrics") == b"up_test 1\n"


def test_new_commit_replaces_replicas_and_stops_the_old_ones(target, tmp_path):
    folder = make_service(tmp_path / "export")
    first = target.deploy(request(folder, commit="1" * 40, replicaCount=2))
    old_pids = target.pids()
    second = target.deploy(request(folder, commit="2" * 40, replicaCount=2, image="hello:2"))

    assert set(target.pids()).isdisjoint(old_pids)
    assert not any(processes.alive(p) for p in old_pids)
    assert set(second.deployment_uris_local).isdisjoint(first.deployment_uris_local)
    assert {get(u.removeprefix("http://"))["VALUE_IMAGE"] for u in second.deployment_uris_local} == {"hello:2"}
    doc = json.loads((target.file_sd_dir / "dev-hello.json").read_text())
    assert sorted(doc[0]["targets"]) == sorted(u.removeprefix("http://") for u in second.deployment_uris_local)


def test_unhealthy_new_version_fails_and_the_old_one_keeps_serving(target, tmp_path):
    folder = make_service(tmp_path / "export")
    good = target.deploy(request(folder, commit="1" * 40, replicaCount=2))
    old_pids = set(target.pids())
    bad = make_service(tmp_path / "export2", local_yaml="command: [python, svc.py]\nstartTimeout: 1s\n")

    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(bad, commit="2" * 40, replicaCount=2, mode="unhealthy"))

    assert err.value.kind == "not-healthy"
    assert "did not become healthy within 1s" in str(err.value) and "HTTP 500" in str(err.value)
    assert set(target.pids()) == old_pids and all(processes.alive(p) for p in old_pids)
    assert processes_in(tmp_path / "work") == old_pids             # the failed replicas are gone
    assert get(good.deployment_uris_local[0].removeprefix("http://"))["VALUE_IMAGE"] == "hello:1"
    assert target.status("dev", "hello").commit == "1" * 40


def test_replica_exiting_at_start_fails_fast_with_its_log(target, tmp_path):
    folder = make_service(tmp_path / "export")
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(folder, mode="exit"))
    assert "exited with code 3" in str(err.value) and "exiting on purpose" in str(err.value)
    assert not target.pids()


def test_scale_up_and_down(target, tmp_path):
    folder = make_service(tmp_path / "export")
    target.deploy(request(folder, replicaCount=1))
    first = target.pids()

    status = target.scale("dev", "hello", 3)
    assert status.desired == 3 and status.ready == 3
    assert first[0] in target.pids() and len(target.pids()) == 3
    doc = json.loads((target.file_sd_dir / "dev-hello.json").read_text())
    assert len(doc[0]["targets"]) == 3

    three = target.pids()
    status = target.scale("dev", "hello", 1)
    assert status.desired == 1 and target.pids() == first
    assert not any(processes.alive(p) for p in three if p not in first)
    assert len(json.loads((target.file_sd_dir / "dev-hello.json").read_text())[0]["targets"]) == 1

    target.scale("dev", "hello", 0)
    assert target.pids() == [] and json.loads((target.file_sd_dir / "dev-hello.json").read_text()) == []


def test_scale_of_unknown_service_is_a_clear_error(target):
    with pytest.raises(DeploymentFailed) as err:
        target.scale("dev", "nothere", 2)
    assert err.value.kind == "not-deployed" and "nothere" in str(err.value)


def test_crashed_replica_is_restarted_on_the_same_port(target, tmp_path):
    folder = make_service(tmp_path / "export")
    result = target.deploy(request(folder))
    address = result.deployment_uris_local[0].removeprefix("http://")
    old_pid = target.pids()[0]

    get(address, "/crash")
    assert wait_until(lambda: target.pids() and target.pids()[0] != old_pid
                      and target.status("dev", "hello").ready == 1)
    status = target.status("dev", "hello")
    assert status.replicas[0].restarts == 1 and status.replicas[0].address == address
    assert get(address)["PORT"] == address.split(":")[1]
    state = json.loads((target.work_dir / "state.json").read_text())
    assert state["replicas"][0]["pid"] == target.pids()[0]


def test_close_stops_replicas_and_their_children(tmp_path):
    target = LocalTarget(tmp_path / "work", stop_timeout=3)
    folder = make_service(tmp_path / "export")
    target.deploy(request(folder, replicaCount=2, child="1"))
    pids = target.pids()
    release_dirs = [p for p in (tmp_path / "work" / "releases").rglob("child.pid")]
    assert wait_until(lambda: sum(len(p.read_text().split()) for p in release_dirs) == 2)
    children = [int(x) for p in release_dirs for x in p.read_text().split()]
    assert all(processes.alive(p) for p in pids + children)

    target.close()

    assert not any(processes.alive(p) for p in pids + children)
    assert not (target.file_sd_dir / "dev-hello.json").exists()
    assert json.loads((tmp_path / "work" / "state.json").read_text())["replicas"] == []


def test_undeploy_stops_and_forgets(target, tmp_path):
    folder = make_service(tmp_path / "export")
    target.deploy(request(folder, replicaCount=2))
    pids = target.pids()
    target.undeploy("dev", "hello")
    assert not any(processes.alive(p) for p in pids)
    assert not target.status("dev", "hello").deployed
    assert not (target.file_sd_dir / "dev-hello.json").exists()
    target.undeploy("dev", "hello")      # idempotent


CRASHING_CONTROLLER = """
import sys, os, json
from pathlib import Path
from reconciler.targets.local import LocalTarget
from reconciler.targets.base import DeployRequest
t = LocalTarget(Path(sys.argv[1]))
t.deploy(DeployRequest("shop", "dev", "hello", "c" * 40, Path(sys.argv[2]), {"replicaCount": 2}))
print(json.dumps(t.pids()), flush=True)
os._exit(0)     # a crash: no close(), the replicas stay behind
"""


def crashed_controller(script: str, tmp_path) -> tuple[Path, list[int]]:
    """Run `script` (a controller that deploys two replicas and dies); its work dir and the
    PIDs it left running."""
    work = tmp_path / "work"
    folder = make_service(tmp_path / "export")
    out = subprocess.run([sys.executable, "-c", script, str(work), str(folder)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    stale = json.loads(out.stdout)
    assert len(stale) == 2 and all(processes.alive(p) for p in stale)
    return work, stale


def test_a_restarted_target_stops_stale_processes_it_can_prove_are_its_own(tmp_path):
    work, stale = crashed_controller(CRASHING_CONTROLLER, tmp_path)

    # a foreign process whose PID ends up in the state file must survive (PID reuse)
    foreign = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        state = json.loads((work / "state.json").read_text())
        state["replicas"].append({**state["replicas"][0], "pid": foreign.pid})
        (work / "state.json").write_text(json.dumps(state))

        target = LocalTarget(work, stop_timeout=3)
        try:
            assert not any(processes.alive(p) for p in stale)
            assert processes.alive(foreign.pid)
            assert [(r.stage, r.service, r.commit, r.replicas) for r in target.recovered] == \
                [("dev", "hello", "c" * 40, 2)]
            assert target.pids() == []
        finally:
            target.close()
    finally:
        foreign.kill()
        foreign.wait()


UNRECORDED_SPAWN = """
import sys, os, json
from pathlib import Path
from reconciler.targets.local import LocalTarget
from reconciler.targets.base import DeployRequest
t = LocalTarget(Path(sys.argv[1]))
t._save_state = lambda: None    # killed between spawning a replica and writing it down
t.deploy(DeployRequest("shop", "dev", "hello", "c" * 40, Path(sys.argv[2]), {"replicaCount": 2}))
print(json.dumps(t.pids()), flush=True)
os._exit(0)
"""


def test_a_restarted_target_finds_replicas_its_predecessor_never_recorded(tmp_path):
    work, stale = crashed_controller(UNRECORDED_SPAWN, tmp_path)
    assert json.loads((work / "state.json").read_text())["replicas"] == []

    target = LocalTarget(work, stop_timeout=3)
    try:
        assert not any(processes.alive(p) for p in stale)
        assert [(r.stage, r.service) for r in target.recovered] == [("dev", "hello")]
        assert json.loads((work / "state.json").read_text())["owners"] == [target._id]
    finally:
        target.close()


def test_missing_or_invalid_local_yaml_names_file_line_and_field(target, tmp_path):
    folder = tmp_path / "export" / "hello"
    folder.mkdir(parents=True)
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(folder))
    assert err.value.kind == "manifest-invalid" and "hello/local.yaml is missing" in str(err.value)

    (folder / "local.yaml").write_text("env: {}\ncommand: python -m app\n")
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(folder))
    assert "hello/local.yaml:2: field 'command'" in str(err.value) and "list of arguments" in str(err.value)

    (folder / "local.yaml").write_text("command: [python]\nstartTimeout: soon\n")
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(folder))
    assert "hello/local.yaml:2: field 'startTimeout'" in str(err.value)


def test_invalid_replica_count_is_rejected(target, tmp_path):
    folder = make_service(tmp_path / "export")
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(folder, replicaCount="many"))
    assert "replicaCount" in str(err.value)


def test_command_expands_variables_like_kubernetes(target, tmp_path):
    folder = make_service(tmp_path / "export", local_yaml=textwrap.dedent("""\
        command: [python, svc.py, "--port=$(PORT)", "$(NOPE)", "$$(PORT)"]
        """))
    target.deploy(request(folder))
    pid = target.pids()[0]
    argv = processes.cmdline(pid)
    port = json.loads((target.work_dir / "state.json").read_text())["replicas"][0]["port"]
    assert argv[0] == sys.executable
    assert argv[2:] == [f"--port={port}", "$(NOPE)", "$(PORT)"]
    assert MARKER_KEY.encode() in Path(f"/proc/{pid}/environ").read_bytes()


def test_value_env_and_file_sd_documents_are_pure_functions():
    env = value_env({"image": "a:1", "replicaCount": 2, "feature-flag": True, "x": None, "m": {"k": 1}})
    assert env["VALUE_IMAGE"] == "a:1" and env["VALUE_REPLICACOUNT"] == "2"
    assert env["VALUE_FEATURE_FLAG"] == "true" and "VALUE_X" not in env and "VALUE_M" not in env
    assert filesd.file_sd_groups("p", "s", "v", [], "/metrics") == []
    doc = filesd.file_sd_groups("p", "s", "v", ["127.0.0.1:2", "127.0.0.1:1"], "/m")
    assert doc[0]["targets"] == ["127.0.0.1:1", "127.0.0.1:2"]
    assert doc[0]["labels"]["__metrics_path__"] == "/m" and doc[0]["labels"]["job"] == "v-p-s"


@pytest.mark.prometheus
def test_prometheus_accepts_the_file_sd_files(target, tmp_path):
    folder = make_service(tmp_path / "export")
    target.deploy(request(folder, replicaCount=2))
    config = tmp_path / "prometheus.yml"
    config.write_text(textwrap.dedent(f"""\
        scrape_configs:
          - job_name: local-target
            file_sd_configs: [{{files: ["{target.file_sd_dir}/*.json"]}}]
        """))
    check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


# -- blue/green ----------------------------------------------------------------------------------

def served_image(address: str) -> str:
    return get(address)["VALUE_IMAGE"]


def test_blue_green_runs_the_new_version_beside_the_old_and_release_switches_the_balancer(target, tmp_path):
    from reconciler.targets.base import BLUE_GREEN
    folder = make_service(tmp_path / "export")
    first = target.deploy(request(folder, commit="1" * 40, replicaCount=2, image="hello:1", **{}))
    old_pids = set(target.pids())

    second = target.deploy(DeployRequest(project="shop", stage="dev", service="hello", commit="2" * 40,
                                         service_dir=folder, values={"image": "hello:2", "replicaCount": 1},
                                         strategy=BLUE_GREEN))
    [balancer] = second.deployment_uris_public
    balancer = balancer.removeprefix("http://")
    assert old_pids < set(target.pids())                                    # the old replicas still run
    assert {served_image(u.removeprefix("http://")) for u in second.deployment_uris_local} == {"hello:2"}
    assert {served_image(balancer) for _ in range(4)} == {"hello:1"}        # traffic stays on the old version
    assert "beside 11111111 (blue/green" in second.message
    doc = json.loads((target.file_sd_dir / "dev-hello.json").read_text())
    assert len(doc[0]["targets"]) == 3                                      # Prometheus sees both versions

    message = target.release("dev", "hello")
    assert message.startswith(f"switched {balancer} to hello at 22222222")
    assert {served_image(balancer) for _ in range(4)} == {"hello:2"}
    assert not any(processes.alive(p) for p in old_pids)
    assert target.status("dev", "hello").commit == "2" * 40
    assert target.release("dev", "hello") is None
    assert first.deployment_uris_public == first.deployment_uris_local     # direct: no balancer yet


def test_blue_green_rollback_drops_the_new_version_and_the_old_keeps_serving(target, tmp_path):
    from reconciler.targets.base import BLUE_GREEN

    def deploy(commit, image):
        return target.deploy(DeployRequest(project="shop", stage="dev", service="hello", commit=commit,
                                           service_dir=folder, values={"image": image, "replicaCount": 1},
                                           strategy=BLUE_GREEN))
    folder = make_service(tmp_path / "export")
    first = deploy("1" * 40, "hello:1")                                     # first deployment: no old version
    balancer = first.deployment_uris_public[0].removeprefix("http://")
    assert served_image(balancer) == "hello:1"
    released = set(target.pids())
    deploy("2" * 40, "hello:2")
    candidate = set(target.pids()) - released

    assert target.discard("dev", "hello") is True
    assert not any(processes.alive(p) for p in candidate) and set(target.pids()) == released
    assert served_image(balancer) == "hello:1"
    assert target.discard("dev", "hello") is False
    assert target.status("dev", "hello").commit == "1" * 40


def test_a_keptn_helm_service_without_local_yaml_says_what_to_do(target, tmp_path):
    folder = tmp_path / "export" / "hello"
    (folder / "helm" / "hello").mkdir(parents=True)
    (folder / "helm" / "hello" / "Chart.yaml").write_text("name: hello\nversion: 0.1.0\n")
    with pytest.raises(DeploymentFailed) as info:
        target.deploy(request(folder))
    assert "hello/local.yaml is missing" in str(info.value)
    assert "it has a Helm chart (helm/hello), which the local target does not run: add local.yaml" in str(info.value)
