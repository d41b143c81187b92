"""The demo's monitoring stack: the Debian `prometheus` and `prometheus-alertmanager`.

Both listen on 127.0.0.1 with a port the kernel picks (read back from their "Listening on"
log line, so nothing collides with whatever else runs on the machine), are waited for with a
bounded readiness check, and are always stopped (SIGTERM, then SIGKILL).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LISTENING = re.compile(rb'msg="Listening on" address=127\.0\.0\.1:(\d+)')


class StackError(RuntimeError):
    """A stack component could not start; the message says which and why (log tail)."""


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, a bounded wait, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise StackError(f"{binary} is not installed; install the Debian package `{package}` "
                         f"(`make demo` does that) and try again")
    return path


def start(name: str, argv: Sequence[str], workdir: Path, ready_path: str, timeout: float = 30.0) -> ManagedProcess:
    """Start `argv` (which must listen on 127.0.0.1:0) and wait until `ready_path` answers 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(list(argv), stdout=sink, stderr=subprocess.STDOUT, cwd=workdir)
    deadline = time.monotonic() + timeout
    url = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"{name} exited with {process.returncode}:\n{_tail(log)}")
            if url is None:
                match = _LISTENING.search(log.read_bytes())
                if match:
                    url = f"http://127.0.0.1:{int(match.group(1))}"
            if url is not None:
                try:
                    with urllib.request.urlopen(url + ready_path, timeout=2) as response:
                        if response.status == 200:
                            return ManagedProcess(name, process, url, log)
                except OSError:
                    pass
            time.sleep(0.05)
        raise StackError(f"{name} was not ready within {timeout:.0f}s:\n{_tail(log)}")
    except BaseException:
        ManagedProcess(name, process, url or "", log).stop()
        raise


def _tail(log: Path, size: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def prometheus_config(file_sd_dir: Path, rules_file: Path | None, alertmanager: str | None,
                      interval: str = "1s") -> str:
    lines = [f"global: {{scrape_interval: {interval}, evaluation_interval: {interval}}}"]
    if rules_file is not None:
        lines.append(f"rule_files: ['{rules_file}']")
    if alertmanager:
        host = alertmanager.split("://", 1)[-1]
        lines.append(f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['{host}']}}]}}]}}")
    lines += ["scrape_configs:",
              "  - job_name: services   # each target's own `job` label (file SD) wins",
              f"    file_sd_configs: [{{files: ['{file_sd_dir}/*.json'], refresh_interval: 1s}}]"]
    return "\n".join(lines) + "\n"


def start_prometheus(workdir: Path, config: str) -> ManagedProcess:
    binary = require("prometheus", "prometheus")
    (workdir / "prometheus.yml").parent.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(config)
    return start("prometheus", [binary, f"--config.file={workdir / 'prometheus.yml'}",
                                f"--storage.tsdb.path={workdir / 'tsdb'}", "--web.listen-address=127.0.0.1:0",
                                "--web.enable-lifecycle"], workdir, "/-/ready")


def alertmanager_config(webhook_url: str, token: str) -> str:
    return (
        "route:\n  receiver: reconciler\n  group_by: [alertname, stage, service]\n"
        "  group_wait: 1s\n  group_interval: 5s\n  repeat_interval: 1h\n"
        "receivers:\n  - name: reconciler\n    webhook_configs:\n"
        f"      - url: {webhook_url}\n        send_resolved: true\n"
        f"        http_config: {{authorization: {{type: Bearer, credentials: '{token}'}}}}\n")


def start_alertmanager(workdir: Path, config: str) -> ManagedProcess:
    binary = require("prometheus-alertmanager", "prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(config)
    return start("alertmanager", [binary, f"--config.file={workdir / 'alertmanager.yml'}",
                                  f"--storage.path={workdir / 'data'}", "--web.listen-address=127.0.0.1:0",
                                  "--cluster.listen-address="], workdir, "/-/ready")


def reload_prometheus(prometheus: ManagedProcess) -> None:
    request = urllib.request.Request(prometheus.url + "/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
