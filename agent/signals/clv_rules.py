"""Rule-based CLV for the customers the BG/NBD and Gamma-Gamma models do not score.

The rules read the per-customer summary in days:

- p_alive: an activity score from the days since the last purchase, from `RECENCY_TIERS`
  (at most 30 days: 0.9, at most 90: 0.7, at most 180: 0.4, at most 365: 0.15, older:
  0.05). It is a heuristic, not a probability estimated from data.
- repeat purchase rate: a repeat buyer's own rate, frequency / tenure, with the tenure
  taken as at least `MIN_RATE_TENURE_DAYS`. A one-time buyer gets the pooled rate of the
  whole table, sum(frequency) / sum(tenure), because one purchase gives no rate of its own.
- expected_purchases = p_alive * rate * horizon_days.
- spend per purchase: the customer's mean spend over every purchase, capped at the
  `MONETARY_CAP_QUANTILE` quantile of all customers' mean spend, so that one bulk order
  does not dominate the value.
- predicted_clv = expected_purchases * spend per purchase, undiscounted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# (maximum days since the last purchase, activity score), checked in order.
RECENCY_TIERS: tuple[tuple[float, float], ...] = (
    (30, 0.9),
    (90, 0.7),
    (180, 0.4),
    (365, 0.15),
)
LAPSED_ACTIVITY = 0.05
MIN_RATE_TENURE_DAYS = 30.0
MONETARY_CAP_QUANTILE = 0.99


def activity_score(days_since_last: np.ndarray) -> np.ndarray:
    """Return the rule-based p_alive for each number of days since the last purchase."""
    days = np.asarray(days_since_last, dtype=float)
    limits = [limit for limit, _ in RECENCY_TIERS]
    scores = np.array([score for _, score in RECENCY_TIERS] + [LAPSED_ACTIVITY])
    return scores[np.searchsorted(limits, days, side="left")]


def pooled_repeat_rate(frequency: np.ndarray, tenure_days: np.ndarray) -> float:
    """Return repeat purchases per day over the whole table, 0 when it has no tenure."""
    exposure = float(np.sum(np.maximum(tenure_days, MIN_RATE_TENURE_DAYS)))
    return float(np.sum(frequency)) / exposure if exposure > 0 else 0.0


def score_by_rules(
    frequency: np.ndarray,
    recency_days: np.ndarray,
    tenure_days: np.ndarray,
    mean_spend: np.ndarray,
    horizon_days: float,
) -> pd.DataFrame:
    """Score customers by the rules in the module docstring.

    Returns a DataFrame with p_alive, expected_purchases and predicted_clv, one row per
    input position; every value is finite and not negative.
    """
    frequency = np.asarray(frequency, dtype=float)
    tenure = np.asarray(tenure_days, dtype=float)
    days_since_last = np.maximum(tenure - np.asarray(recency_days, dtype=float), 0.0)
    p_alive = activity_score(days_since_last)

    own_rate = frequency / np.maximum(tenure, MIN_RATE_TENURE_DAYS)
    rate = np.where(frequency > 0, own_rate, pooled_repeat_rate(frequency, tenure))
    expected = p_alive * rate * horizon_days

    spend = np.nan_to_num(np.asarray(mean_spend, dtype=float), nan=0.0, posinf=0.0)
    spend = np.maximum(spend, 0.0)
    if spend.size:
        spend = np.minimum(spend, np.quantile(spend, MONETARY_CAP_QUANTILE))
    return pd.DataFrame(
        {"p_alive": p_alive, "expected_purchases": expected, "predicted_clv": expected * spend}
    )
