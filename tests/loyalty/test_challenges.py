"""`challenge_size`: order counts chosen by predicted value and churn risk alone."""

from __future__ import annotations

import inspect

import pytest

from agent.loyalty.challenges import challenge_size
from agent.loyalty.models import ChallengeRule


@pytest.mark.parametrize(
    ("value", "risk", "orders"),
    [
        (50.0, 0.1, 2),
        (999.99, 0.69, 2),
        (1000.0, 0.2, 3),
        (5000.0, 0.7, 1),
        (10.0, 0.95, 1),
        (0.0, 0.0, 2),
    ],
)
def test_size_by_value_and_risk(value: float, risk: float, orders: int) -> None:
    assert challenge_size(value, risk) == orders


def test_rule_from_programme() -> None:
    rule = ChallengeRule(high_value_min=400, high_value_orders=4, base_orders=2)

    assert challenge_size(450.0, 0.1, rule=rule) == 4
    assert challenge_size(350.0, 0.1, rule=rule) == 2


def test_only_value_and_risk_are_inputs() -> None:
    parameters = list(inspect.signature(challenge_size).parameters)

    assert parameters == ["predicted_value", "churn_risk", "rule"]


@pytest.mark.parametrize(
    ("value", "risk", "message"),
    [
        (-1.0, 0.5, "predicted_value must be"),
        (float("nan"), 0.5, "predicted_value must be"),
        (10.0, 1.5, "churn_risk must be from 0 to 1"),
        (10.0, -0.1, "churn_risk must be from 0 to 1"),
    ],
)
def test_invalid_inputs_are_rejected(value: float, risk: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        challenge_size(value, risk)
