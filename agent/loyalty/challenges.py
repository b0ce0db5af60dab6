"""Size of the "N more orders this quarter" loyalty challenges.

The size depends on the predicted 12-month value and the churn risk alone. It never reads
the customer's country, age, tenure or any other attribute, so two customers with the same
value and risk always get the same challenge. `agent.signals.fairness` checks the sizes
across countries and tenure bands.
"""

from __future__ import annotations

import math

from agent.loyalty.models import ChallengeRule

DEFAULT_RULE = ChallengeRule()


def challenge_size(
    predicted_value: float, churn_risk: float, *, rule: ChallengeRule = DEFAULT_RULE
) -> int:
    """Return the number of orders a challenge requires.

    A customer at high risk (churn_risk at least `rule.high_risk_min_churn`) gets the
    smallest challenge, `rule.high_risk_orders`, so the goal stays within reach. Otherwise
    a high-value customer (predicted_value at least `rule.high_value_min`) gets
    `rule.high_value_orders`, and everyone else `rule.base_orders`.
    `churn_risk` is 1 - p_alive, from 0 to 1; `predicted_value` is in the earn currency.
    Raises ValueError for a risk outside [0, 1] or a negative or non-finite value.
    """
    if not math.isfinite(predicted_value) or predicted_value < 0:
        raise ValueError(
            f"predicted_value must be a finite amount of 0 or more, got {predicted_value!r}"
        )
    if not math.isfinite(churn_risk) or not 0 <= churn_risk <= 1:
        raise ValueError(f"churn_risk must be from 0 to 1 (1 - p_alive), got {churn_risk!r}")
    if churn_risk >= rule.high_risk_min_churn:
        return rule.high_risk_orders
    if predicted_value >= rule.high_value_min:
        return rule.high_value_orders
    return rule.base_orders
