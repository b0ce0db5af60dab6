"""score_customers on the real CDNOW transactions, and the rule-based fallback."""

from __future__ import annotations

import math
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.signals.clv import (
    MODEL_METHOD,
    ONE_TIME_BUYER,
    RULES_METHOD,
    ClvScores,
    CustomerValue,
    score_customers,
)
from agent.signals.clv_rules import (
    LAPSED_ACTIVITY,
    MIN_RATE_TENURE_DAYS,
    activity_score,
    pooled_repeat_rate,
    score_by_rules,
)

AS_OF = date(1997, 9, 30)
NUMERIC_COLUMNS = [
    "p_alive",
    "expected_purchases",
    "predicted_clv",
    "recency_days",
    "tenure_days",
    "monetary",
]


@cache
def _scores(data_dir: Path, fit_method: str, time_unit: str) -> ClvScores:
    transactions = pd.read_csv(data_dir / "cdnow_sample_transactions.csv.gz")
    return score_customers(transactions, AS_OF, 365, fit_method=fit_method, time_unit=time_unit)


@pytest.fixture
def map_scores(shared_data_dir: Path) -> ClvScores:
    return _scores(shared_data_dir, "map", "W")


@pytest.fixture
def laplace_scores(shared_data_dir: Path) -> ClvScores:
    return _scores(shared_data_dir, "laplace", "W")


def test_one_row_per_customer(map_scores: ClvScores) -> None:
    frame = map_scores.to_frame()
    assert len(frame) == 2357
    assert frame.index.is_unique


def test_outputs_are_finite_and_in_range(map_scores: ClvScores) -> None:
    frame = map_scores.to_frame()
    assert np.isfinite(frame[NUMERIC_COLUMNS].to_numpy(dtype=float)).all()
    assert frame["p_alive"].between(0, 1).all()
    assert (frame["expected_purchases"] >= 0).all()
    assert (frame["predicted_clv"] >= 0).all()


def test_map_fit_reports_no_interval(map_scores: ClvScores) -> None:
    assert map_scores.interval is None
    assert all(row.clv_low is None for row in map_scores.customers)
    assert all(row.clv_high is None for row in map_scores.customers)


def test_one_time_buyers_use_rules(map_scores: ClvScores) -> None:
    for row in map_scores.customers:
        if row.frequency == 0:
            assert row.method == RULES_METHOD
            assert row.fallback_reason == ONE_TIME_BUYER
        else:
            assert row.method == MODEL_METHOD
            assert row.fallback_reason is None


def test_clv_is_purchases_times_gamma_gamma_spend(
    shared_data_dir: Path, map_scores: ClvScores
) -> None:
    """predicted_clv = E[purchases] * E[spend], the spend from Fader and Hardie (2013)."""
    assert map_scores.gamma_gamma is not None
    p, q, v = (map_scores.gamma_gamma.params[name] for name in ("p", "q", "v"))
    summary = pd.read_csv(shared_data_dir / "cdnow_customers_summary_with_transactions.csv")
    summary = summary.set_index(summary["ID"].astype(str))
    rows = [row for row in map_scores.customers if row.method == MODEL_METHOD]
    assert len(rows) == 946
    for row in rows:
        x, zbar = summary.loc[row.customer_id, ["x", "zbar"]]
        weight = p * x / (p * x + q - 1)
        spend = (1 - weight) * v * p / (q - 1) + weight * zbar
        assert row.predicted_clv == pytest.approx(row.expected_purchases * spend, rel=1e-3)


def test_times_are_reported_in_days(map_scores: ClvScores) -> None:
    first = next(row for row in map_scores.customers if row.customer_id == "1")
    assert first.frequency == 2
    assert first.recency_days == pytest.approx(213.0)
    assert first.tenure_days == pytest.approx(272.0)
    assert first.monetary == pytest.approx((29.33 + 29.73 + 14.96) / 3)


def test_fit_reports_parameters_and_log_likelihood(map_scores: ClvScores) -> None:
    assert map_scores.bg_nbd is not None
    assert map_scores.bg_nbd.fit_method == "map"
    assert map_scores.bg_nbd.draws == 1
    assert map_scores.bg_nbd.customers == 2357
    assert set(map_scores.bg_nbd.params) == {"r", "alpha", "a", "b"}
    assert map_scores.bg_nbd.log_likelihood < 0


