"""What an operator may do from the web UI, with the same effect as the CLI.

* approve / decline: `reconciler approve|decline` on the controller's own mirror and writer
  (merge the approval branch into the stage branch, or delete it); the controller is then told
  that tips changed, so the waiting sequence moves on at once.
* invalidate an evaluation: Keptn's `evaluation.invalidated`. The evidence file on
  `reconciler/results` is rewritten with `invalidated: true` (DESIGN §2: "a commit that marks its
  file"), built on the branch tip like every results write; later gates skip it when they
  compare with history. The index row is updated in the same call.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler import contract
from reconciler.controller import journal as J
from reconciler.engine.events import task_type
from reconciler.quality.evidence import invalidate

INVALIDATED_EVENT = task_type("evaluation", "invalidated")


class OperatorError(Exception):
    """The action cannot be done; the message says why (shown to the operator)."""


@dataclass
class Operator:
    mirror: Any
    writer: Any
    index: Any
    notify: Callable[[str], None]

    def approve(self, context: str, stage: str | None = None, service: str | None = None) -> Any:
        return self._decide("approve", context, stage, service)

    def decline(self, context: str, stage: str | None = None, service: str | None = None) -> Any:
        return self._decide("decline", context, stage, service)

    def _decide(self, kind: str, context: str, stage: str | None, service: str | None) -> Any:
        from reconciler.gitstore import GitStoreError, MergeConflict
        from reconciler.tasks.approval import ApprovalError, approve, decline
        try:
            decision = (approve if kind == "approve" else decline)(self.mirror, self.writer, context,
                                                                   stage=stage, service=service)
        except ApprovalError as exc:
            raise OperatorError(str(exc)) from None
        except MergeConflict as exc:
            raise OperatorError(f"the approval branch conflicts with the stage branch: {exc}; "
                                f"resolve it in a pull request") from None
        except GitStoreError as exc:
            raise OperatorError(f"cannot update the config repo: {exc}") from None
        self.notify("ui:" + kind)
        return decision

    def invalidate(self, path: str, reason: str, *, now: dt.datetime | None = None) -> str:
        """Mark the evaluation at `path` invalidated; returns the results commit."""
        parts = path.split("/")
        if len(parts) != 4 or parts[0] + "/" != J.EVALUATIONS or not parts[3].endswith(".json") or ".." in parts:
            raise OperatorError(f"{path!r} is not an evaluation file (evaluations/<stage>/<service>/<file>.json)")
        at = now or dt.datetime.now(dt.UTC)
        written: dict[str, bytes] = {}

        def build(tip: Any) -> dict[str, bytes]:
            raw = tip.read(path)
            if raw is None:
                raise OperatorError(f"no evaluation {path} on {contract.RESULTS_BRANCH}")
            doc = json.loads(raw)
            if doc.get("invalidated"):
                raise OperatorError(f"{path} is already invalidated")
            written[path] = J.dumps(invalidate(doc, at=at, reason=reason))
            return dict(written)

        tip = self.mirror.tip(contract.RESULTS_BRANCH)
        current = json.loads(self.mirror.read(tip, path) or b"{}") if tip else {}
        trailers = [(contract.TRAILER_EVENT, INVALIDATED_EVENT)]
        if current.get("context"):
            trailers.insert(0, (contract.TRAILER_CONTEXT, str(current["context"])))
        result = self.writer.write(contract.RESULTS_BRANCH, build,
                                   f"invalidate evaluation {parts[1]}/{parts[2]}: {reason}", trailers)
        # index the one changed file without moving the index's tip (the controller may be ahead)
        self.index.apply(None, written)
        return str(result.oid)
