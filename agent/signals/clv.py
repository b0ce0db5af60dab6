"""Customer lifetime value and churn: BG/NBD and Gamma-Gamma, with rules as the fallback.

`score_customers` reads a transactions table with the columns customer_id, date and
amount (see `agent.signals.transactions`) and returns `ClvScores`. The result has one
`CustomerValue` row per customer with a purchase at or before `as_of`, the fitted
parameters with their log-likelihoods, and a note on every problem found.

A customer is scored by the models (`method` = "bg_nbd+gamma_gamma") when they have at
least one repeat purchase, both fits succeeded and their mean repeat spend is positive.
The BG/NBD model gives p_alive and the expected purchases over the horizon, the
Gamma-Gamma model the expected spend per purchase, and predicted_clv is their product,
undiscounted. Every other customer is scored by the rules of `agent.signals.clv_rules`
(`method` = "rfm_rules"), and `fallback_reason` gives the reason.

The BG/NBD fit uses every customer, one-time buyers included, and needs at least
`min_repeat_buyers` repeat buyers. The Gamma-Gamma fit uses the repeat buyers with a
positive mean repeat spend and needs as many. Below that the parameters are poorly
determined: 30 is a rule of thumb for 4 parameters, not a derived bound.

Time unit: the models run in days (`time_unit="D"`) or weeks ("W"); the output is in days
either way. Days suit daily order data such as Online Retail and weeks match the published
CDNOW analyses. The horizon is `horizon_days` (365 by default) in both cases.

Intervals: `clv_low` and `clv_high` bound the central `interval` share (90% by default)
of the posterior of the expected value, from the draws of a laplace or mcmc fit. They
cover the parameter uncertainty only, not the randomness of a customer's future
purchases. With draws, p_alive, expected_purchases and predicted_clv are posterior
medians. A map fit has one point and no draws, so both bounds are None, as they are for
rule-scored customers.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from agent.signals.clv_models import (
    DEFAULT_DRAWS,
    FIT_METHODS,
    FitMethod,
    ModelFit,
    ModelFitError,
    fit_bg_nbd,
    fit_gamma_gamma,
    ignore_overflow,
    posterior_samples,
)
from agent.signals.clv_rules import score_by_rules
from agent.signals.transactions import cutoff_of, summarize_transactions

logger = logging.getLogger(__name__)

MODEL_METHOD = "bg_nbd+gamma_gamma"
RULES_METHOD = "rfm_rules"
ScoringMethod = Literal["bg_nbd+gamma_gamma", "rfm_rules"]
TimeUnit = Literal["D", "W"]
UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0}
MIN_REPEAT_BUYERS = 30
DEFAULT_INTERVAL = 0.9
# Below this mean dropout probability after a purchase, a/(a+b), p_alive is near 1 for
# almost every repeat buyer. Online Retail fits land there (a/(a+b) < 0.001), while CDNOW's is
# 0.25.
MIN_MEAN_DROPOUT = 0.01

# Values of CustomerValue.fallback_reason.
ONE_TIME_BUYER = "one_time_buyer"
TOO_FEW_REPEAT_BUYERS = "too_few_repeat_buyers"
MODEL_FIT_FAILED = "model_fit_failed"
NO_REPEAT_SPEND = "no_repeat_spend"
NON_FINITE_PREDICTION = "non_finite_prediction"

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class CustomerValue(BaseModel):
    """One customer's predicted value and churn signals at `as_of`."""

    customer_id: str
    method: ScoringMethod
    p_alive: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    expected_purchases: NonNegative = Field(description="Purchase days expected in the horizon.")
    predicted_clv: NonNegative = Field(description="Expected spend in the horizon, undiscounted.")
    clv_low: NonNegative | None = Field(description="Lower interval bound; None without draws.")
    clv_high: NonNegative | None = Field(description="Upper interval bound; None without draws.")
    frequency: int = Field(ge=0, description="Repeat purchase days before as_of.")
    recency_days: NonNegative = Field(description="Days from the first to the last purchase.")
    tenure_days: NonNegative = Field(description="Days from the first purchase to as_of.")
    monetary: NonNegative = Field(description="Mean spend per purchase day, the first included.")
    fallback_reason: str | None = Field(
        default=None, description="Why the rules scored this customer; None for the models."
    )


