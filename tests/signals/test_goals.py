"""Goals files: validation with errors that name the goal and field, and progress."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT
from agent.signals.goals import GoalsFileError, GoalStatus, goal_progress, load_goals

EXAMPLE = PROJECT_ROOT / "evals" / "goals.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "goals.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_loads() -> None:
    goals = load_goals(EXAMPLE)
    assert len(goals) >= 3
    assert {goal.metric for goal in goals} >= {"repeat_purchase_rate", "churn_rate"}


def test_churn_defaults_to_at_most(tmp_path: Path) -> None:
    path = _write(tmp_path, "goals:\n  - {metric: churn_rate, target: 0.3, deadline: 2012-01-31}\n")
    (goal,) = load_goals(path)
    assert goal.resolved_direction == "at_most"
    assert goal.deadline == date(2012, 1, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "goals:\n  - {metric: churn, target: 0.2, deadline: 2012-01-01}\n",
            "goal 1, field `metric`",
        ),
        (
            "goals:\n  - {metric: nps, target: 30, deadline: 2012-13-01}\n",
            "goal 1, field `deadline`",
        ),
        ("goals:\n  - {metric: nps, target: 30}\n", "goal 1, field `deadline`: Field required"),
        (
            "goals:\n  - {metric: nps, target: 1, deadline: 2012-01-01}\n"
            "  - {metric: churn_rate, target: 1.5, deadline: 2012-01-01}\n",
            "goal 2, field `target`: target of metric 'churn_rate' must be from 0 to 1",
        ),
        (
            "goals:\n  - {metric: nps, target: 1, deadline: 2012-01-01, owner: me}\n",
            "field `owner`",
        ),
        ("goals: []\n", "`goals`"),
        ("- metric: nps\n", "(top level)"),
        ("goals: [\n", "not valid YAML"),
    ],
)
def test_bad_goals_rejected(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(GoalsFileError) as error:
        load_goals(_write(tmp_path, text))
    assert expected in str(error.value)


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(GoalsFileError, match="not found"):
        load_goals(tmp_path / "absent.yaml")


def test_progress_statuses(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "goals:\n"
        "  - {metric: repeat_purchase_rate, target: 0.5, deadline: 2012-06-30}\n"
        "  - {metric: churn_rate, target: 0.2, deadline: 2011-06-30}\n",
    )
    repeat, churn = load_goals(path)
    today = date(2011, 12, 9)
    met = goal_progress(repeat, 0.6, today)
    assert met.status is GoalStatus.MET
    assert met.gap == 0
    open_ = goal_progress(repeat, 0.4, today)
    assert open_.status is GoalStatus.OPEN
    assert open_.gap == pytest.approx(0.1)
    assert open_.days_left == 204
    missed = goal_progress(churn, 0.35, today)
    assert missed.status is GoalStatus.MISSED
    assert missed.gap == pytest.approx(0.15)
    assert goal_progress(churn, None, today).status is GoalStatus.NO_DATA
