"""Calibration and holdout backtest of `score_customers` against a naive baseline.

The models are fitted to the purchases up to `calibration_end` and predict the purchase
days of each calibration customer in the holdout, from the day after `calibration_end` to
`holdout_end`. Customers whose first purchase falls in the holdout are left out. The naive
baseline scales each customer's calibration repeat rate to the holdout length:
frequency / tenure_days * holdout_days, which is 0 for a one-time buyer.

Metrics, for the scores and for the baseline:

- Pearson correlation and mean absolute error of predicted against actual holdout purchases;
- ROC AUC of p_alive (the baseline ranks by its expected purchases) against "at least one
  purchase in the holdout", and the same AUC with customers ranked by predicted purchases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from scipy.stats import pearsonr
from sklearn.metrics import roc_auc_score

from agent.signals.clv import MODEL_METHOD, ClvScores, TimeUnit, score_customers
from agent.signals.clv_models import FitMethod
from agent.signals.transactions import count_purchases_between, cutoff_of


@dataclass(frozen=True)
class Metrics:
    """Accuracy of one predictor over one group of customers."""

    customers: int
    correlation: float
    mae: float
    auc: float | None  # None when every customer, or none, bought in the holdout
    auc_by_expected: float | None  # the AUC when customers are ranked by predicted purchases
    predicted_total: float
    actual_total: float


@dataclass(frozen=True)
class BacktestResult:
    """Metrics of the scores and of the naive baseline, overall and per scoring method."""

    calibration_end: date | datetime
    holdout_end: date | datetime
    holdout_days: float
    scores: ClvScores
    model: Metrics
    naive: Metrics
    # The customers scored by the BG/NBD and Gamma-Gamma models; None when there are none.
    model_scored: Metrics | None
    naive_on_model_scored: Metrics | None
    seconds: float


def naive_expected_purchases(
    frequency: np.ndarray, tenure_days: np.ndarray, holdout_days: float
) -> np.ndarray:
    """Return frequency / tenure * holdout_days, with the tenure taken as at least one day."""
    return np.asarray(frequency, dtype=float) / np.maximum(tenure_days, 1.0) * holdout_days


def measure(predicted: np.ndarray, ranking: np.ndarray, actual: np.ndarray) -> Metrics:
    """Compare predicted purchases with actual ones; `ranking` orders customers for the AUC.

    The correlation is reported as 0 when either side is constant. Raises ValueError for
    an empty group.
    """
    if actual.size == 0:
        raise ValueError("cannot measure an empty group of customers")
    bought = actual > 0
    both_classes = 0 < bought.sum() < bought.size
    auc = float(roc_auc_score(bought, ranking)) if both_classes else None
    auc_by_expected = float(roc_auc_score(bought, predicted)) if both_classes else None
    constant = np.ptp(predicted) == 0 or np.ptp(actual) == 0
    correlation = 0.0 if constant else float(pearsonr(predicted, actual).statistic)
    return Metrics(
        customers=int(actual.size),
        correlation=correlation,
        mae=float(np.mean(np.abs(predicted - actual))),
        auc=auc,
        auc_by_expected=auc_by_expected,
        predicted_total=float(predicted.sum()),
        actual_total=float(actual.sum()),
    )


def run_backtest(
    transactions: pd.DataFrame,
    calibration_end: date | datetime,
    holdout_end: date | datetime,
    *,
    time_unit: TimeUnit = "D",
    fit_method: FitMethod = "map",
) -> BacktestResult:
    """Score the calibration customers and compare with their holdout purchases.

    Raises ValueError when the holdout does not end after the calibration.
    """
    holdout_days = (cutoff_of(holdout_end) - cutoff_of(calibration_end)).total_seconds() / 86400
    if holdout_days <= 0:
        raise ValueError(
            f"holdout_end {holdout_end} must be after calibration_end {calibration_end}"
        )
    started = time.perf_counter()
    scores = score_customers(
        transactions,
        calibration_end,
        horizon_days=holdout_days,
        time_unit=time_unit,
        fit_method=fit_method,
    )
    frame = scores.to_frame()
    holdout = count_purchases_between(transactions, calibration_end, holdout_end)
    actual = holdout.reindex(frame.index).fillna(0).to_numpy(dtype=float)
    predicted = frame["expected_purchases"].to_numpy(dtype=float)
    naive = naive_expected_purchases(
        frame["frequency"].to_numpy(), frame["tenure_days"].to_numpy(), holdout_days
    )
    p_alive = frame["p_alive"].to_numpy(dtype=float)
    by_model = (frame["method"] == MODEL_METHOD).to_numpy()
    any_model = bool(by_model.any())
    return BacktestResult(
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        holdout_days=holdout_days,
        scores=scores,
        model=measure(predicted, p_alive, actual),
        naive=measure(naive, naive, actual),
        model_scored=(
            measure(predicted[by_model], p_alive[by_model], actual[by_model]) if any_model else None
        ),
        naive_on_model_scored=(
            measure(naive[by_model], naive[by_model], actual[by_model]) if any_model else None
        ),
        seconds=time.perf_counter() - started,
    )