class FitReport(BaseModel):
    """A fitted model's parameters and log-likelihood."""

    model: Literal["bg_nbd", "gamma_gamma"]
    fit_method: str
    params: dict[str, FiniteFloat] = Field(description="MAP, or posterior medians with draws.")
    log_likelihood: FiniteFloat = Field(description="Log-likelihood at `params`.")
    customers: int = Field(description="Customers the model was fitted to.")
    draws: int = Field(description="Posterior draws; 1 for a map fit.")
    seconds: float


class ClvScores(BaseModel):
    """The result of `score_customers`."""

    as_of: datetime
    horizon_days: float
    time_unit: TimeUnit
    fit_method: str
    interval: float | None = Field(description="Share of the posterior inside clv_low..clv_high.")
    customers: list[CustomerValue]
    bg_nbd: FitReport | None = None
    gamma_gamma: FitReport | None = None
    notes: list[str] = Field(default_factory=list, description="Problems found, in plain words.")
    seconds: float = 0.0

    def to_frame(self) -> pd.DataFrame:
        """Return the rows as a DataFrame indexed by customer_id; a missing bound is NaN there."""
        columns = list(CustomerValue.model_fields)
        frame = pd.DataFrame([row.model_dump() for row in self.customers], columns=columns)
        return frame.set_index("customer_id")

    def method_counts(self) -> dict[str, int]:
        """Return how many customers each method scored."""
        counts = {MODEL_METHOD: 0, RULES_METHOD: 0}
        for row in self.customers:
            counts[row.method] += 1
        return counts


def score_customers(
    transactions: pd.DataFrame,
    as_of: date | datetime,
    horizon_days: float = 365,
    *,
    time_unit: TimeUnit = "D",
    fit_method: FitMethod = "map",
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
    interval: float = DEFAULT_INTERVAL,
    draws: int = DEFAULT_DRAWS,
    random_seed: int = 0,
) -> ClvScores:
    """Score every customer with a valid purchase at or before `as_of` (see the module docstring).

    A `date` as_of means the end of that day in UTC. Invalid rows, future rows, too few
    repeat buyers, a `ModelFitError` from a fit and non-finite predictions do not raise.
    Each is logged as a warning and named in `notes`, and the rules score the customers
    concerned. Raises ValueError for invalid arguments or a table without the required
    columns.
    """
    _check_arguments(horizon_days, time_unit, fit_method, min_repeat_buyers, interval, draws)
    started = time.perf_counter()
    unit_days = UNIT_DAYS[time_unit]
    summary, notes = summarize_transactions(transactions, as_of, unit_days)
    result = ClvScores(
        as_of=cutoff_of(as_of).to_pydatetime().astimezone(UTC),
        horizon_days=horizon_days,
        time_unit=time_unit,
        fit_method=fit_method,
        interval=interval if fit_method != "map" else None,
        customers=[],
        notes=notes,
    )
    if summary.empty:
        _warn(result.notes, "no valid transactions at or before as_of, so no customer was scored")
        result.seconds = time.perf_counter() - started
        return result

    scorer = _Scorer(summary, unit_days, horizon_days, result.notes)
    scorer.fit(fit_method, min_repeat_buyers, draws, random_seed)
    scorer.predict(interval)
    result.customers = scorer.rows()
    result.bg_nbd = _report(scorer.bg_nbd)
    result.gamma_gamma = _report(scorer.gamma_gamma)
    result.seconds = time.perf_counter() - started
    counts = result.method_counts()
    logger.info(
        "scored %d customers in %.1f s: %d by %s, %d by %s",
        len(result.customers),
        result.seconds,
        counts[MODEL_METHOD],
        MODEL_METHOD,
        counts[RULES_METHOD],
        RULES_METHOD,
    )
    return result


def _check_arguments(
    horizon_days: float,
    time_unit: str,
    fit_method: str,
    min_repeat_buyers: int,
    interval: float,
    draws: int,
) -> None:
    if not (math.isfinite(horizon_days) and horizon_days > 0):
        raise ValueError(f"horizon_days must be a positive number of days, got {horizon_days!r}")
    if time_unit not in UNIT_DAYS:
        raise ValueError(f"time_unit must be one of {list(UNIT_DAYS)}, got {time_unit!r}")
    if fit_method not in FIT_METHODS:
        raise ValueError(f"fit_method must be one of {list(FIT_METHODS)}, got {fit_method!r}")
    if min_repeat_buyers < 1:
        raise ValueError(f"min_repeat_buyers must be at least 1, got {min_repeat_buyers!r}")
    if not 0 < interval < 1:
        raise ValueError(f"interval must be between 0 and 1, such as 0.9, got {interval!r}")
    if draws < 2:
        raise ValueError(f"draws must be at least 2, got {draws!r}")


