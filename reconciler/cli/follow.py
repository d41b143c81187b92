"""`trigger … --wait`: follow a context in the controller's index until every sequence of it
has ended, printing a line each time a task moves, and say how it ended.

It reads the index (the runs) and the work dir's mirror (their tasks), so it needs the work
dir of the controller, not its API. Bounded: it gives up after `timeout` seconds."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from reconciler.cli.output import EXIT_ERRORED, EXIT_FAILED, EXIT_OK

TERMINAL = ("finished", "aborted", "timedOut")
POLL_SECONDS = 0.5
SETTLE_POLLS = 2        # no active run seen this many times in a row: follow-ups had their chance


@dataclass
class Outcome:
    context: str
    result: str                     # pass, warning, fail, errored, timeout
    runs: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    @property
    def exit_code(self) -> int:
        if self.result in ("pass", "warning"):
            return EXIT_OK
        if self.result == "fail":
            return EXIT_FAILED
        return EXIT_ERRORED

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result, "message": self.message,
                "sequences": [{k: r.get(k) for k in ("stage", "service", "sequence", "state", "result", "status",
                                                     "message")} for r in self.runs]}


def verdict(runs: list[dict[str, Any]]) -> tuple[str, str]:
    """(result, message) of a context whose runs all ended: the worst of them."""
    errored = [r for r in runs if r.get("status") == "errored" or r["state"] == "timedOut"]
    failed = [r for r in runs if r.get("result") == "fail"]
    if errored:
        worst = errored[0]
        why = worst.get("message") or worst["state"]
        return "errored", f"{worst['stage']}/{worst['service']} {worst['sequence']}: {why}"
    if failed:
        worst = failed[0]
        return "fail", f"{worst['stage']}/{worst['service']} {worst['sequence']}: {worst.get('message') or 'fail'}"
    if any(r.get("result") == "warning" for r in runs):
        return "warning", ""
    return "pass", ""


def follow(workdir: Path, context: str, *, timeout: float, progress: bool = True,
           clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    from reconciler.cli.common import open_index
    from reconciler.cli.workdir import read_results_json
    from reconciler.runtime.service import INDEX_FILE

    index = None
    deadline = clock() + timeout
    seen: dict[tuple[str, Any], tuple[Any, ...]] = {}
    quiet = 0
    say = click.echo if progress else (lambda *_a, **_k: None)
    say(f"waiting for context {context} (Ctrl-C stops waiting; the sequence goes on)")
    try:
        while clock() < deadline:
            if index is None and (workdir / INDEX_FILE).exists():
                index = open_index(workdir)
            found = index.runs(context=context, limit=1000) if index is not None else []
            runs = sorted(found, key=lambda r: (r.get("triggered_at") or 0, r["id"]))
            for r in runs:
                lane = read_results_json(workdir, r["path"]) or {}
                stored = next((x for x in lane.get("runs") or [] if isinstance(x, dict) and x.get("id") == r["id"]), {})
                where = f"{r['stage']}/{r['service']} {r['sequence']}"
                for t in stored.get("tasks") or []:
                    if not isinstance(t, dict) or t.get("state") in (None, "pending"):
                        continue
                    key = (r["id"], t.get("index"))
                    now = (t.get("state"), t.get("result"), t.get("status"))
                    if seen.get(key) != now:
                        seen[key] = now
                        tail = f" {t['result']}" if t.get("result") else ""
                        tail += f" ({t['status']})" if t.get("status") not in (None, "succeeded") else ""
                        if t.get("message") and t.get("result") not in (None, "pass"):
                            tail += f": {' '.join(str(t['message']).split())[:200]}"
                        say(f"  {where}: {t.get('name')} {t.get('state')}{tail}")
                key = (r["id"], "run")
                if r["state"] in TERMINAL and seen.get(key) != (r["state"],):
                    seen[key] = (r["state"],)
                    say(f"{where}: {r['state']}, result {r.get('result') or '-'}"
                        + (f" ({r['status']})" if r.get("status") not in (None, "succeeded") else "")
                        + (f": {r['message']}" if r.get("message") and r.get("result") != "pass" else ""))
            if runs and all(r["state"] in TERMINAL for r in runs):
                quiet += 1
                if quiet >= SETTLE_POLLS:
                    result, message = verdict(runs)
                    return Outcome(context, result, runs, message)
            else:
                quiet = 0
            sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return Outcome(context, "interrupted", [], "stopped waiting (Ctrl-C); the sequence goes on")
    finally:
        if index is not None:
            index.close()
    return Outcome(context, "timeout", [], f"still running after {timeout:g}s; follow it with "
                                           f"`reconciler get sequence {context[:8]} --watch`")
