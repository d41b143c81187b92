"""Does a finished sequence start a `triggeredOn` listener (Keptn f.3)?

Keptn consults exactly two selector keys: `result` and `<last task that ran>.result`, and
compares them as strings. A listener without a selector (or with an empty `match`, which is
what a mis-indented selector decodes to) fires on pass *and* warning. Our one deliberate
difference: the value `failed`, which Keptn's own docs use and which never matched there,
is read as `fail` (the validator warns about it).
"""
from __future__ import annotations

from collections.abc import Mapping

from reconciler.spec.shipyard import Sequence, Shipyard, Stage, TriggeredOn

PASS, WARNING, FAIL = "pass", "warning", "fail"
_ALIASES = {"failed": FAIL}


def normalize_result(value: str | None) -> str | None:
    """Selector values as we compare them: `failed` → `fail`, everything else unchanged."""
    if value is None:
        return None
    return _ALIASES.get(value, value)


def selector_matches(match: Mapping[str, str] | None, result: str, last_task: str | None) -> bool:
    """Keptn's rule for one `selector.match` against a finished sequence's result.

    `last_task` is the name of the last task that actually ran (the one that failed when the
    sequence stopped early); None when no task ran.
    """
    if not match:
        return result in (PASS, WARNING)
    if normalize_result(match.get("result")) == result:
        return True
    return last_task is not None and normalize_result(match.get(f"{last_task}.result")) == result


def fires(trigger: TriggeredOn, result: str, last_task: str | None) -> bool:
    """Does this `triggeredOn` entry fire for a sequence that finished with `result`?"""
    match = trigger.selector.match if trigger.selector is not None else None
    return selector_matches(match, result, last_task)


def followups(shipyard: Shipyard, stage: str, sequence: str, result: str,
              last_task: str | None) -> list[tuple[Stage, Sequence]]:
    """Every (stage, sequence) of the *current* shipyard that `<stage>.<sequence>.finished` starts.

    In shipyard order; one entry per sequence even when several of its triggeredOn entries
    match (Keptn triggers a sequence once per finished event). Several stages listening to
    one event is how parallel stages work.
    """
    event = f"{stage}.{sequence}.finished"
    out: list[tuple[Stage, Sequence]] = []
    seen: set[tuple[str, str]] = set()
    for st, seq, trig in shipyard.listeners(event):
        if (st.name, seq.name) in seen:
            continue
        if fires(trig, result, last_task):
            seen.add((st.name, seq.name))
            out.append((st, seq))
    return out