def _warn(notes: list[str], message: str) -> None:
    logger.warning("%s", message)
    notes.append(message)


def _report(fit: ModelFit | None) -> FitReport | None:
    if fit is None:
        return None
    return FitReport(
        model=fit.name,  # type: ignore[arg-type]
        fit_method=fit.method,
        params=fit.params,
        log_likelihood=fit.log_likelihood,
        customers=fit.customers,
        draws=fit.draws,
        seconds=round(fit.seconds, 3),
    )


class _Scorer:
    """Fits the models to one summary and combines their predictions with the rules."""

    def __init__(
        self, summary: pd.DataFrame, unit_days: float, horizon_days: float, notes: list[str]
    ) -> None:
        self.summary = summary.reset_index(drop=True)
        self.unit_days = unit_days
        self.horizon_days = horizon_days
        self.notes = notes
        self.bg_nbd: ModelFit | None = None
        self.gamma_gamma: ModelFit | None = None
        count = len(self.summary)
        self.recency_days = self.summary["recency"].to_numpy(dtype=float) * unit_days
        self.tenure_days = self.summary["T"].to_numpy(dtype=float) * unit_days
        frequency = self.summary["frequency"].to_numpy()
        self.reasons = np.where(frequency > 0, "", ONE_TIME_BUYER).astype(object)
        self.p_alive = np.zeros(count)
        self.expected = np.zeros(count)
        self.clv = np.zeros(count)
        self.low: np.ndarray = np.full(count, np.nan)
        self.high: np.ndarray = np.full(count, np.nan)

    def fit(self, method: FitMethod, min_repeat_buyers: int, draws: int, seed: int) -> None:
        """Fit BG/NBD, then Gamma-Gamma; on any failure, mark the repeat buyers for the rules."""
        summary = self.summary
        repeat_buyers = int((summary["frequency"] > 0).sum())
        if repeat_buyers < min_repeat_buyers:
            self._give_up(
                TOO_FEW_REPEAT_BUYERS,
                f"only {repeat_buyers} customers have a repeat purchase, fewer than the "
                f"{min_repeat_buyers} a BG/NBD fit needs, so every customer is scored by "
                f"{RULES_METHOD}",
            )
            return
        try:
            self.bg_nbd = fit_bg_nbd(summary, method, draws=draws, random_seed=seed)
        except ModelFitError as exc:
            self._give_up(MODEL_FIT_FAILED, f"{exc}; every customer is scored by {RULES_METHOD}")
            return
        self._check_dropout(self.bg_nbd.params)

        spenders = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        if len(spenders) < min_repeat_buyers:
            self._give_up(
                TOO_FEW_REPEAT_BUYERS,
                f"only {len(spenders)} repeat buyers have a positive mean repeat spend, fewer "
                f"than the {min_repeat_buyers} a Gamma-Gamma fit needs, so every customer is "
                f"scored by {RULES_METHOD}",
            )
            return
        try:
            self.gamma_gamma = fit_gamma_gamma(spenders, method, draws=draws, random_seed=seed + 1)
        except ModelFitError as exc:
            self._give_up(MODEL_FIT_FAILED, f"{exc}; every customer is scored by {RULES_METHOD}")

    def _check_dropout(self, params: dict[str, float]) -> None:
        a, b = params["a"], params["b"]
        dropout = a / (a + b)
        if dropout < MIN_MEAN_DROPOUT:
            _warn(
                self.notes,
                f"the BG/NBD fit puts the mean dropout probability after a purchase at "
                f"{dropout:.2g} (a={a:.3g}, b={b:.3g}), so p_alive is near 1 for almost every "
                "repeat buyer and ranks churn weakly; rank by expected_purchases instead",
            )

    def _give_up(self, reason: str, message: str) -> None:
        _warn(self.notes, message)
        self.reasons[self.reasons == ""] = reason

    def predict(self, interval: float) -> None:
        """Predict for the model rows, then score every remaining row by the rules."""
        if self.bg_nbd is not None and self.gamma_gamma is not None:
            self._predict_with_models(interval)
        self._score_rest_by_rules()

    def _predict_with_models(self, interval: float) -> None:
        summary = self.summary
        candidates = (self.reasons == "") & (summary["monetary_value"].to_numpy() <= 0)
        if candidates.any():
            self.reasons[candidates] = NO_REPEAT_SPEND
            _warn(
                self.notes,
                f"{int(candidates.sum())} repeat buyers have no positive repeat spend, so the "
                f"Gamma-Gamma model cannot score them; they are scored by {RULES_METHOD}",
            )

        rows = np.flatnonzero(self.reasons == "")
        if rows.size == 0:
            return
        purchases, alive, clv = self._model_samples(summary.iloc[rows])
        finite = np.all(np.isfinite(purchases) & np.isfinite(alive) & np.isfinite(clv), axis=0)
        if not finite.all():
            self.reasons[rows[~finite]] = NON_FINITE_PREDICTION
            _warn(
                self.notes,
                f"the models returned NaN or infinite values for {int((~finite).sum())} "
                f"customers (such as frequency {int(summary['frequency'].iloc[rows[~finite][0]])})"
                f"; they are scored by {RULES_METHOD}",
            )

        kept = rows[finite]
        # With draws, the point values are posterior medians, which lie inside the interval.
        self.p_alive[kept] = np.clip(np.median(alive[:, finite], axis=0), 0.0, 1.0)
        self.expected[kept] = np.maximum(np.median(purchases[:, finite], axis=0), 0.0)
        self.clv[kept] = np.maximum(np.median(clv[:, finite], axis=0), 0.0)
        if clv.shape[0] > 1:
            tail = (1 - interval) / 2
            bounds = np.quantile(clv[:, finite], [tail, 1 - tail], axis=0)
            self.low[kept] = np.maximum(bounds[0], 0.0)
            self.high[kept] = np.maximum(bounds[1], 0.0)

    def _model_samples(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (expected purchases, p_alive, clv) as (samples, customers) arrays."""
        assert self.bg_nbd is not None and self.gamma_gamma is not None
        horizon = self.horizon_days / self.unit_days
        rfm = data[["customer_id", "frequency", "recency", "T"]]
        spend_data = data[["customer_id", "frequency", "monetary_value"]]
        with ignore_overflow():
            purchases = posterior_samples(
                self.bg_nbd.model.expected_purchases(rfm, future_t=horizon)
            )
            alive = posterior_samples(self.bg_nbd.model.expected_probability_alive(rfm))
            spend = posterior_samples(self.gamma_gamma.model.expected_customer_spend(spend_data))
        # The two fits are independent, so pairing their draws by position samples the
        # joint posterior; a map fit has one draw each.
        count = min(purchases.shape[0], spend.shape[0])
        purchases, alive, spend = purchases[:count], alive[:count], spend[:count]
        return purchases, alive, purchases * spend

    def _score_rest_by_rules(self) -> None:
        rest = self.reasons != ""
        if not rest.any():
            return
        summary = self.summary
        rules = score_by_rules(
            summary["frequency"].to_numpy(),
            self.recency_days,
            self.tenure_days,
            summary["mean_spend"].to_numpy(),
            self.horizon_days,
        )
        for column, target in (
            ("p_alive", self.p_alive),
            ("expected_purchases", self.expected),
            ("predicted_clv", self.clv),
        ):
            target[rest] = rules[column].to_numpy()[rest]
        self.low[rest] = np.nan
        self.high[rest] = np.nan

    def rows(self) -> list[CustomerValue]:
        """Build one CustomerValue per summary row."""
        summary = self.summary
        monetary = np.nan_to_num(summary["mean_spend"].to_numpy(dtype=float), nan=0.0)
        frequency = summary["frequency"].to_numpy()
        rows = []
        for index, customer_id in enumerate(summary["customer_id"]):
            reason = self.reasons[index] or None
            rows.append(
                CustomerValue(
                    customer_id=str(customer_id),
                    method=RULES_METHOD if reason else MODEL_METHOD,
                    p_alive=float(self.p_alive[index]),
                    expected_purchases=float(self.expected[index]),
                    predicted_clv=float(self.clv[index]),
                    clv_low=_bound(self.low[index]),
                    clv_high=_bound(self.high[index]),
                    frequency=int(frequency[index]),
                    recency_days=float(self.recency_days[index]),
                    tenure_days=float(self.tenure_days[index]),
                    monetary=max(float(monetary[index]), 0.0),
                    fallback_reason=reason,
                )
            )
        return rows


def _bound(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
