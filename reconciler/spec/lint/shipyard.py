"""Shipyard lint: what Keptn 1.x accepts but does not do what the author meant, and what
it rejects only when the project is created or a sequence is triggered."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from reconciler import layout
from reconciler.spec.findings import DataPath, Issue, error, warning
from reconciler.spec.lint.access import (
    ENTITY_NAME,
    ENTITY_NAME_MAX,
    ENTITY_RULE,
    as_dict,
    as_list,
    as_str,
    entries,
    suggest_entity_name,
)
from reconciler.spec.settings import parse_duration
from reconciler.spec.shipyard import IMPLICIT_EVALUATION

RESULTS = ("pass", "warning", "fail")
APPROVAL_VALUES = ("automatic", "manual")
DEPLOYMENT_STRATEGIES = ("direct", "blue_green_service", "user_managed")
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$")
_PREFIX = "spec.keptn.sh/"
_LEGACY_STAGE_KEYS = ("deployment_strategy", "test_strategy", "approval_strategy", "remediation_strategy")


def is_legacy(data: Any) -> bool:
    """Keptn ≤ 0.7 shipyard: no apiVersion, a top-level `stages` list."""
    return isinstance(data, dict) and "apiVersion" not in data and isinstance(data.get("stages"), list)


def legacy_issue(data: dict[str, Any]) -> Issue:
    stages = [s["name"] for s in as_list(data.get("stages"))
              if isinstance(s, dict) and isinstance(s.get("name"), str)]
    chain = ", ".join(stages) if stages else "one per stage"
    return error(
        "legacy-shipyard",
        "pre-0.2 shipyard (Keptn ≤ 0.7: top-level `stages` with *_strategy keys, no apiVersion), rejected by "
        "Keptn ≥ 0.8. Convert it to `apiVersion: spec.keptn.sh/0.2.3` with a `delivery` sequence per stage "
        f"({chain}) chained by `triggeredOn: [{{event: <previous stage>.delivery.finished}}]`; "
        "docs/validation.md#legacy-shipyard shows the mapping",
        ("stages",), key=True)


def unknown_key(path: DataPath, key: str, known: list[str]) -> Issue | None:
    """Special messages for the two unknown keys that change behaviour silently."""
    if key == "triggers" and "triggeredOn" in known:
        return warning(
            "legacy-triggers",
            "`triggers:` is the pre-release Keptn 0.8 syntax; released Keptn ignores it, so this sequence is "
            "never started by another one. Write `triggeredOn: [{event: <stage>.<sequence>.finished}]` instead",
            path + (key,), key=True)
    if len(path) >= 2 and path[-1] == "selector" and "match" in known:
        return warning(
            "selector-misindented",
            f"`{key}` sits beside `match:` instead of under it, so Keptn ignores it and the sequence starts on "
            f"pass or warning; indent it under `match:` (e.g. `match: {{{key}: ...}}`)",
            path + (key,), key=True)
    return None


def lint(data: Any) -> list[Issue]:
    if not isinstance(data, dict):
        return []
    issues: list[Issue] = []
    issues += _version(data)
    kind = data.get("kind")
    if isinstance(kind, str) and kind != "Shipyard":
        issues.append(warning("unexpected-kind", f"`kind` is {kind!r}; a shipyard says `kind: Shipyard` "
                              "(Keptn does not check it)", ("kind",)))
    spec = as_dict(data.get("spec"))
    stage_items = list(entries(spec, "stages", ("spec",)))
    sequences = _sequence_index(stage_items)
    seen_stages: set[str] = set()
    for path, stage in stage_items:
        name = as_str(stage.get("name"))
        if name is not None:
            issues += _stage_name(name, path + ("name",), seen_stages)
        seen_seq: set[str] = set()
        for spath, seq in entries(stage, "sequences", path):
            issues += _sequence(spath, seq, seen_seq, sequences)
    return issues


def _version(data: dict[str, Any]) -> list[Issue]:
    api = data.get("apiVersion")
    if not isinstance(api, str):
        return []
    fix = "write `apiVersion: spec.keptn.sh/0.2.3`"
    if not api.startswith(_PREFIX):
        return [error("shipyard-version", f"apiVersion {api!r} is not a shipyard version; {fix}", ("apiVersion",))]
    m = _VERSION.match(api[len(_PREFIX):])
    if not m:
        return [error("shipyard-version", f"Keptn cannot parse the shipyard version in {api!r}; {fix}",
                      ("apiVersion",))]
    major, minor = int(m.group(1)), int(m.group(2))
    if (major, minor) < (0, 2):
        return [error("shipyard-version", f"{api} is older than 0.2, which Keptn ≥ 0.8 rejects; {fix} "
                      "and convert the file (see docs/validation.md#legacy-shipyard)", ("apiVersion",))]
    if (major, minor) > (0, 2):
        return [warning("shipyard-version", f"{api} is newer than any Keptn shipyard (0.2.4); it is read as 0.2",
                        ("apiVersion",))]
    return []


def _stage_name(name: str, path: DataPath, seen: set[str]) -> list[Issue]:
    out: list[Issue] = []
    if name in seen:
        out.append(error("duplicate-stage", f"stage {name!r} is defined twice; stage names must be unique "
                         "(each one is a branch)", path))
    seen.add(name)
    if not ENTITY_NAME.match(name):
        why = "dots break Keptn's event types; " if "." in name else ""
        out.append(error("invalid-stage-name", f"stage name {name!r} is not a valid Keptn entity name ({why}"
                         f"{ENTITY_RULE}), so Keptn rejects the project; write e.g. {suggest_entity_name(name)!r}",
                         path))
    elif len(name) > ENTITY_NAME_MAX:
        out.append(warning("long-stage-name", f"stage name {name!r} is {len(name)} characters; Keptn allows at "
                           f"most {ENTITY_NAME_MAX} (Helm release names)", path))
    return out


def _sequence_index(stage_items: Iterable[tuple[DataPath, dict[str, Any]]]) -> dict[str, dict[str, list[str]]]:
    """stage → sequence → task names (first definition wins, like Keptn's lookup)."""
    index: dict[str, dict[str, list[str]]] = {}
    for path, stage in stage_items:
        name = as_str(stage.get("name"))
        if name is None or name in index:
            continue
        seqs: dict[str, list[str]] = {}
        for _, seq in entries(stage, "sequences", path):
            sname = as_str(seq.get("name"))
            if sname is not None and sname not in seqs:
                seqs[sname] = [t["name"] for t in as_list(seq.get("tasks"))
                               if isinstance(t, dict) and isinstance(t.get("name"), str)]
        seqs.setdefault(IMPLICIT_EVALUATION, [layout.TASK_EVALUATION])
        index[name] = seqs
    return index


def _name_issues(what: str, name: str, path: DataPath) -> list[Issue]:
    if not name.strip():
        return [error("invalid-name", f"{what} name is empty; give it a name", path)]
    if "." in name:
        return [error("dot-in-name", f"{what} name {name!r} contains a dot; Keptn classifies events by counting "
                      f"dots, so its events are misrouted and it never runs; write {name.replace('.', '-')!r}", path)]
    return []


def _sequence(path: DataPath, seq: dict[str, Any], seen: set[str],
              index: dict[str, dict[str, list[str]]]) -> list[Issue]:
    out: list[Issue] = []
    name = as_str(seq.get("name"))
    if name is not None:
        out += _name_issues("sequence", name, path + ("name",))
        if name in seen:
            out.append(warning("duplicate-sequence", f"sequence {name!r} is defined twice in this stage; Keptn "
                               "uses only the first one", path + ("name",)))
        seen.add(name)
    tasks = seq.get("tasks")
    if tasks is None or tasks == []:
        where = path + ("tasks",) if "tasks" in seq else path
        # A warning, as Keptn loads such a shipyard: only this sequence fails, when triggered.
        out.append(warning("empty-tasks", f"sequence {name!r} has no tasks; it fails as soon as it is "
                           "triggered ('does not contain any tasks'), as in Keptn; add at least one task", where,
                           key="tasks" in seq))
    tested = False
    for tpath, task in entries(seq, "tasks", path):
        out += _task(tpath, task)
        if task.get("name") == "test":
            tested = True
        elif task.get("name") == "evaluation" and not tested:
            props = as_dict(task.get("properties"))
            if not any(props.get(k) for k in ("timeframe", "start", "end")):
                out.append(warning(
                    "evaluation-window", "this evaluation has no `timeframe` and no `test` task before it in the "
                    "sequence, so its window can only come from data the trigger carries (a `test` of the stage "
                    "that triggered it, or an API trigger's evaluation.start/end); without one it errors "
                    "(\"does not contain evaluation timeframe\"). Add `properties: {timeframe: 5m}`",
                    tpath + ("name",)))
    for trig_path, trig in entries(seq, "triggeredOn", path):
        out += _trigger(trig_path, trig, index)
    return out


def _task(path: DataPath, task: dict[str, Any]) -> list[Issue]:
    out: list[Issue] = []
    name = as_str(task.get("name"))
    if name is not None:
        out += _name_issues("task", name, path + ("name",))
    for field, consequence in (("triggeredAfter", "Keptn ignores it and triggers the task at once"),
                               ("timeout", "the default task timeout applies")):
        value = task.get(field)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and field == "triggeredAfter":
            out.append(warning("bad-duration", f"`{field}: {value}` has no unit; {consequence}. Write e.g. "
                               f"\"{value}s\" or \"{value}m\"", path + (field,)))
            continue
        if not _duration_ok(value):
            out.append(warning("bad-duration", f"`{field}` {value!r} is not a duration; {consequence}. "
                               "Write e.g. \"10m\" or \"90s\"", path + (field,)))
    props = as_dict(task.get("properties"))
    if name == layout.TASK_APPROVAL:
        if "properties" not in task or not props or not ({"pass", "warning"} & set(props)):
            out.append(warning("approval-waits", "this approval has no pass/warning properties, so it waits for a "
                               "person whatever the result (Keptn's approval-service; its docs say automatic). "
                               "Write `properties: {pass: automatic, warning: manual}` to say what you mean",
                               path + (("properties",) if "properties" in task else ("name",))))
        for key in ("pass", "warning"):
            if key in props and props[key] not in APPROVAL_VALUES:
                out.append(warning("approval-value", f"approval `{key}` is {props[key]!r}; only `automatic` or "
                                   "`manual` are understood, anything else waits for a person",
                                   path + ("properties", key)))
    elif name == layout.TASK_DEPLOYMENT:
        strategy = props.get("deploymentstrategy")
        if strategy is not None and strategy not in DEPLOYMENT_STRATEGIES:
            out.append(warning("unknown-strategy", f"deploymentstrategy {strategy!r} is not one of "
                               f"{', '.join(DEPLOYMENT_STRATEGIES)}", path + ("properties", "deploymentstrategy")))
    elif name == layout.TASK_EVALUATION:
        timeframe = props.get("timeframe")
        if timeframe is not None and not _duration_ok(timeframe):
            out.append(warning("bad-duration", f"evaluation timeframe {timeframe!r} is not a duration; write e.g. "
                               "\"5m\"", path + ("properties", "timeframe")))
    return out


def _duration_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_duration(value)
        return True
    except ValueError:
        return False


def _trigger(path: DataPath, trig: dict[str, Any], index: dict[str, dict[str, list[str]]]) -> list[Issue]:
    out: list[Issue] = []
    event = as_str(trig.get("event"))
    source_tasks: list[str] | None = None
    if event is not None:
        parts = event.split(".")
        if event.startswith("sh.keptn.event."):
            short = event[len("sh.keptn.event."):]
            out.append(warning("bad-trigger-event", f"triggeredOn event {event!r} uses the long form, which never "
                               f"matches; write the short form {short!r}", path + ("event",)))
        elif len(parts) != 3 or not all(parts) or parts[2] != "finished":
            out.append(warning("bad-trigger-event", f"triggeredOn event {event!r} is not `<stage>.<sequence>."
                               "finished`, so it never matches and this sequence is never started by it",
                               path + ("event",)))
        else:
            stage, seq = parts[0], parts[1]
            if stage not in index:
                known = ", ".join(index) or "none"
                out.append(warning("trigger-unknown-stage", f"triggeredOn {event!r} names stage {stage!r}, which "
                                   f"this shipyard does not have (stages: {known}); the sequence never starts "
                                   "from it", path + ("event",)))
            elif seq not in index[stage]:
                known = ", ".join(s for s in index[stage] if s != IMPLICIT_EVALUATION) or "none"
                out.append(warning("trigger-unknown-sequence", f"triggeredOn {event!r} names sequence {seq!r}, "
                                   f"which stage {stage!r} does not have (sequences: {known}); the sequence "
                                   "never starts from it", path + ("event",)))
            else:
                source_tasks = index[stage][seq]
    selector = trig.get("selector")
    if isinstance(selector, dict):
        out += _selector(path + ("selector",), selector, source_tasks, event)
    return out


def _selector(path: DataPath, selector: dict[str, Any], source_tasks: list[str] | None,
              event: str | None) -> list[Issue]:
    out: list[Issue] = []
    match = as_dict(selector.get("match"))
    mpath = path + ("match",)
    useful = 0
    for key, value in match.items():
        key = str(key)
        if key == "result":
            useful += 1
        elif key.endswith(".result"):
            task = key[: -len(".result")]
            useful += 1
            if source_tasks is not None and task not in source_tasks:
                out.append(warning("selector-unknown-task", f"selector `{key}` looks at task {task!r}, which "
                                   f"{event} does not run (tasks: {', '.join(source_tasks) or 'none'}); it never "
                                   "matches", mpath + (key,), key=True))
        else:
            out.append(warning("selector-key", f"selector key {key!r} is ignored by Keptn; only `result` and "
                               "`<task>.result` are looked at", mpath + (key,), key=True))
        text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        if text == "failed":
            out.append(warning("selector-failed", f"`{key}: failed` never matches in Keptn because the result is "
                               "`fail` (Keptn's docs show `failed`); reconciler reads it as `fail`. Write `fail`",
                               mpath + (key,)))
        elif text not in RESULTS:
            out.append(warning("selector-value", f"`{key}: {text}` never matches; results are pass, warning "
                               "or fail", mpath + (key,)))
    if match and not useful:
        out.append(warning("selector-key", "this selector has no `result` or `<task>.result` key, so the sequence "
                           "never starts from this trigger", mpath, key=True))
    return out