def test_days_and_weeks_give_same_predictions(shared_data_dir: Path, map_scores: ClvScores) -> None:
    days = _scores(shared_data_dir, "map", "D").to_frame()
    weeks = map_scores.to_frame()
    # BG/NBD's alpha scales with the time unit; the other parameters do not change.
    assert days["p_alive"].to_numpy() == pytest.approx(weeks["p_alive"].to_numpy(), abs=2e-3)
    assert days["predicted_clv"].to_numpy() == pytest.approx(
        weeks["predicted_clv"].to_numpy(), rel=0.01, abs=0.01
    )


def test_laplace_fit_reports_intervals(laplace_scores: ClvScores) -> None:
    assert laplace_scores.interval == 0.9
    assert laplace_scores.bg_nbd is not None
    assert laplace_scores.bg_nbd.draws == 1000
    model_rows = [row for row in laplace_scores.customers if row.method == MODEL_METHOD]
    assert len(model_rows) == 946
    for row in model_rows:
        assert row.clv_low is not None
        assert row.clv_high is not None
        assert row.clv_low <= row.predicted_clv <= row.clv_high
        assert row.clv_low < row.clv_high
    for row in laplace_scores.customers:
        if row.method == RULES_METHOD:
            assert row.clv_low is None
            assert row.clv_high is None


def test_laplace_agrees_with_map(laplace_scores: ClvScores, map_scores: ClvScores) -> None:
    laplace = laplace_scores.to_frame()
    point = map_scores.to_frame()
    model_rows = point["method"] == MODEL_METHOD
    ratio = laplace.loc[model_rows, "predicted_clv"] / point.loc[model_rows, "predicted_clv"]
    assert ratio.median() == pytest.approx(1.0, abs=0.05)


def test_customer_value_rejects_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        CustomerValue(
            customer_id="1",
            method=MODEL_METHOD,
            p_alive=math.nan,
            expected_purchases=1.0,
            predicted_clv=1.0,
            clv_low=None,
            clv_high=None,
            frequency=1,
            recency_days=1.0,
            tenure_days=2.0,
            monetary=1.0,
        )


# --- rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, 0.9), (30, 0.9), (31, 0.7), (90, 0.7), (180, 0.4), (365, 0.15), (366, LAPSED_ACTIVITY)],
)
def test_activity_score_tiers(days: float, expected: float) -> None:
    assert activity_score(np.array([days]))[0] == expected


def test_pooled_rate_floors_short_tenures() -> None:
    rate = pooled_repeat_rate(np.array([0, 3]), np.array([10.0, 90.0]))
    assert rate == pytest.approx(3 / (MIN_RATE_TENURE_DAYS + 90.0))


def test_rules_give_one_time_buyer_the_pooled_rate() -> None:
    scores = score_by_rules(
        frequency=np.array([0, 4]),
        recency_days=np.array([0.0, 100.0]),
        tenure_days=np.array([20.0, 100.0]),
        mean_spend=np.array([50.0, 10.0]),
        horizon_days=365,
    )
    pooled = 4 / (MIN_RATE_TENURE_DAYS + 100.0)
    assert scores.loc[0, "p_alive"] == 0.9  # 20 days since the only purchase
    assert scores.loc[0, "expected_purchases"] == pytest.approx(0.9 * pooled * 365)
    assert scores.loc[1, "expected_purchases"] == pytest.approx(0.9 * 4 / 100 * 365)


def test_rules_cap_bulk_spend() -> None:
    spend = np.array([10.0] * 199 + [1_000_000.0])
    scores = score_by_rules(
        frequency=np.ones(200),
        recency_days=np.full(200, 50.0),
        tenure_days=np.full(200, 60.0),
        mean_spend=spend,
        horizon_days=365,
    )
    cap = np.quantile(spend, 0.99)
    assert scores["predicted_clv"].iloc[-1] == pytest.approx(
        scores["expected_purchases"].iloc[-1] * cap
    )
    assert scores["predicted_clv"].iloc[-1] < 1_000_000


def test_rules_turn_missing_spend_into_zero() -> None:
    scores = score_by_rules(
        frequency=np.array([1]),
        recency_days=np.array([5.0]),
        tenure_days=np.array([10.0]),
        mean_spend=np.array([math.nan]),
        horizon_days=365,
    )
    assert np.isfinite(scores.to_numpy()).all()
    assert scores.loc[0, "predicted_clv"] == 0.0
