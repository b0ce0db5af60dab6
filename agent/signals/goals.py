"""Retention goals read from a YAML file, and their progress against the report's metrics.

A goals file looks like this:

    goals:
      - metric: repeat_purchase_rate
        target: 0.6
        deadline: 2012-06-30
        name: Most buyers come back   # optional
        direction: at_least            # optional; churn_rate defaults to at_most

Each metric has a unit and a valid range (METRICS); a target outside it is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)


@dataclass(frozen=True)
class MetricSpec:
    description: str
    low: float
    high: float
    direction: Literal["at_least", "at_most"]
    unit: str = ""


METRICS: dict[str, MetricSpec] = {
    "repeat_purchase_rate": MetricSpec(
        "share of buyers with two or more live orders", 0, 1, "at_least"
    ),
    "churn_rate": MetricSpec("share of scored buyers whose p_alive is below 0.5", 0, 1, "at_most"),
    "inactive_rate": MetricSpec(
        "share of buyers with no order in the last 90 days", 0, 1, "at_most"
    ),
    "mean_predicted_clv": MetricSpec(
        "mean predicted 12-month value per scored buyer", 0, float("inf"), "at_least", "GBP"
    ),
    "review_count": MetricSpec("reviews written up to as_of", 0, float("inf"), "at_least"),
    "average_rating": MetricSpec("mean star rating of those reviews", 1, 5, "at_least", "stars"),
    "nps": MetricSpec("net promoter score of the survey answers", -100, 100, "at_least"),
}


MetricName = Literal[
    "repeat_purchase_rate",
    "churn_rate",
    "inactive_rate",
    "mean_predicted_clv",
    "review_count",
    "average_rating",
    "nps",
]


class GoalStatus(StrEnum):
    MET = "met"
    OPEN = "open"  # not met, deadline ahead
    MISSED = "missed"  # not met, deadline passed
    NO_DATA = "no data"


class GoalsFileError(ValueError):
    """The goals file is missing, is not YAML, or has an invalid goal, named in the message."""


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: MetricName
    target: float = Field(allow_inf_nan=False)
    deadline: date
    name: str | None = Field(default=None, max_length=120)
    direction: Literal["at_least", "at_most"] | None = None

    @field_validator("target")
    @classmethod
    def _target_in_range(cls, target: float, info: ValidationInfo) -> float:
        metric = info.data.get("metric")
        if metric is None:
            return target  # the metric's own error is reported instead
        spec = METRICS[metric]
        if not spec.low <= target <= spec.high:
            raise ValueError(
                f"target of metric {metric!r} must be from {spec.low:g} to {spec.high:g} "
                f"({spec.description})"
            )
        return target

    @property
    def resolved_direction(self) -> str:
        return self.direction or METRICS[self.metric].direction

    @property
    def label(self) -> str:
        return self.name or self.metric


class GoalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goals: list[Goal] = Field(min_length=1)


@dataclass(frozen=True)
class GoalProgress:
    goal: Goal
    current: float | None
    status: GoalStatus
    days_left: int
    gap: float | None  # how far the current value is from the target, in the metric's unit


class _TextDateLoader(yaml.SafeLoader):
    """A safe YAML loader that leaves dates as text, so pydantic reports a bad date by goal."""


_TextDateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_goals(path: Path) -> list[Goal]:
    """Read and validate a goals file; raises GoalsFileError naming the goal and field."""
    if not path.is_file():
        raise GoalsFileError(f"goals file not found: {str(path)!r}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextDateLoader)  # noqa: S506
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise GoalsFileError(f"goals file {str(path)!r} is not valid YAML: {error}") from error
    try:
        return GoalsFile.model_validate(data).goals
    except ValidationError as error:
        raise GoalsFileError(_describe(path, error)) from error


def _describe(path: Path, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = item["loc"]
        if len(location) >= 2 and location[0] == "goals" and isinstance(location[1], int):
            where = f"goal {location[1] + 1}"
            field = ".".join(str(part) for part in location[2:])
            where += f", field `{field}`" if field else ""
        else:
            where = "`" + (".".join(str(part) for part in location) or "(top level)") + "`"
        input_value = item.get("input")
        scalar = input_value is not None and not isinstance(input_value, dict | list)
        value = f" (got {input_value!r})" if scalar and item["type"] != "missing" else ""
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}{value}")
    return (
        f"invalid goals file {str(path)!r}: " + "; ".join(problems) + ". Each goal needs "
        f"`metric` (one of {', '.join(METRICS)}), `target` and `deadline` (YYYY-MM-DD)"
    )


def goal_progress(goal: Goal, current: float | None, today: date) -> GoalProgress:
    days_left = (goal.deadline - today).days
    if current is None:
        return GoalProgress(goal, None, GoalStatus.NO_DATA, days_left, None)
    at_least = goal.resolved_direction == "at_least"
    met = current >= goal.target if at_least else current <= goal.target
    gap = goal.target - current if at_least else current - goal.target
    if met:
        status = GoalStatus.MET
    elif days_left < 0:
        status = GoalStatus.MISSED
    else:
        status = GoalStatus.OPEN
    return GoalProgress(goal, current, status, days_left, round(max(gap, 0.0), 4))
