"""Backtest on the full Online Retail file: calibrate to 2011-09-09, hold out to 2011-12-09.

Figures measured with a MAP fit in days (pymc-marketing 0.19.2), scores against the naive
baseline frequency / tenure * 91 days:

| customers          | correlation   | MAE           | ROC AUC of p_alive        |
|--------------------|---------------|---------------|---------------------------|
| all 3,370          | 0.793 / 0.703 | 0.945 / 0.927 | 0.697 (baseline 0.720)    |
| 1,956 model-scored | 0.811 / 0.701 | 1.147 / 1.176 | 0.581 (baseline 0.700)    |

The BG/NBD fit puts a near 0 (a=2.7e-05, b=595), so it expects almost no customer to
drop out, and p_alive ranks the repeat buyers only weakly.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.signals.clv import MODEL_METHOD, RULES_METHOD
from agent.signals.clv_backtest import BacktestResult, run_backtest
from agent.signals.transactions import load_transactions

pytestmark = pytest.mark.slow

CALIBRATION_END = date(2011, 9, 9)
HOLDOUT_END = date(2011, 12, 9)


@cache
def _backtest(data_dir: Path, database: Path) -> BacktestResult:
    engine = make_engine(f"sqlite:///{database}")
    try:
        init_db(engine)
        import_online_retail(data_dir / "online_retail_2010_2011.csv.gz", engine)
        transactions = load_transactions(engine)
    finally:
        engine.dispose()
    return run_backtest(transactions, CALIBRATION_END, HOLDOUT_END)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("retail") / "context.db"


@pytest.fixture
def backtest(shared_data_dir: Path, database: Path) -> BacktestResult:
    return _backtest(shared_data_dir, database)


def test_backtest_uses_real_calibration_customers(backtest: BacktestResult) -> None:
    assert backtest.holdout_days == 91
    assert backtest.model.customers == 3370
    assert backtest.model.actual_total == 4483
    assert backtest.scores.method_counts() == {MODEL_METHOD: 1956, RULES_METHOD: 1414}
    frame = backtest.scores.to_frame()
    assert np.isfinite(frame["expected_purchases"].to_numpy()).all()


def test_near_zero_dropout_is_noted(backtest: BacktestResult) -> None:
    notes = [note for note in backtest.scores.notes if "mean dropout probability" in note]
    assert len(notes) == 1
    assert "rank by expected_purchases instead" in notes[0]


def test_correlation_beats_naive(backtest: BacktestResult) -> None:
    assert backtest.model.correlation > backtest.naive.correlation + 0.05
    assert backtest.model_scored is not None
    assert backtest.naive_on_model_scored is not None
    assert backtest.model_scored.correlation > backtest.naive_on_model_scored.correlation + 0.05


def test_p_alive_auc_beats_chance(backtest: BacktestResult) -> None:
    assert backtest.model.auc is not None
    assert backtest.model.auc > 0.65
    assert backtest.model_scored is not None
    assert backtest.model_scored.auc is not None
    assert backtest.model_scored.auc > 0.55


def test_model_scored_mae_beats_naive(backtest: BacktestResult) -> None:
    # NOTE: over all customers the MAE is 0.945 against the baseline's 0.927. The baseline
    # predicts 0 for one-time buyers, which is the median outcome, while the rules predict
    # a mean. Only the model-scored customers beat the baseline on MAE.
    assert backtest.model_scored is not None
    assert backtest.naive_on_model_scored is not None
    assert backtest.model_scored.mae < backtest.naive_on_model_scored.mae
