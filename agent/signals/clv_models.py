"""BG/NBD and Gamma-Gamma fits with pymc-marketing 0.19, and their log-likelihoods.

Both models get flat priors (`HalfFlat` on every parameter), so a MAP fit is the maximum
likelihood estimate. On the CDNOW sample that reproduces Fader, Hardie and Lee (2005):
BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426; and Fader and Hardie (2013): Gamma-Gamma
p=6.25, q=3.74, gamma=15.44. pymc-marketing's default BG/NBD priors move a and b, to 0.706
and 2.092 in a MAP fit to the same data.
pymc-marketing names the Gamma-Gamma scale `v`; the papers call it gamma.

Fit methods:

- `map`: the posterior mode found by `pymc.find_MAP`; one point, so no interval.
- `laplace`: the mode plus draws from a normal approximation around it in the
  unconstrained (log) space, from `pymc_extras.fit_laplace`. It freezes the data into the
  compiled graph, so every new data set compiles again: 9 to 15 s per fit on Online
  Retail on 2 busy CPU cores, against 2 to 6 s for map.
- `mcmc`: NUTS draws from `pymc.sample`, 2 chains run one after the other. The slowest:
  the CDNOW sample took 100 s for both fits on 2 busy CPU cores.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln

# arviz logs one INFO line per optional package it lacks when it is imported.
logging.getLogger("arviz.preview").setLevel(logging.WARNING)

import pymc_extras  # noqa: E402
from pymc_extras.prior import Prior  # noqa: E402
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel  # noqa: E402
from pymc_marketing.clv.models.basic import CLVModel  # noqa: E402

logger = logging.getLogger(__name__)

FitMethod = Literal["map", "laplace", "mcmc"]
FIT_METHODS: tuple[str, ...] = ("map", "laplace", "mcmc")
BG_NBD_PARAMS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMS = ("p", "q", "v")
# Posterior draws kept by the laplace and mcmc fits: enough for 5% and 95% quantiles.
DEFAULT_DRAWS = 1000
MCMC_CHAINS = 2
MCMC_TUNE = 1000


class ModelFitError(RuntimeError):
    """A fit failed or returned parameters the predictions cannot use."""


@dataclass
class ModelFit:
    """A fitted pymc-marketing model with its point estimates and log-likelihood.

    `params` are the MAP for a map fit and posterior medians otherwise; `log_likelihood` is
    evaluated at `params`. The medians of a laplace fit are close to its MAP, because the
    normal approximation is centred on the MAP in log space.
    """

    name: str
    model: CLVModel
    params: dict[str, float]
    log_likelihood: float
    customers: int
    method: str
    draws: int
    seconds: float


@contextmanager
def ignore_overflow() -> Iterator[None]:
    """Silence numpy's floating-point warnings, which fits and predictions expect.

    For customers with hundreds of purchases, scipy's hyp2f1 and the power terms of the
    BG/NBD formulas overflow to inf or NaN; the caller replaces those values.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        yield


