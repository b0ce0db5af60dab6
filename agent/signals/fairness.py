"""Fairness check: do offers and challenge sizes differ across countries or tenure bands in
ways that predicted value and churn risk do not explain?

Outcomes, per customer:
- `offer_level`: the rung of the brand's incentive ladder (`ladder_step_for` and
  `allowed_offer_for` in agent.guardrails.offers), counted as the number of rungs with an
  offer at or below the customer's, so 0 is no offer;
- `challenge_orders`: the orders a loyalty challenge requires (`challenge_size`).

Method. Customers are put in strata by predicted 12-month value (deciles) and churn risk
(below 0.3, 0.3 to 0.7, 0.7 and above). An outcome's residual is its value minus the mean
of its stratum, so what remains is not explained by value or risk at that resolution. A
group's adjusted gap is the mean residual of its customers minus that of everyone else.
The p-value comes from a permutation test that shuffles group labels within strata
(PERMUTATIONS rounds, seeded), and is multiplied by the number of groups tested for that
attribute and outcome (Bonferroni). A gap is flagged when the adjusted p-value is below
ALPHA and the gap is at least MIN_EFFECT standard deviations of the outcome. Groups with
fewer than MIN_GROUP_SIZE customers are listed but not tested.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from agent.context.store import ContextStore
from agent.domain import BrandProfile, CustomerContext, OrderStatus
from agent.guardrails.offers import allowed_offer_for, ladder_step_for
from agent.loyalty.challenges import DEFAULT_RULE, challenge_size
from agent.loyalty.models import ChallengeRule

if TYPE_CHECKING:
    from agent.signals.report import ReportData, Section

logger = logging.getLogger(__name__)

VALUE_STRATA = 10
RISK_BANDS = (0.3, 0.7)
TENURE_BANDS = (
    (0, "under 90 days"),
    (90, "90 to 179 days"),
    (180, "180 to 364 days"),
    (365, "365 days or more"),
)
MIN_GROUP_SIZE = 20
MIN_EFFECT = 0.2
ALPHA = 0.05
PERMUTATIONS = 2_000
DEFAULT_SEED = 11
ATTRIBUTES = ("country", "tenure_band")
OUTCOMES = ("offer_level", "challenge_orders")
INPUT_COLUMNS = ("customer_id", "country", "tenure_days", "predicted_value", "churn_risk")


class FairnessInputError(ValueError):
    """The customer table lacks a column or contains an invalid value."""


@dataclass(frozen=True)
class GroupGap:
    attribute: str
    group: str
    outcome: str
    customers: int
    tested: bool
    mean: float
    others_mean: float
    raw_gap: float
    adjusted_gap: float | None = None
    effect: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    flagged: bool = False


@dataclass
class FairnessResult:
    customers: int
    gaps: list[GroupGap]
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[GroupGap]:
        return [gap for gap in self.gaps if gap.flagged]


# --- inputs ----------------------------------------------------------------------------------


def tenure_band(days: float) -> str:
    label = TENURE_BANDS[0][1]
    for start, name in TENURE_BANDS:
        if days >= start:
            label = name
    return label


def offer_level(context: CustomerContext, brand: BrandProfile) -> int:
    """Count the ladder rungs with an offer at or below the customer's rung (0: no offer)."""
    step = ladder_step_for(context, brand)
    if step is None:
        return 0
    return sum(
        1
        for rung in brand.incentive_ladder
        if rung.offer and rung.min_lifetime_spend <= step.min_lifetime_spend
    )


def customer_row(
    context: CustomerContext,
    brand: BrandProfile,
    as_of: datetime,
    predicted_value: float,
    churn_risk: float,
) -> dict[str, object] | None:
    """Return a customer's fairness inputs, or None without a live order before `as_of`."""
    live = [o.placed_at for o in context.orders if o.status is not OrderStatus.CANCELLED]
    if not live:
        return None
    return {
        "customer_id": context.customer_id,
        "country": context.country or "unknown",
        "tenure_days": (as_of - min(live)).total_seconds() / 86_400,
        "predicted_value": predicted_value,
        "churn_risk": churn_risk,
        "offer": allowed_offer_for(context, brand),
        "offer_level": offer_level(context, brand),
    }


