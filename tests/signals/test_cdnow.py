"""Reproduce the published BG/NBD and Gamma-Gamma results on the CDNOW sample.

Published values: Fader, Hardie and Lee (2005), Marketing Science 24(2), for BG/NBD;
Fader and Hardie (2013), "The Gamma-Gamma Model of Monetary Value", for Gamma-Gamma. The
figures are read from cdnow_published_benchmarks.json in the data folder, which also
contains values recomputed from the same files at the published parameters.
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from agent.signals.clv import MODEL_METHOD, RULES_METHOD, score_customers
from agent.signals.clv_models import (
    ModelFit,
    bg_nbd_log_likelihood,
    fit_bg_nbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    ignore_overflow,
    posterior_samples,
)
from agent.signals.transactions import summarize_transactions

CALIBRATION_END = date(1997, 9, 30)
WEEK_78_END = date(1998, 6, 30)
HOLDOUT_WEEKS = 39


# The fits are cached per data folder, so every test of the module shares one fit.
@cache
def _published(data_dir: Path) -> dict:
    return json.loads((data_dir / "cdnow_published_benchmarks.json").read_text(encoding="utf-8"))


@cache
def _bg_nbd_fit(data_dir: Path) -> ModelFit:
    summary = pd.read_csv(data_dir / "cdnow_customers_summary.csv")
    return fit_bg_nbd(summary.rename(columns={"ID": "customer_id"}))


@cache
def _spend_data(data_dir: Path) -> pd.DataFrame:
    summary = pd.read_csv(data_dir / "cdnow_customers_summary_with_transactions.csv")
    repeat = summary.loc[summary["x"] > 0]
    return repeat.rename(columns={"ID": "customer_id", "x": "frequency", "zbar": "monetary_value"})


@cache
def _gamma_gamma_fit(data_dir: Path) -> ModelFit:
    return fit_gamma_gamma(_spend_data(data_dir))


@cache
def _transactions(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / "cdnow_sample_transactions.csv.gz")


@pytest.fixture
def published(shared_data_dir: Path) -> dict:
    return _published(shared_data_dir)


@pytest.fixture
def bg_nbd(shared_data_dir: Path) -> ModelFit:
    return _bg_nbd_fit(shared_data_dir)


@pytest.fixture
def gamma_gamma(shared_data_dir: Path) -> ModelFit:
    return _gamma_gamma_fit(shared_data_dir)


@pytest.fixture
def calibration_holdout(shared_data_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(shared_data_dir / "cdnow_sample_calibration_holdout.csv")
    return table.rename(columns={"x": "frequency", "t_x": "recency"})


# --- BG/NBD ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["r", "alpha", "a", "b"])
def test_bg_nbd_param_matches_published(bg_nbd: ModelFit, published: dict, name: str) -> None:
    expected = published["bgnbd"]["params"][name]
    assert bg_nbd.params[name] == pytest.approx(expected, rel=0.01)


def test_bg_nbd_log_likelihood_matches_published(bg_nbd: ModelFit, published: dict) -> None:
    expected = published["bgnbd"]["log_likelihood"]
    assert bg_nbd.log_likelihood == pytest.approx(expected, rel=0.01)
    # The published value is rounded to 0.1, and the fit is the maximum.
    assert bg_nbd.log_likelihood == pytest.approx(expected, abs=0.1)


def test_bg_nbd_log_likelihood_at_published_params(shared_data_dir: Path, published: dict) -> None:
    summary = pd.read_csv(shared_data_dir / "cdnow_customers_summary.csv")
    recomputed = published["bgnbd"]["recomputed_from_these_files_at_published_params"]
    value = bg_nbd_log_likelihood(
        published["bgnbd"]["params"], summary["frequency"], summary["recency"], summary["T"]
    )
    assert value == pytest.approx(recomputed["log_likelihood"], abs=0.01)


@pytest.mark.parametrize(
    "params",
    [
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        {"r": 1.5, "alpha": 20.0, "a": 2.5, "b": 0.7},
    ],
)
def test_bg_nbd_log_likelihood_equals_pymc_logp(bg_nbd: ModelFit, params: dict) -> None:
    model = bg_nbd.model.model
    data = bg_nbd.model.data
    logp = model.compile_logp(jacobian=False)
    point = {f"{name}_log__": np.log(value) for name, value in params.items()}
    ours = bg_nbd_log_likelihood(params, data["frequency"], data["recency"], data["T"])
    assert ours == pytest.approx(float(logp(point)), rel=1e-9)


def test_new_customer_expectations_match_hardie_sheet(bg_nbd: ModelFit, published: dict) -> None:
    sheet = published["bgnbd"]["expected_repeat_purchases_per_new_customer_E_X_t"]
    t = np.array(sheet["t_weeks"])
    data = pd.DataFrame({"customer_id": range(len(t))})
    with ignore_overflow():
        values = posterior_samples(bg_nbd.model.expected_purchases_new_customer(data, t=t))[0]
    assert values == pytest.approx(sheet["value"], rel=0.01, abs=1e-4)


def test_conditional_expectation_matches_hardie_sheet(bg_nbd: ModelFit, published: dict) -> None:
    case = published["bgnbd"]["conditional_expectation_example"]
    data = pd.DataFrame(
        {"customer_id": [1], "frequency": [case["x"]], "recency": [case["t_x"]], "T": [case["T"]]}
    )
    with ignore_overflow():
        value = posterior_samples(bg_nbd.model.expected_purchases(data, future_t=case["t"]))[0, 0]
    assert value == pytest.approx(case["expected_purchases"], abs=0.002)


def test_week_78_cumulative_forecast(
    shared_data_dir: Path, bg_nbd: ModelFit, published: dict
) -> None:
    """Sum E[X(t)] over the cohort, t running from each customer's first purchase to week 78."""
    recomputed = published["bgnbd"]["recomputed_from_these_files_at_published_params"]
    summary, _ = summarize_transactions(_transactions(shared_data_dir), WEEK_78_END, 7.0)
    with ignore_overflow():
        per_customer = bg_nbd.model.expected_purchases_new_customer(
            summary[["customer_id"]], t=summary["T"].to_numpy()
        )
    forecast = float(posterior_samples(per_customer)[0].sum())
    actual = int(summary["frequency"].sum())
    assert actual == recomputed["cumulative_week78_actual"]
    assert forecast == pytest.approx(recomputed["cumulative_week78_model"], rel=0.01)
    error_pct = (forecast - actual) / actual * 100
    assert error_pct == pytest.approx(recomputed["cumulative_week78_error_pct"], abs=0.5)


