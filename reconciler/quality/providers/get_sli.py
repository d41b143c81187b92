"""The `get-sli` SLI provider: values from Keptn integrations, asked as Keptn's lighthouse did.

One `sh.keptn.event.get-sli.triggered` per evaluation with `data.get-sli` = {sliProvider, start,
end, indicators, customFilters}; the first `get-sli.finished` that answers it (whichever
integration sends it: dynatrace-service, datadog-service, an in-house one) gives the values
(`indicatorValues`). The integration keeps its own queries (`<sliProvider>/sli.yaml`, read
through the resource service), so only the SLI names are sent.

The exchange itself needs a running controller: the evaluation task binds an `Ask` (the
controller's `SideTasks`, reached through `tasks.getsli`) before asking. No answer within
`spec.sli.get-sli.timeout`, an errored answer, or no controller to ask through fail the gate
closed (`ProviderUnavailable` with the reason, which the evidence keeps).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.quality import getsli
from reconciler.quality.providers.base import ProviderUnavailable, SliRequest
from reconciler.quality.values import SliValue
from reconciler.spec.settings import SliSettings

NAME = "get-sli"

Answer = tuple[str, Mapping[str, Any]] | None          # (who answered, the .finished data)
Ask = Callable[[dict[str, Any], float], "tuple[str, Answer, list[str]]"]
"""`ask(get-sli.triggered data, timeout)` → (the event's id; (source, data) of the `.finished`,
or None when nobody answered in time; the sources that sent `.started`)."""


@dataclass(frozen=True)
class GetSliProvider:
    sli_provider: str
    timeout: float
    ask: Ask | None = None
    name: str = NAME
    record: dict[str, Any] = field(default_factory=dict)     # what happened, for the evidence

    def bind(self, ask: Ask) -> GetSliProvider:
        """This provider with the way to reach integrations (a fresh record per evaluation)."""
        return replace(self, ask=ask, record={})

    def describe(self) -> dict[str, Any]:
        return {"kind": NAME, "sliProvider": self.sli_provider, **self.record}

    def get_values(self, request: SliRequest) -> dict[str, SliValue]:
        if self.ask is None:
            raise ProviderUnavailable("the get-sli provider needs `reconciler serve`: Keptn integrations answer "
                                      "through its API")
        names = list(request.indicators)
        event_id, answer, started = self.ask(getsli.triggered_data(names, request.window, self.sli_provider),
                                             self.timeout)
        self.record["triggeredId"] = event_id
        if answer is None:
            self.record["answeredBy"] = None
            who = f"; {', '.join(started)} started but did not finish" if started else ""
            raise ProviderUnavailable(f"no integration answered get-sli for sliProvider {self.sli_provider!r} "
                                      f"within {self.timeout:g}s{who}")
        source, data = answer
        self.record["answeredBy"] = source
        try:
            return getsli.values_from_finished(data, names, source)
        except getsli.AnswerError as exc:
            raise ProviderUnavailable(str(exc)) from None


def create(settings: SliSettings, environ: Mapping[str, str]) -> GetSliProvider:
    """From `spec.sli.get-sli`; ValueError when it names no integration."""
    if not settings.getSli.sliProvider:
        raise ValueError("the SLI provider is get-sli but no integration is named; set "
                         "spec.sli.get-sli.sliProvider (e.g. dynatrace) in reconciler.yaml")
    return GetSliProvider(settings.getSli.sliProvider, settings.getSli.timeout)
