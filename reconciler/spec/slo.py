"""SLO file (`slo.yaml`) as typed data: the *validation* view.

Built from a document that passed the compatibility schema and lint, for cross-checks
and for callers that need typed access (which SLIs a service uses, its filter). Scoring
decodes the file itself, leniently and exactly as Keptn does (`reconciler.quality.slo`);
this model does not score.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _none_list(v: Any) -> Any:
    return [] if v is None else v


class CriteriaGroup(_Model):
    """One entry of `pass:`/`warning:`; its criteria are ANDed."""

    criteria: list[str] = Field(default_factory=list)

    _null = field_validator("criteria", mode="before")(lambda v: _none_list(v))


class Objective(_Model):
    sli: str
    displayName: str = ""
    pass_: list[CriteriaGroup] = Field(default_factory=list, alias="pass")
    warning: list[CriteriaGroup] = Field(default_factory=list)
    weight: int = 1
    key_sli: bool = False

    _null = field_validator("pass_", "warning", mode="before")(lambda v: _none_list(v))
    _name = field_validator("displayName", mode="before")(lambda v: "" if v is None else v)

    @property
    def informational(self) -> bool:
        """Without pass criteria an objective is shown but not scored (Keptn)."""
        return not any(group.criteria for group in self.pass_)


class Comparison(_Model):
    compare_with: str = "single_result"
    include_result_with_score: str = "all"
    number_of_comparison_results: int = 1
    aggregate_function: str = "avg"


class TotalScore(_Model):
    pass_: str | None = Field(default=None, alias="pass")
    warning: str | None = None

    _text = field_validator("pass_", "warning", mode="before")(
        lambda v: None if v is None else str(v))


class ServiceLevelObjectives(_Model):
    spec_version: str = "1.0"
    filter: dict[str, str] = Field(default_factory=dict)
    comparison: Comparison = Comparison()
    objectives: list[Objective] = Field(default_factory=list)
    total_score: TotalScore = TotalScore()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ServiceLevelObjectives:
        """From a schema-valid mapping, with Keptn's defaults: no `comparison` block means
        1 result to compare with, a block without `number_of_comparison_results` means 3."""
        comparison = data.get("comparison")
        if isinstance(comparison, dict):
            comparison = {"number_of_comparison_results": 3, **comparison}
        return cls.model_validate({
            "spec_version": str(data.get("spec_version") or "1.0"),
            "filter": {str(k): "" if v is None else str(v) for k, v in (data.get("filter") or {}).items()},
            "comparison": comparison or {},
            "objectives": data.get("objectives") or [],
            "total_score": data.get("total_score") or {},
        })
