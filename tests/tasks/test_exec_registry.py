"""Which executors answer a task (job config first, then the built-in), and the job glue."""
from __future__ import annotations

from reconciler.spec.settings import Settings
from reconciler.tasks.base import TaskOutcome
from reconciler.tasks.common import BuiltinExecutor, safe_run
from reconciler.tasks.job import JobExecutor, resolve_jobconfig
from reconciler.tasks.registry import Registry, executors_for
from tests.support.taskenv import stage_branches

CHECK = """\
import os, sys
print("checking", sys.argv[1], os.environ["KEPTN_STAGE"])
sys.exit(int(os.environ.get("FAIL", "0")))
"""


def job_config(event: str, *, name: str = "Run checks", silent: bool = False, fail: bool = False) -> str:
    return f"""\
apiVersion: v2
actions:
  - name: {name}
    silent: {str(silent).lower()}
    events:
      - name: "{event}"
    tasks:
      - name: check
        files: [job/check.py]
        cmd: [python]
        args: [/keptn/job/check.py, $(KEPTN_SERVICE)]
        env:
          - {{name: FAIL, value: "{1 if fail else 0}", valueFrom: string}}
"""


def names(env, task, stage="dev", service="carts", **data):
    return [e.name for e in executors_for(env.request(task, stage, service, data), env)]


def test_builtins_answer_their_tasks(make_env):
    settings = Settings.from_data({"spec": {"stages": {"production": {"target": "none"},
                                                       "staging": {"target": "external"}}}})
    env, _ = make_env(stage_branches(), settings=settings)
    for task in ("evaluation", "approval", "get-action", "rollback", "release"):
        assert names(env, task) == [task]
    assert names(env, "deployment") == ["deployment"]
    assert names(env, "deployment", stage="production") == ["deployment"]        # target: none records the change
    assert names(env, "deployment", stage="staging") == []                        # target: external: an integration
    assert names(env, "action", action={"action": "scaling", "value": "1"}) == ["scaling"]
    assert names(env, "action", action={"action": "featuretoggle"}) == []        # an external provider's
    assert names(env, "test") == []                                               # waits for an external executor


def test_job_config_answers_first_and_alongside_the_builtin(make_env):
    env, _ = make_env(stage_branches(dev={"carts/job/config.yaml": job_config("sh.keptn.event.deployment.triggered"),
                                          "carts/job/check.py": CHECK}))
    assert names(env, "deployment") == ["job-executor", "deployment"]
    assert names(env, "deployment", service="orders") == ["deployment"]         # service-level file only
    assert names(env, "evaluation") == ["evaluation"]


def test_job_config_lookup_is_service_then_stage_then_project(make_env):
    branches = stage_branches(dev={"job/config.yaml": job_config("sh.keptn.event.test.triggered", name="stage"),
                                   "carts/job/config.yaml": job_config("sh.keptn.event.test.triggered", name="service")})
    env, _ = make_env(branches)
    # added after the stage branches were forked from main, so only main has it
    project = job_config("sh.keptn.event.test.triggered", name="project").encode()
    env.writer.write("main", lambda tip: {"job/config.yaml": project}, "project job config")
    found = {(stage, svc): resolve_jobconfig(env, stage, svc, env.mirror.tip(stage))
             for stage, svc in (("dev", "carts"), ("dev", "orders"), ("staging", "carts"))}
    assert found[("dev", "carts")].source == "dev:carts/job/config.yaml"
    assert found[("dev", "carts")].config.actions[0].name == "service"
    assert found[("dev", "orders")].source == "dev:job/config.yaml"
    assert found[("staging", "carts")].source == "main:job/config.yaml"
    assert names(env, "test", stage="staging") == ["job-executor"]


def test_job_runs_locally_and_reports_the_test_window(make_env):
    env, _ = make_env(stage_branches(dev={"carts/job/config.yaml": job_config("sh.keptn.event.test.triggered"),
                                          "carts/job/check.py": CHECK}))
    outcome = JobExecutor().run(env.request("test", "dev", "carts"), env)
    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    assert outcome.data["test"]["start"] <= outcome.data["test"]["end"]
    [task] = outcome.data["jobExecutor"]["tasks"]
    assert task["output"].strip() == "checking carts dev"
    assert "dev:carts/job/config.yaml" in outcome.message


def test_failing_job_fails_and_silent_actions_do_not_answer(make_env):
    env, _ = make_env(stage_branches(dev={"carts/job/config.yaml": job_config("sh.keptn.event.test.triggered", fail=True),
                                          "carts/job/check.py": CHECK},
                                     staging={"carts/job/config.yaml": job_config("sh.keptn.event.test.triggered",
                                                                                 silent=True)}))
    outcome = JobExecutor().run(env.request("test", "dev", "carts"), env)
    assert (outcome.result, outcome.status) == ("fail", "errored")
    assert "task 'check' failed" in outcome.message
    assert names(env, "test", stage="staging") == []


def test_an_unreadable_job_config_answers_errored_naming_the_file(make_env):
    env, _ = make_env(stage_branches(dev={"carts/job/config.yaml": "apiVersion: v1\nactions: []\n"}))
    assert names(env, "test") == ["job-executor"]
    outcome = JobExecutor().run(env.request("test", "dev", "carts"), env)
    assert outcome.status == "errored" and "dev:carts/job/config.yaml" in outcome.message


class Exploding(BuiltinExecutor):
    name = "exploding"
    task = "explode"

    def execute(self, request, env):
        raise KeyError("deep inside")


class RaisesFromRun:
    name = "raw"

    def applies(self, request, env):
        return request.task == "explode"

    def run(self, request, env):
        raise RuntimeError("line one\nline two of a traceback-like text")


def test_exceptions_become_errored_outcomes_without_tracebacks(make_env):
    env, _ = make_env(stage_branches())
    registry = Registry([Exploding(), RaisesFromRun()])
    request = env.request("explode", "dev", "carts")
    executors = registry.executors_for(request, env)
    assert [e.name for e in executors] == ["exploding", "raw"]
    outcomes = [safe_run(e, request, env) for e in executors]
    assert all(isinstance(o, TaskOutcome) and (o.result, o.status) == ("fail", "errored") for o in outcomes)
    assert outcomes[0].message == "the exploding executor failed unexpectedly: KeyError: 'deep inside'"
    assert outcomes[1].message == "the raw executor failed unexpectedly: RuntimeError: line one"
    assert registry.by_name("raw") is executors[1] and registry.by_name("job-executor") is registry.job