def load_fairness_inputs(engine: Engine, brand: BrandProfile, as_of: datetime) -> pd.DataFrame:
    """Build the customer table from stored signals (`customer_signals`) and contexts.

    Churn risk is 1 - p_alive. Customers without a predicted value or p_alive are left out.
    Returns an empty table when no signals are stored for the brand.
    """
    from agent.signals.store import load_brand_signals

    signals = load_brand_signals(engine, brand.brand_id)
    store = ContextStore(engine, classify=lambda description, profile: None)
    rows = []
    for customer_id, item in sorted(signals.items()):
        clv = item.clv
        if clv.predicted_clv is None or clv.p_alive is None:
            continue
        context = store.load(customer_id, as_of=as_of, brand=brand)
        row = customer_row(context, brand, as_of, clv.predicted_clv, 1 - clv.p_alive)
        if row is not None:
            rows.append(row)
    return pd.DataFrame(rows, columns=[*INPUT_COLUMNS, "offer", "offer_level"])


def prepare(frame: pd.DataFrame, rule: ChallengeRule = DEFAULT_RULE) -> pd.DataFrame:
    """Validate the customer table and add tenure_band and challenge_orders.

    `frame` needs INPUT_COLUMNS and offer_level. Raises FairnessInputError naming the
    column or the first invalid value.
    """
    missing = [name for name in (*INPUT_COLUMNS, "offer_level") if name not in frame.columns]
    if missing:
        raise FairnessInputError(
            f"the customer table lacks the columns {missing}; give {', '.join(INPUT_COLUMNS)} "
            "and offer_level"
        )
    table = frame.copy()
    table["country"] = table["country"].fillna("unknown").astype(str)
    for name in ("tenure_days", "predicted_value", "churn_risk", "offer_level"):
        values = pd.to_numeric(table[name], errors="coerce")
        bad = table.loc[values.isna() | ~np.isfinite(values), "customer_id"]
        if len(bad):
            raise FairnessInputError(
                f"column {name!r} of customer {bad.iloc[0]!r} is not a finite number: "
                f"{table.loc[bad.index[0], name]!r}"
            )
        table[name] = values.astype(float)
    try:
        table["challenge_orders"] = [
            challenge_size(value, risk, rule=rule)
            for value, risk in zip(table["predicted_value"], table["churn_risk"], strict=True)
        ]
    except ValueError as error:
        raise FairnessInputError(f"invalid predicted value or churn risk: {error}") from error
    table["tenure_band"] = table["tenure_days"].map(tenure_band)
    return table.reset_index(drop=True)


# --- the check -------------------------------------------------------------------------------


def strata_of(table: pd.DataFrame) -> np.ndarray:
    """Return a stratum code per customer: value decile x churn-risk band."""
    bins = min(VALUE_STRATA, len(table))
    ranks = table["predicted_value"].rank(method="first")
    value = pd.qcut(ranks, bins, labels=False).to_numpy(dtype=int)
    risk = np.digitize(table["churn_risk"].to_numpy(), RISK_BANDS)
    return value * (len(RISK_BANDS) + 1) + risk


def _residuals(values: np.ndarray, strata: np.ndarray) -> np.ndarray:
    sums = np.bincount(strata, weights=values)
    counts = np.bincount(strata)
    return values - (sums / np.maximum(counts, 1))[strata]


def _permuted_sums(
    codes: np.ndarray, strata: np.ndarray, residuals: np.ndarray, groups: int, seed: int
) -> np.ndarray:
    """Return per-group residual sums over PERMUTATIONS within-strata shuffles of `codes`.

    The result has shape (PERMUTATIONS, outcomes, groups).
    """
    rng = np.random.default_rng(seed)
    by_stratum = np.argsort(strata, kind="stable")
    sums = np.empty((PERMUTATIONS, len(residuals), groups))
    for round_ in range(PERMUTATIONS):
        # Sorting by stratum, then by a random key, shuffles labels within each stratum.
        shuffled = np.lexsort((rng.random(len(codes)), strata))
        permuted = np.empty_like(codes)
        permuted[by_stratum] = codes[shuffled]
        for index, outcome in enumerate(residuals):
            sums[round_, index] = np.bincount(permuted, weights=outcome, minlength=groups)
    return sums


def check_fairness(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str] = ATTRIBUTES,
    outcomes: Sequence[str] = OUTCOMES,
    seed: int = DEFAULT_SEED,
) -> FairnessResult:
    """Compare outcomes across the groups of each attribute, within value and risk strata.

    `frame` is the output of `prepare`. See the module docstring for the method.
    """
    if len(frame) < 2 * MIN_GROUP_SIZE:
        note = (
            f"{len(frame)} customers are too few to compare groups; at least "
            f"{2 * MIN_GROUP_SIZE} are needed"
        )
        return FairnessResult(len(frame), [], [note])
    strata = strata_of(frame)
    values = np.vstack([frame[name].to_numpy(dtype=float) for name in outcomes])
    residuals = np.vstack([_residuals(row, strata) for row in values])
    gaps: list[GroupGap] = []
    for offset, attribute in enumerate(attributes):
        gaps += _attribute_gaps(
            frame, attribute, outcomes, values, residuals, strata, seed + offset
        )
    return FairnessResult(len(frame), gaps)


