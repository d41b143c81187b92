"""Prometheus SLI batching and answers, pure: which PromQL to send, how to read what comes back.

Up to `batch_size` SLI queries travel in one request: each query is tagged with its own value
of the label `reconciler_sli` and the tagged queries are OR-ed, so the answer splits back into
one result per SLI (`batch_query` / `split_answer`). A batch that fails is narrowed down
(`parts`) until the failure belongs to one query, which is then asked alone. `client` does the
HTTP; nothing here does I/O.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from reconciler.quality.values import SliValue

TAG = "reconciler_sli"          # the label that says which query of a batch a series answers
_OR = " or "


def chunks(items: Sequence[tuple[str, str]], size: int) -> list[Sequence[tuple[str, str]]]:
    """`items` in order, cut into the fewest batches of at most `size`, of near-equal length
    (30 queries at 25 become 15 + 15, not 25 + 5: the batches finish together)."""
    return cut(items, -(-len(items) // max(1, size)))


def cut(items: Sequence[tuple[str, str]], count: int) -> list[Sequence[tuple[str, str]]]:
    """`items` in order, in `count` parts whose lengths differ by at most one."""
    cuts = [len(items) * k // count for k in range(count + 1)] if count else []
    return [items[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]


_FAN_OUT = 4


def parts(batch: Sequence[tuple[str, str]], answer: tuple[int, Any] | None) -> list[Sequence[tuple[str, str]]]:
    """How to ask a failed batch again; the parts are asked concurrently.

    * No answer in time, or Prometheus gave up: which query was slow is unknown, and halving
      would wait out the timeout once per level, so every query is asked alone at once.
    * A parse error that points at one query (scalars, range vectors and syntax errors all
      do): that query alone, the rest as one batch.
    * Any other error (an execution error names no query): four parts, so that a bad query
      among 25 is found in three rounds of requests rather than five, for about as many
      requests (11) as halving.

    Every failed batch splits into at least two parts, so a batch of n costs at most 2n − 1
    requests whatever Prometheus answers.
    """
    if answer is None or error_type(answer[1]) == "timeout":
        return [[item] for item in batch]
    culprit = blamed_query([query for _, query in batch], answer[1])
    if culprit is not None:
        return [[batch[culprit]], [item for k, item in enumerate(batch) if k != culprit]]
    return cut(batch, min(len(batch), _FAN_OUT))


# --------------------------------------------------------------------------- the batch format

def batch_query(queries: Sequence[str]) -> str:
    """One PromQL expression answering all `queries`, each series tagged `reconciler_sli="<i>"`.

    The tag keeps the answers apart: PromQL's `or` drops a right-hand series whose labels
    (ignoring the metric name) equal a left-hand one's, so `sum(a) or sum(b)` would lose b.
    Each query ends with a newline so that a trailing `# comment` cannot swallow the rest. A
    query whose series already carry the label gets it overwritten; if that merges two of its
    series, Prometheus rejects the batch and the query is asked alone. Scalars, range vectors
    and strings cannot be tagged either: their batch fails and they are asked alone too.
    """
    return _OR.join(_tagged(i, query) for i, query in enumerate(queries))


def _tagged(index: int, query: str) -> str:
    return f'label_replace(({query}\n), "{TAG}", "{index}", "", "")'


def split_answer(batch: Sequence[tuple[str, str]], status: int, body: Any) -> dict[str, SliValue] | None:
    """SLI name → value from the answer to `batch_query` of `batch`'s queries; None when the
    answer is not a usable batch answer (an error, or series without a valid tag), which
    means: ask again in parts. Each SLI's series are judged as if it had been asked alone."""
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return None
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
        return None
    series: dict[str, list[Any]] = {str(i): [] for i in range(len(batch))}
    for item in data["result"]:
        metric = item.get("metric") if isinstance(item, dict) else None
        found = series.get(str(metric.get(TAG))) if isinstance(metric, dict) else None
        if found is None:
            return None
        found.append(item)
    return {name: vector_value(name, query, series[str(i)]) for i, (name, query) in enumerate(batch)}


_PARSE_ERROR = re.compile(r"(\d+):(\d+): parse error")


def blamed_query(queries: Sequence[str], body: Any) -> int | None:
    """Which of the batched `queries` Prometheus' parse error points at, if it says.

    Prometheus reports `<line>:<column>: parse error` (the column counted in bytes after the
    last newline). Only a hint for splitting: the query named is asked alone and the others
    as a batch again, so a wrong guess costs a request, never a wrong attribution.
    """
    if len(queries) < 2 or not isinstance(body, dict) or body.get("errorType") != "bad_data":
        return None
    match = _PARSE_ERROR.search(str(body.get("error", "")))
    if not match:
        return None
    line, column = int(match.group(1)), int(match.group(2))
    text = batch_query(queries).encode()
    newline = -1                                  # the (virtual) newline before line 1
    for _ in range(line - 1):
        newline = text.find(b"\n", newline + 1)
        if newline < 0:
            return None
    position, end = newline + column, 0
    for index, query in enumerate(queries):
        end += len(_tagged(index, query).encode()) + len(_OR)
        if position < end:
            return index
    return None


def error_type(body: Any) -> str | None:
    return body.get("errorType") if isinstance(body, dict) else None


def error_suffix(body: Any) -> str:
    if isinstance(body, dict) and body.get("error"):
        return f": {body.get('errorType', 'error')}: {body['error']}"
    return ""


# --------------------------------------------------------------------------- answers → values


def answer_value(name: str, query: str, status: int, body: Any) -> SliValue:
    """Turn the answer to one query asked alone into a value or a failure that says what went wrong."""
    def failed(reason: str) -> SliValue:
        return SliValue.failed(name, reason, query)

    if not isinstance(body, dict) or "status" not in body:
        return failed(f"not a Prometheus API answer (HTTP {status})")
    if body["status"] != "success":
        if body.get("errorType") == "timeout":
            return failed(f"Prometheus gave up on the query: {body.get('error', 'timeout')}")
        return failed(f"query failed (HTTP {status}){error_suffix(body)}")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return sample(name, query, result)
    if kind == "vector":
        return vector_value(name, query, result or [])
    if kind == "matrix":
        return failed("the query returned a range vector; wrap it in a function such as rate() "
                      "or avg_over_time()")
    return failed(f"the query returned a {kind!r}, expected a number")


def vector_value(name: str, query: str, series: Sequence[Any]) -> SliValue:
    """The one sample of an instant vector; no sample or several series fail the SLI."""
    if not series:
        return SliValue.failed(name, "no data: the query returned no sample at the end of the window", query)
    if len(series) > 1:
        return SliValue.failed(name, f"the query returned {len(series)} series, expected one; aggregate "
                               "it (for example with sum(...))", query)
    return sample(name, query, series[0].get("value") if isinstance(series[0], dict) else None)


def sample(name: str, query: str, pair: Any) -> SliValue:
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError):
        return SliValue.failed(name, f"unreadable sample {pair!r}", query)
    if math.isnan(value):
        return SliValue.failed(name, "the query returned NaN (for example a division by zero "
                               "when there was no traffic)", query)
    if math.isinf(value):
        return SliValue.failed(name, f"the query returned {'+' if value > 0 else '-'}Inf", query)
    return SliValue.ok(name, value, query)
