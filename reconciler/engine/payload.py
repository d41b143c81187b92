"""How data flows from task to task, and how several executors' answers become one (Keptn f.2).

Every function here returns new containers and never changes its arguments, so the run state
can share unchanged subtrees with the events it has emitted (structural sharing keeps the
memory of thousands of runs small).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PASS, WARNING, FAIL = "pass", "warning", "fail"
SUCCEEDED, ERRORED, ABORTED, UNKNOWN = "succeeded", "errored", "aborted", "unknown"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` merged into `base`: objects merge key by key, anything else (lists too) replaces.

    Data here is decoded JSON, so objects are plain dicts (an ABC check costs 5× as much)."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if type(value) is dict and type(old) is dict:
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def merge_answer(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A task's `.finished` data merged into what the sequence carries, as Keptn merges it
    (shipyard-controller `common.Merge`): objects key by key, and a list meeting a list
    becomes the new entries followed by the old ones (keptn#7627: `deploymentURIsLocal[0]`
    is the latest stage's). Anything else replaces — including numbers and booleans, which
    Keptn's merge never replaces once an earlier task reported them (a bug we avoid)."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if type(value) is dict and type(old) is dict:
            out[key] = merge_answer(old, value)
        elif type(value) is list and type(old) is list:
            out[key] = value + old
        else:
            out[key] = value
    return out


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than deepcopy."""
    cls = type(value)
    if cls is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if cls is list:
        return [json_copy(v) for v in value]
    return value


def task_data(run_data: Mapping[str, Any], *, project: str, stage: str, service: str,
              result: str | None, status: str | None, task_name: str,
              properties: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of a task's `.triggered` event.

    `run_data` is the trigger data with every earlier task's merged `.finished` data already
    merged in order. Then: project/stage/service forced, result/status of the last completed
    task (none before the first task: the trigger's own result, if any, stays — that is how an
    approval sees the previous stage's result), the task's properties under `data.<task>`,
    and no `message`. The result shares unchanged subtrees with `run_data` (never mutate it;
    hand executors a `json_copy`).
    """
    data = deep_merge(run_data, {"project": project, "stage": stage, "service": service})
    if result is not None:
        data["result"] = result
    if status is not None:
        data["status"] = status
    if properties:
        data = deep_merge(data, {task_name: properties})
    if extra:
        data = deep_merge(data, extra)
    data.pop("message", None)
    return data


def aggregate(answers: Iterable[tuple[str | None, str | None]]) -> tuple[str, str]:
    """(result, status) of a task from every executor's `.finished` (result, status).

    result: fail if any result is neither pass nor warning (a missing one counts as fail),
    else warning if any warning, else pass. status: errored, else aborted, else succeeded when
    all succeeded, else unknown — and unknown forces the result to fail (Keptn). Our fix:
    errored forces fail too, so an errored sequence never passes a default selector and
    promotes (Keptn would report `pass`/`errored` and trigger the next stage).
    """
    results: list[str | None] = []
    statuses: list[str | None] = []
    for result, status in answers:
        results.append(result)
        statuses.append(status)
    if any(r not in (PASS, WARNING) for r in results) or not results:
        result = FAIL
    elif WARNING in results:
        result = WARNING
    else:
        result = PASS
    if ERRORED in statuses:
        status = ERRORED
    elif ABORTED in statuses:
        status = ABORTED
    elif statuses and all(s == SUCCEEDED for s in statuses):
        status = SUCCEEDED
    else:
        status = UNKNOWN
    if status in (UNKNOWN, ERRORED):
        result = FAIL
    return result, status


def stops_sequence(result: str, status: str) -> bool:
    """fail or errored ends the sequence; warning continues (Keptn f.2)."""
    return result == FAIL or status == ERRORED