def _differences(sums: Any, total: float, counts: Any, size: int) -> Any:
    """Mean of each group minus the mean of everyone else, from per-group sums.

    `size` is the number of customers; `sums` and `counts` may be arrays or numbers.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums / counts - (total - sums) / (size - counts)


def _attribute_gaps(
    frame: pd.DataFrame,
    attribute: str,
    outcomes: Sequence[str],
    values: np.ndarray,
    residuals: np.ndarray,
    strata: np.ndarray,
    seed: int,
) -> list[GroupGap]:
    codes, names = pd.factorize(frame[attribute], sort=True)
    groups = len(names)
    counts = np.bincount(codes, minlength=groups)
    tested = (counts >= MIN_GROUP_SIZE) & (len(codes) - counts >= MIN_GROUP_SIZE)
    tests = int(tested.sum())
    null = _permuted_sums(codes, strata, residuals, groups, seed) if tests else None
    gaps = []
    for index, outcome in enumerate(outcomes):
        sums = np.bincount(codes, weights=values[index], minlength=groups)
        raw = _differences(sums, float(values[index].sum()), counts, len(codes))
        means = sums / counts
        # Residuals sum to 0 over every stratum, so their total is 0.
        adjusted = _differences(
            np.bincount(codes, weights=residuals[index], minlength=groups), 0.0, counts, len(codes)
        )
        spread = float(values[index].std())
        for code, name in enumerate(names):
            gap = GroupGap(
                attribute,
                str(name),
                outcome,
                int(counts[code]),
                False,
                float(means[code]),
                float(means[code] - raw[code]),
                float(raw[code]),
            )
            if tested[code] and null is not None:
                permuted = _differences(null[:, index, code], 0.0, counts[code], len(codes))
                gap = _tested(gap, float(adjusted[code]), permuted, spread, tests)
            gaps.append(gap)
    return gaps


def _tested(
    gap: GroupGap, adjusted: float, permuted: np.ndarray, spread: float, tests: int
) -> GroupGap:
    # The tolerance counts permuted gaps equal to the observed one despite rounding.
    extreme = int((np.abs(permuted) >= abs(adjusted) - 1e-12).sum())
    p_value = (1 + extreme) / (len(permuted) + 1)
    p_adjusted = min(1.0, p_value * tests)
    effect = adjusted / spread if spread > 0 else 0.0
    return replace(
        gap,
        tested=True,
        adjusted_gap=adjusted,
        effect=effect,
        p_value=p_value,
        p_adjusted=p_adjusted,
        flagged=p_adjusted < ALPHA and abs(effect) >= MIN_EFFECT,
    )


# --- the report section ----------------------------------------------------------------------

_OUTCOME_NAMES = {"offer_level": "offer level", "challenge_orders": "challenge orders"}
_ATTRIBUTE_NAMES = {"country": "Country", "tenure_band": "Tenure band"}


def _gap_table(gaps: list[GroupGap]) -> str:
    rows = [
        "| group | customers | outcome | mean | raw gap | adjusted gap | effect (SD) "
        "| p (Bonferroni) | flagged |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for gap in gaps:
        rows.append(
            f"| {gap.group} | {gap.customers:,} | {_OUTCOME_NAMES.get(gap.outcome, gap.outcome)} | "
            f"{gap.mean:.2f} | {gap.raw_gap:+.2f} | {gap.adjusted_gap:+.2f} | {gap.effect:+.2f} | "
            f"{gap.p_adjusted:.3f} | {'**yes**' if gap.flagged else 'no'} |"
        )
    return "\n".join(rows)


def _chart(gaps: list[GroupGap], attribute: str, path: Path) -> Path:
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(gap.outcome for gap in gaps))
    groups = list(dict.fromkeys(gap.group for gap in gaps))
    figure = Figure(figsize=(7.5, 1.2 + 0.35 * len(groups) * len(outcomes)))
    axes = figure.add_subplot()
    labels, effects, colours = [], [], []
    for outcome in outcomes:
        for gap in (g for g in gaps if g.outcome == outcome):
            labels.append(f"{gap.group} ({_OUTCOME_NAMES.get(outcome, outcome)})")
            effects.append(gap.effect or 0.0)
            colours.append("#c0392b" if gap.flagged else "#7f8c8d")
    axes.barh(labels[::-1], effects[::-1], color=colours[::-1])
    for limit in (-MIN_EFFECT, MIN_EFFECT):
        axes.axvline(limit, color="black", linestyle="--", linewidth=0.8)
    axes.set_xlabel("adjusted gap in standard deviations (red: flagged)")
    axes.set_title(
        f"Gaps not explained by value or risk: {_ATTRIBUTE_NAMES.get(attribute, attribute)}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def render_fairness(result: FairnessResult, out_dir: Path) -> tuple[str, list[Path]]:
    """Return the Markdown body and the charts written to `out_dir`."""
    parts = [
        f"{result.customers:,} customers with a predicted value and churn risk. Offers are the "
        "rung of the incentive ladder (0 for no offer); challenge orders come from "
        "`challenge_size`, which reads only predicted value and churn risk.",
        f"Method: outcomes are compared within {VALUE_STRATA} value deciles x 3 churn-risk "
        f"bands (cut at {RISK_BANDS[0]} and {RISK_BANDS[1]}). The adjusted gap is a group's "
        "mean minus everyone else's after removing each stratum's mean. A gap is flagged when "
        f"a within-strata permutation test ({PERMUTATIONS:,} rounds) gives a Bonferroni-"
        f"adjusted p below {ALPHA} and the gap is at least {MIN_EFFECT} standard deviations. "
        f"Groups under {MIN_GROUP_SIZE} customers are not tested.",
        *result.notes,
    ]
    charts: list[Path] = []
    for attribute in dict.fromkeys(gap.attribute for gap in result.gaps):
        name = _ATTRIBUTE_NAMES.get(attribute, attribute)
        gaps = [gap for gap in result.gaps if gap.attribute == attribute]
        tested = [gap for gap in gaps if gap.tested]
        untested = {gap.group: gap.customers for gap in gaps if not gap.tested}
        parts.append(f"### {name}")
        flagged = sorted({gap.group for gap in tested if gap.flagged})
        parts.append(f"Flagged: {', '.join(flagged)}." if flagged else "No gap is flagged.")
        if tested:
            parts.append(_gap_table(tested))
            path = out_dir / f"fairness-{attribute.replace('_', '-')}.png"
            charts.append(_chart(tested, attribute, path))
        if attribute == "tenure_band" and any(
            g.outcome == "offer_level" for g in tested if g.flagged
        ):
            parts.append(
                "The incentive ladder is chosen by lifetime spend, which grows with tenure, so an "
                "offer gap by tenure band can come from past spend that predicted value does not "
                "reflect."
            )
        if untested:
            parts.append(
                f"Not tested, because the group or everyone else has fewer than "
                f"{MIN_GROUP_SIZE} customers: {len(untested)} groups with "
                f"{sum(untested.values()):,} customers."
            )
    return "\n\n".join(parts), charts


def build_fairness(
    out_dir: Path,
    *,
    engine: Engine | None = None,
    brand: BrandProfile | None = None,
    as_of: datetime | None = None,
    frame: pd.DataFrame | None = None,
    rule: ChallengeRule = DEFAULT_RULE,
    seed: int = DEFAULT_SEED,
) -> tuple[str, list[Path]]:
    """Check fairness on `frame`, or on the stored signals and contexts of `engine`.

    Without `frame`, `engine`, `brand` and `as_of` are required. Returns the Markdown body
    and the charts written to `out_dir`.
    """
    if frame is None:
        if engine is None or brand is None or as_of is None:
            raise ValueError("give `frame`, or `engine`, `brand` and `as_of` to load it")
        frame = load_fairness_inputs(engine, brand, as_of)
    if frame.empty:
        return (
            "No customer has a stored predicted value and churn risk; compute them with "
            "`aftercare signals refresh`.",
            [],
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    result = check_fairness(prepare(frame, rule), seed=seed)
    logger.info(
        "fairness check of %d customers: %d of %d group gaps flagged",
        result.customers,
        len(result.flagged),
        len(result.gaps),
    )
    return render_fairness(result, out_dir)


def fairness_section(out_dir: Path, **options: object) -> str:
    """Return the fairness check as Markdown, with its PNG charts written to `out_dir`.

    Takes the keyword arguments of `build_fairness`.
    """
    body, charts = build_fairness(out_dir, **options)  # type: ignore[arg-type]
    links = "\n".join(f"![{chart.stem}]({chart.name})" for chart in charts)
    return f"{body}\n\n{links}\n" if links else f"{body}\n"


def fairness_report_section(
    engine: Engine, brand: BrandProfile, *, rule: ChallengeRule = DEFAULT_RULE
) -> Callable[[ReportData], Section]:
    """Return a retention-report section that checks the stored customers as of the report."""

    def section(data: ReportData) -> Section:
        from agent.signals.report import Section

        body, charts = build_fairness(
            data.out_dir, engine=engine, brand=brand, as_of=data.as_of, rule=rule
        )
        return Section("Fairness of offers and challenges", body, charts)

    return section
