"""score_customers on bad input: each problem gets a note and the rules, never NaN or a crash."""

from __future__ import annotations

import logging
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.signals import clv
from agent.signals.clv import (
    MODEL_FIT_FAILED,
    MODEL_METHOD,
    NO_REPEAT_SPEND,
    NON_FINITE_PREDICTION,
    ONE_TIME_BUYER,
    RULES_METHOD,
    TOO_FEW_REPEAT_BUYERS,
    ClvScores,
    score_customers,
)
from agent.signals.clv_models import ModelFitError

AS_OF = date(2024, 6, 30)
NUMERIC_COLUMNS = ["p_alive", "expected_purchases", "predicted_clv", "monetary"]


def table(*rows: tuple[object, object, object]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def assert_finite(scores: ClvScores) -> None:
    frame = scores.to_frame()
    assert np.isfinite(frame[NUMERIC_COLUMNS].to_numpy(dtype=float)).all()


def small_base(repeat_buyers: int, one_time_buyers: int) -> pd.DataFrame:
    rows = []
    for index in range(repeat_buyers):
        rows += [(f"r{index}", "2024-01-10", 20.0), (f"r{index}", "2024-03-01", 30.0)]
    rows += [(f"o{index}", "2024-02-01", 15.0) for index in range(one_time_buyers)]
    return table(*rows)


def test_too_few_repeat_buyers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agent.signals.clv"):
        scores = score_customers(small_base(5, 10), AS_OF)
    assert scores.bg_nbd is None
    assert scores.gamma_gamma is None
    assert scores.method_counts() == {MODEL_METHOD: 0, RULES_METHOD: 15}
    assert len(scores.notes) == 1
    assert "only 5 customers have a repeat purchase" in scores.notes[0]
    assert "fewer than the 30" in scores.notes[0]
    assert scores.notes[0] in caplog.text
    reasons = {row.customer_id: row.fallback_reason for row in scores.customers}
    assert reasons["r0"] == TOO_FEW_REPEAT_BUYERS
    assert reasons["o0"] == ONE_TIME_BUYER
    assert_finite(scores)


def test_min_repeat_buyers_is_configurable() -> None:
    scores = score_customers(small_base(5, 10), AS_OF, min_repeat_buyers=6)
    assert "fewer than the 6" in scores.notes[0]


def test_single_purchase_base() -> None:
    scores = score_customers(small_base(0, 40), AS_OF)
    assert len(scores.customers) == 40
    assert "only 0 customers have a repeat purchase" in scores.notes[0]
    assert all(row.method == RULES_METHOD for row in scores.customers)
    # No repeat purchase anywhere, so the pooled repeat rate and every expectation are 0.
    assert all(row.expected_purchases == 0 for row in scores.customers)
    assert all(row.p_alive == 0.4 for row in scores.customers)  # 150 days since purchase
    assert_finite(scores)


@pytest.mark.parametrize(
    "transactions",
    [
        pd.DataFrame(columns=["customer_id", "date", "amount"]),
        table(("a", "2024-01-01", -5.0)),
        table(("a", "2025-01-01", 5.0)),
    ],
    ids=["empty", "only-negative", "only-future"],
)
def test_nothing_to_score(transactions: pd.DataFrame) -> None:
    scores = score_customers(transactions, AS_OF)
    assert scores.customers == []
    assert scores.bg_nbd is None
    assert "no valid transactions at or before as_of" in scores.notes[-1]
    assert scores.to_frame().empty


def test_missing_column_raises() -> None:
    transactions = pd.DataFrame({"customer_id": ["a"], "date": ["2024-01-01"]})
    with pytest.raises(ValueError, match=r"lacks the columns \['amount'\]"):
        score_customers(transactions, AS_OF)


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("horizon_days", 0, "horizon_days must be a positive number"),
        ("horizon_days", float("nan"), "horizon_days must be a positive number"),
        ("time_unit", "M", "time_unit must be one of"),
        ("fit_method", "nuts", "fit_method must be one of"),
        ("interval", 1.5, "interval must be between 0 and 1"),
        ("min_repeat_buyers", 0, "min_repeat_buyers must be at least 1"),
    ],
)
def test_invalid_argument_raises(argument: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score_customers(small_base(1, 1), AS_OF, **{argument: value})


def test_invalid_rows_are_dropped_with_notes() -> None:
    transactions = table(
        ("a", "2024-01-01", 10.0),
        ("a", "2024-02-01", float("nan")),
        ("a", "not a date", 10.0),
        (None, "2024-02-01", 10.0),
        ("a", "2024-03-01", float("inf")),
        ("a", "2024-03-02", "ten"),
    )
    scores = score_customers(transactions, AS_OF)
    notes = " | ".join(scores.notes)
    assert "dropped 1 transactions without a customer_id" in notes
    assert "dropped 1 transactions whose date is missing or invalid" in notes
    assert "dropped 3 transactions whose amount is missing or not a finite number" in notes
    assert [row.frequency for row in scores.customers] == [0]
    assert_finite(scores)


# --- bad rows mixed into the real CDNOW sample, which has enough repeat buyers --------

CDNOW_AS_OF = date(1997, 9, 30)


@cache
def _cdnow(data_dir: Path) -> pd.DataFrame:
    transactions = pd.read_csv(data_dir / "cdnow_sample_transactions.csv.gz")
    return transactions[["customer_id", "date", "amount"]].astype({"customer_id": str})


@cache
def _cdnow_with_bad_rows(data_dir: Path) -> ClvScores:
    transactions = _cdnow(data_dir)
    bad = table(
        ("1", "1997-05-01", -12.5),
        ("99999", "1997-05-01", -3.0),
        ("2", "1997-10-05", 20.0),
    )
    # Customer 6's repeat purchases cost nothing, so Gamma-Gamma cannot use them.
    zero_spend = transactions.copy()
    first_day = zero_spend.loc[zero_spend["customer_id"] == "6", "date"].min()
    repeat = (zero_spend["customer_id"] == "6") & (zero_spend["date"] > first_day)
    zero_spend.loc[repeat, "amount"] = 0.0
    return score_customers(pd.concat([zero_spend, bad], ignore_index=True), CDNOW_AS_OF, 365)


@pytest.fixture
def cdnow_with_bad_rows(shared_data_dir: Path) -> ClvScores:
    return _cdnow_with_bad_rows(shared_data_dir)


def test_negative_amounts_are_dropped(cdnow_with_bad_rows: ClvScores) -> None:
    note = next(note for note in cdnow_with_bad_rows.notes if "negative amount" in note)
    assert "dropped 2 transactions with a negative amount" in note
    assert "customer '1', amount -12.50" in note
    ids = {row.customer_id for row in cdnow_with_bad_rows.customers}
    assert "99999" not in ids
    assert cdnow_with_bad_rows.bg_nbd is not None


def test_future_dates_are_dropped(cdnow_with_bad_rows: ClvScores) -> None:
    note = next(note for note in cdnow_with_bad_rows.notes if "after as_of" in note)
    # The 1,959 holdout rows of the sample, and the one added.
    assert "dropped 1960 transactions dated after as_of 1997-09-30" in note
    assert "the latest: 1998-06-30" in note
    customer_2 = next(row for row in cdnow_with_bad_rows.customers if row.customer_id == "2")
    assert customer_2.frequency == 1


def test_zero_repeat_spend_uses_rules(cdnow_with_bad_rows: ClvScores) -> None:
    customer_6 = next(row for row in cdnow_with_bad_rows.customers if row.customer_id == "6")
    assert customer_6.frequency == 7
    assert customer_6.method == RULES_METHOD
    assert customer_6.fallback_reason == NO_REPEAT_SPEND
    notes = cdnow_with_bad_rows.notes
    assert any("1 repeat buyers have no positive repeat spend" in note for note in notes)
    assert_finite(cdnow_with_bad_rows)


def test_failed_fit_falls_back_to_rules(
    shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise ModelFitError(
            "the Gamma-Gamma fit returned q=0.8, but the expected spend needs q > 1"
        )

    monkeypatch.setattr(clv, "fit_gamma_gamma", fail)
    scores = score_customers(_cdnow(shared_data_dir), CDNOW_AS_OF, 365)
    assert scores.bg_nbd is not None
    assert scores.gamma_gamma is None
    assert scores.method_counts()[MODEL_METHOD] == 0
    reasons = {row.fallback_reason for row in scores.customers}
    assert reasons == {MODEL_FIT_FAILED, ONE_TIME_BUYER}
    assert any("q=0.8" in note for note in scores.notes)
    assert_finite(scores)


def test_overflowing_predictions_use_rules() -> None:
    """Daily buyers over years overflow hyp2f1 at a 10-year horizon; the rules score them."""
    rng = np.random.default_rng(1)
    start = pd.Timestamp("2000-01-01")
    rows = []
    for index in range(60):
        days = np.sort(rng.choice(3000, rng.integers(1, 6), replace=False))
        rows += [(f"c{index}", start + pd.Timedelta(days=int(day)), 20.0 + index) for day in days]
    rows += [("daily", start + pd.Timedelta(days=day), 10.0) for day in range(3000, 3650)]
    scores = score_customers(table(*rows), date(2010, 1, 1), horizon_days=3650)
    daily = next(row for row in scores.customers if row.customer_id == "daily")
    assert daily.method == RULES_METHOD
    assert daily.fallback_reason == NON_FINITE_PREDICTION
    assert any("NaN or infinite values" in note for note in scores.notes)
    assert_finite(scores)