def test_holdout_conditional_expectations(
    bg_nbd: ModelFit, published: dict, calibration_holdout: pd.DataFrame
) -> None:
    recomputed = published["bgnbd"]["recomputed_from_these_files_at_published_params"]
    data = calibration_holdout[["customer_id", "frequency", "recency", "T"]]
    with ignore_overflow():
        expected = posterior_samples(bg_nbd.model.expected_purchases(data, future_t=HOLDOUT_WEEKS))
    expected = expected[0]
    actual = calibration_holdout["x_star_holdout"].to_numpy()
    assert actual.sum() == recomputed["holdout_actual_repeat_transactions"]
    assert expected.sum() == pytest.approx(
        recomputed["holdout_predicted_sum_conditional_expectations_39w"], rel=0.01
    )
    correlation = pearsonr(expected, actual).statistic
    assert correlation == pytest.approx(recomputed["corr_pred_actual"], abs=0.005)


# --- Gamma-Gamma ----------------------------------------------------------------------


def test_gamma_gamma_sample_is_946_repeat_buyers(shared_data_dir: Path) -> None:
    spend = _spend_data(shared_data_dir)
    assert len(spend) == 946
    assert (spend["monetary_value"] > 0).all()


@pytest.mark.parametrize(("name", "published_name"), [("p", "p"), ("q", "q"), ("v", "gamma")])
def test_gamma_gamma_param_matches_published(
    gamma_gamma: ModelFit, published: dict, name: str, published_name: str
) -> None:
    expected = published["gamma_gamma"]["params"][published_name]
    assert gamma_gamma.params[name] == pytest.approx(expected, rel=0.01)


def test_gamma_gamma_log_likelihood_matches_published(
    shared_data_dir: Path, gamma_gamma: ModelFit, published: dict
) -> None:
    expected = published["gamma_gamma"]["log_likelihood"]
    assert gamma_gamma.log_likelihood == pytest.approx(expected, rel=0.01)
    # zbar is rounded to cents in the file, which moves the maximum by about 0.01.
    assert gamma_gamma.log_likelihood == pytest.approx(expected, abs=0.05)
    spend = _spend_data(shared_data_dir)
    published_params = dict(published["gamma_gamma"]["params"])
    published_params["v"] = published_params.pop("gamma")
    at_published = gamma_gamma_log_likelihood(
        published_params, spend["frequency"], spend["monetary_value"]
    )
    assert at_published <= gamma_gamma.log_likelihood
    assert at_published == pytest.approx(-4055.925, abs=0.01)


def test_gamma_gamma_conditional_spend_matches_hardie_sheet(
    shared_data_dir: Path, gamma_gamma: ModelFit, published: dict
) -> None:
    sheet = published["gamma_gamma"]["conditional_expected_avg_spend_first10"]["value"]
    summary = pd.read_csv(shared_data_dir / "cdnow_customers_summary_with_transactions.csv")
    first10 = summary.head(10).rename(
        columns={"ID": "customer_id", "x": "frequency", "zbar": "monetary_value"}
    )
    with ignore_overflow():
        spend = posterior_samples(gamma_gamma.model.expected_customer_spend(first10))[0]
    assert spend == pytest.approx(sheet, abs=0.1)


# --- the whole pipeline from the raw transactions -------------------------------------


def test_score_customers_reproduces_published_params(
    shared_data_dir: Path, published: dict
) -> None:
    scores = score_customers(_transactions(shared_data_dir), CALIBRATION_END, 365, time_unit="W")
    assert scores.bg_nbd is not None
    assert scores.gamma_gamma is not None
    for name, expected in published["bgnbd"]["params"].items():
        assert scores.bg_nbd.params[name] == pytest.approx(expected, rel=0.01), name
    assert scores.bg_nbd.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    spend_params = published["gamma_gamma"]["params"]
    assert scores.gamma_gamma.params["p"] == pytest.approx(spend_params["p"], rel=0.01)
    assert scores.gamma_gamma.params["q"] == pytest.approx(spend_params["q"], rel=0.01)
    assert scores.gamma_gamma.params["v"] == pytest.approx(spend_params["gamma"], rel=0.01)
    assert scores.gamma_gamma.customers == 946
    assert scores.method_counts() == {MODEL_METHOD: 946, RULES_METHOD: 1411}
    # Only the holdout transactions are dropped, each named in one note.
    assert len(scores.notes) == 1
    assert "after as_of" in scores.notes[0]
