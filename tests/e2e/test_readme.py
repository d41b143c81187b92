"""Issue 10 item 6: "Using it with your repository" in the README works as written — the
commands and the Prometheus config are taken from the README itself (paths moved into the
test's folder), and a push to dev is delivered, tested and evaluated against real scrapes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler import contract
from reconciler.cli import main
from reconciler.controller.executors import BuiltinExecutors
from tests.support.controller import start_service
from tests.support.prometheus import running_prometheus
from tests.support.remotes import Human, git_out
from tests.support.waiting import wait_until

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_section() -> str:
    text = README.read_text()
    start = text.index("## Using it with your repository")
    return text[start:text.index("\n## ", start + 3)]


def shell_block(section: str) -> str:
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_steps_deliver_a_push_with_a_real_quality_gate(tmp_path):
    block = shell_block(readme_section())
    repo, workdir = tmp_path / "srv" / "hello.git", tmp_path / "var" / "reconciler"
    moved = block.replace("/srv/hello.git", str(repo)).replace("/var/lib/reconciler", str(workdir))
    commands = [line.split("#")[0].strip() for line in moved.splitlines() if line.startswith("reconciler ")]
    assert [c.split()[1] for c in commands] == ["init", "validate", "serve"]

    runner = CliRunner()
    for command in commands[:2]:
        result = runner.invoke(main, command.split()[1:], catch_exceptions=False)
        assert result.exit_code == 0, (command, result.output)

    config = re.search(r"<<'EOF'\n(.*?)\nEOF\n", moved, re.S).group(1)
    assert f"{workdir}/prometheus/targets/*.json" in config
    serve = commands[2].split()
    options = dict(zip(serve[2::2], serve[3::2], strict=True))
    assert options["--repo"] == str(repo) and options["--workdir"] == str(workdir)

    with running_prometheus(tmp_path / "prometheus", config=config) as prom:
        service = start_service(options["--repo"], Path(options["--workdir"]), executors=BuiltinExecutors(),
                                poll=0.05, environ={"RECONCILER_PROMETHEUS_URL": prom.url})
        try:
            dev = Human(str(repo), tmp_path / "clone", "dev")
            dev.change("helloservice/values.yaml",
                       "# Deployed by the reconciler: changing `image` here starts the dev delivery.\n"
                       "image: helloservice:1.1.0\nreplicaCount: 1\n", "ship 1.1.0")
            run = wait_until(lambda: [r for r in service.index.runs(stage="dev", limit=10)
                                      if r["state"] == "finished"], timeout=120, what="the dev delivery")[0]
            assert (run["result"], run["status"]) == ("pass", "succeeded"), run
            [evaluation] = service.index.evaluations(stage="dev", service="helloservice")
            doc = json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{evaluation['path']}", cwd=repo))
            values = {v["metric"]: v for v in doc["sli_values"]}
            assert values and all(v.get("success") for v in values.values()), values   # real samples, no gaps
        finally:
            service.stop()