def fit_bg_nbd(
    summary: pd.DataFrame,
    method: FitMethod = "map",
    *,
    draws: int = DEFAULT_DRAWS,
    random_seed: int = 0,
) -> ModelFit:
    """Fit BG/NBD with flat priors to customer_id, frequency, recency and T.

    Raises ModelFitError when the fit fails or a parameter is not positive and finite.
    """
    data = summary[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
    model = BetaGeoModel(model_config={name: Prior("HalfFlat") for name in BG_NBD_PARAMS})
    started = time.perf_counter()
    _fit(model, data, BG_NBD_PARAMS, method, draws, random_seed)
    params = _point_estimates(model, BG_NBD_PARAMS, "BG/NBD")
    log_likelihood = bg_nbd_log_likelihood(params, data["frequency"], data["recency"], data["T"])
    return ModelFit(
        name="bg_nbd",
        model=model,
        params=params,
        log_likelihood=log_likelihood,
        customers=len(data),
        method=method,
        draws=_draw_count(model),
        seconds=time.perf_counter() - started,
    )


def fit_gamma_gamma(
    summary: pd.DataFrame,
    method: FitMethod = "map",
    *,
    draws: int = DEFAULT_DRAWS,
    random_seed: int = 0,
) -> ModelFit:
    """Fit Gamma-Gamma with flat priors to repeat buyers' frequency and monetary_value.

    Every row needs frequency >= 1 and monetary_value > 0. Raises ModelFitError when the
    fit fails, a parameter is not positive and finite, or q <= 1, because the expected
    spend p * v / (q - 1) is then undefined.
    """
    data = summary[["customer_id", "frequency", "monetary_value"]].reset_index(drop=True)
    model = GammaGammaModel(model_config={name: Prior("HalfFlat") for name in GAMMA_GAMMA_PARAMS})
    started = time.perf_counter()
    _fit(model, data, GAMMA_GAMMA_PARAMS, method, draws, random_seed)
    params = _point_estimates(model, GAMMA_GAMMA_PARAMS, "Gamma-Gamma")
    if params["q"] <= 1:
        raise ModelFitError(
            f"the Gamma-Gamma fit returned q={params['q']:.4g}, but the expected spend needs "
            "q > 1; the spend of these customers varies too much for the model"
        )
    log_likelihood = gamma_gamma_log_likelihood(params, data["frequency"], data["monetary_value"])
    return ModelFit(
        name="gamma_gamma",
        model=model,
        params=params,
        log_likelihood=log_likelihood,
        customers=len(data),
        method=method,
        draws=_draw_count(model),
        seconds=time.perf_counter() - started,
    )


def _fit(
    model: CLVModel,
    data: pd.DataFrame,
    names: tuple[str, ...],
    method: str,
    draws: int,
    seed: int,
) -> None:
    if method not in FIT_METHODS:
        raise ValueError(f"unknown fit method {method!r}; use one of {list(FIT_METHODS)}")
    try:
        with ignore_overflow():
            if method == "map":
                model.fit(data=data, method="map", progressbar=False)
            elif method == "laplace":
                # Starting fit_laplace's optimizer at the MAP, without jitter, keeps it from
                # diverging on the Gamma-Gamma likelihood from a random start.
                model.fit(data=data, method="map", progressbar=False)
                mode = {name: float(model.fit_result[name].mean()) for name in names}
                model.idata = pymc_extras.fit_laplace(
                    model=model.model,
                    initvals=mode,
                    jitter_rvs=[],
                    draws=draws,
                    random_seed=seed,
                    progressbar=False,
                    include_transformed=False,
                )
            else:
                model.fit(
                    data=data,
                    method="mcmc",
                    draws=max(draws // MCMC_CHAINS, 1),
                    tune=MCMC_TUNE,
                    chains=MCMC_CHAINS,
                    cores=1,
                    random_seed=seed,
                    progressbar=False,
                )
    # pymc raises SamplingError (a RuntimeError) on bad starting points, scipy and
    # pytensor raise ValueError or FloatingPointError on invalid values.
    except (RuntimeError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise ModelFitError(f"the {model._model_type} fit ({method}) failed: {exc}") from exc


def _point_estimates(model: CLVModel, names: tuple[str, ...], label: str) -> dict[str, float]:
    posterior = model.fit_result
    params = {name: float(posterior[name].median()) for name in names}
    bad = {name: value for name, value in params.items() if not (np.isfinite(value) and value > 0)}
    if bad:
        raise ModelFitError(
            f"the {label} fit returned parameters that are not positive and finite: {bad}"
        )
    return params


def _draw_count(model: CLVModel) -> int:
    posterior = model.fit_result
    return int(posterior.sizes["chain"] * posterior.sizes["draw"])


def posterior_samples(values: object) -> np.ndarray:
    """Return an xarray prediction with (chain, draw, customer_id) dims as (samples, customers)."""
    array = values.transpose("chain", "draw", "customer_id")  # type: ignore[attr-defined]
    data = np.asarray(array.values, dtype=float)
    return data.reshape(-1, data.shape[-1])


def bg_nbd_log_likelihood(
    params: dict[str, float],
    frequency: pd.Series | np.ndarray,
    recency: pd.Series | np.ndarray,
    T: pd.Series | np.ndarray,
) -> float:
    """Return the BG/NBD log-likelihood summed over customers.

    Per customer, the likelihood of Fader, Hardie and Lee (2005) is
    L = B(a, b+x) / B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] * B(a+1, b+x-1) / B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x)),
    where G is the gamma function and B the beta function. The sum of the two terms is
    taken in log space, so large frequencies do not overflow.
    """
    r, alpha, a, b = (params[name] for name in BG_NBD_PARAMS)
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    x_repeat = x[repeat]
    dropped[repeat] = betaln(a + 1, b + x_repeat - 1) - (r + x_repeat) * np.log(alpha + t_x[repeat])
    return float(np.sum(common + np.logaddexp(alive, dropped)))


def gamma_gamma_log_likelihood(
    params: dict[str, float],
    frequency: pd.Series | np.ndarray,
    monetary_value: pd.Series | np.ndarray,
) -> float:
    """Return the Gamma-Gamma log-likelihood of the mean repeat spends, summed over customers.

    The density of a customer's mean spend zbar over x purchases, from Fader and Hardie
    (2013), is G(px+q) / (G(px) G(q)) * v^q * zbar^(px-1) * x^(px) / (v + x zbar)^(px+q).
    """
    p, q, v = (params[name] for name in GAMMA_GAMMA_PARAMS)
    x = np.asarray(frequency, dtype=float)
    z = np.asarray(monetary_value, dtype=float)
    per_customer = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(z)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * z + v)
    )
    return float(np.sum(per_customer))
