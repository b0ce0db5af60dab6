"""The retention report: Markdown with PNG charts, written section by section.

`write_report` gathers the data once (`ReportData`), computes the metrics, then calls each
section function in `DEFAULT_SECTIONS` in turn. A section returns its Markdown and the
charts it saved. More sections, such as community insights or a fairness review, plug in
by passing `sections=[*DEFAULT_SECTIONS, my_section]`.

Charts are drawn with matplotlib's object API (`Figure`), which renders with Agg and
never opens a window.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sqlalchemy import select
from sqlalchemy.engine import Engine

from agent.context.tables import ReviewRecord
from agent.signals.goals import METRICS, Goal, GoalProgress, GoalStatus, goal_progress
from agent.signals.store import (
    CustomerSignals,
    RefreshInfo,
    latest_refresh,
    load_brand_signals,
    refresh_command,
)
from agent.signals.transactions import load_transactions

logger = logging.getLogger(__name__)

REPORT_FILE = "retention-report.md"
INACTIVE_DAYS = 90
CHURN_P_ALIVE = 0.5
# The cohort heatmap shows at most this many cohorts and months after the first order.
MAX_COHORTS = 24
CHART_DPI = 110


class ReportError(ValueError):
    """The report cannot be built from this input. The message names the value to change."""


@dataclass
class ReportData:
    """Everything the sections read; collected once per report."""

    as_of: datetime
    brand: str
    out_dir: Path
    orders: pd.DataFrame  # customer_id, date (UTC), amount, order_id; live orders only
    reviews: pd.DataFrame  # customer_id, rating, created_at
    signals: dict[str, CustomerSignals]
    refresh: RefreshInfo | None
    surveys: pd.DataFrame | None  # customer_id, score (0-10); None when no file was given
    goals: list[Goal] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Section:
    title: str
    body: str
    charts: list[Path] = field(default_factory=list)


ReportSection = Callable[[ReportData], Section]


@dataclass
class ReportResult:
    path: Path
    charts: list[Path]
    metrics: dict[str, float | None]
    goals: list[GoalProgress]


# --- data -------------------------------------------------------------------------------


def load_reviews(engine: Engine, as_of: datetime) -> pd.DataFrame:
    """Return the reviews written at or before `as_of` (undated ones included)."""
    statement = select(ReviewRecord.customer_id, ReviewRecord.rating, ReviewRecord.created_at)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "rating", "created_at"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    keep = frame["created_at"].isna() | (frame["created_at"] <= pd.Timestamp(as_of))
    return frame.loc[keep].reset_index(drop=True)


def read_surveys(path: Path) -> pd.DataFrame:
    """Read NPS survey answers: a CSV with the columns customer_id and score (0-10)."""
    if not path.is_file():
        raise ReportError(f"survey file not found: {str(path)!r}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"customer_id", "score"} - set(reader.fieldnames or [])
        if missing:
            raise ReportError(
                f"survey file {str(path)!r} lacks the columns {sorted(missing)}; give a CSV "
                "with customer_id and score (0-10) per answer"
            )
        rows = list(reader)
    scores = []
    for number, row in enumerate(rows, start=2):
        value = (row["score"] or "").strip()
        if not value.isdigit() or not 0 <= int(value) <= 10:
            raise ReportError(
                f"survey file {str(path)!r} line {number}: score {value!r} is not a whole "
                "number from 0 to 10"
            )
        scores.append({"customer_id": row["customer_id"], "score": int(value)})
    return pd.DataFrame(scores, columns=["customer_id", "score"])


def gather(
    engine: Engine,
    brand: str,
    as_of: datetime,
    out_dir: Path,
    *,
    goals: list[Goal] | None = None,
    surveys: pd.DataFrame | None = None,
) -> ReportData:
    orders = load_transactions(engine, as_of=as_of)
    if orders.empty:
        raise ReportError(
            f"no live order at or before {as_of.isoformat()}; import orders with "
            "`aftercare import online-retail PATH`, or give a later --as-of"
        )
    data = ReportData(
        as_of=as_of,
        brand=brand,
        out_dir=out_dir,
        orders=orders,
        reviews=load_reviews(engine, as_of),
        signals=load_brand_signals(engine, brand),
        refresh=latest_refresh(engine, brand),
        surveys=surveys,
        goals=goals or [],
    )
    data.metrics = compute_metrics(data)
    return data


# --- metrics ------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def nps(scores: Sequence[int]) -> float | None:
    """Return the net promoter score: percent of scores 9-10 minus percent of scores 0-6."""
    if not scores:
        return None
    promoters = sum(score >= 9 for score in scores)
    detractors = sum(score <= 6 for score in scores)
    return round(100 * (promoters - detractors) / len(scores), 1)


def compute_metrics(data: ReportData) -> dict[str, float | None]:
    """Compute every metric in goals.METRICS; None where the data to compute it is absent."""
    per_customer = data.orders.groupby("customer_id")
    buyers = per_customer.ngroups
    last_order = per_customer["date"].max()
    inactive_since = pd.Timestamp(data.as_of - timedelta(days=INACTIVE_DAYS))
    scored = [s.clv for s in data.signals.values() if s.clv.p_alive is not None]
    values = [s.clv.predicted_clv for s in data.signals.values() if s.clv.predicted_clv is not None]
    ratings = data.reviews["rating"]
    metrics: dict[str, float | None] = {
        "repeat_purchase_rate": _share(int((per_customer.size() >= 2).sum()), buyers),
        "churn_rate": _share(sum(c.p_alive < CHURN_P_ALIVE for c in scored), len(scored)),  # type: ignore[operator]
        "inactive_rate": _share(int((last_order < inactive_since).sum()), buyers),
        "mean_predicted_clv": round(float(np.mean(values)), 2) if values else None,
        "review_count": float(len(ratings)),
        "average_rating": round(float(ratings.mean()), 3) if len(ratings) else None,
        "nps": nps(list(data.surveys["score"])) if data.surveys is not None else None,
    }
    assert set(metrics) == set(METRICS)
    return metrics


# --- charts -----------------------------------------------------------------------------


def _save(figure: Figure, data: ReportData, name: str) -> Path:
    path = data.out_dir / name
    figure.tight_layout()
    figure.savefig(path, dpi=CHART_DPI)
    return path


def cohort_retention(orders: pd.DataFrame, max_cohorts: int = MAX_COHORTS) -> pd.DataFrame:
    """Share of each monthly cohort (month of first order) that ordered in each later month.

    Rows are cohorts with their size ("2011-01 (57)"), columns are months since the first
    order (0 is always 1.0), and cells after the last order month are NaN.
    """
    months = orders["date"].dt.tz_convert(UTC).dt.tz_localize(None).dt.to_period("M")
    frame = pd.DataFrame({"customer_id": orders["customer_id"], "month": months})
    first = frame.groupby("customer_id")["month"].min().rename("cohort")
    frame = frame.join(first, on="customer_id")
    frame["offset"] = (frame["month"] - frame["cohort"]).apply(lambda delta: delta.n)
    active = frame.drop_duplicates(["customer_id", "offset"])
    counts = active.pivot_table(
        index="cohort", columns="offset", values="customer_id", aggfunc="count"
    )
    sizes = first.value_counts().sort_index()
    # A month without an order from the cohort is 0, and a month after as_of is NaN.
    table = counts.fillna(0).div(sizes, axis=0).sort_index().tail(max_cohorts)
    last_month = months.max()
    for cohort in table.index:
        visible = (last_month - cohort).n
        table.loc[cohort, table.columns > visible] = np.nan
    table.index = [f"{cohort} ({sizes[cohort]})" for cohort in table.index]
    return table


def cohort_chart(table: pd.DataFrame, data: ReportData) -> Path:
    figure = Figure(figsize=(1.2 + 0.5 * max(len(table.columns), 4), 1.4 + 0.4 * len(table)))
    axes = figure.add_subplot()
    image = axes.imshow(table.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(table.columns)), [str(c) for c in table.columns])
    axes.set_yticks(range(len(table.index)), list(table.index))
    axes.set_xlabel("months after the first order")
    axes.set_ylabel("cohort: month of first order (customers)")
    for (row, column), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if not math.isnan(value) and column > 0:
            colour = "white" if value > 0.5 else "black"
            axes.text(
                column, row, f"{value:.0%}", ha="center", va="center", fontsize=7, color=colour
            )
    figure.colorbar(image, ax=axes, label="share of the cohort ordering")
    axes.set_title("Monthly cohort retention")
    return _save(figure, data, "cohort-retention.png")


# --- sections -----------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _no_signals(data: ReportData) -> str:
    return (
        f"No signals are stored for brand `{data.brand}`; compute them with "
        f"`{refresh_command(data.brand, data.as_of)}`."
    )


def summary_section(data: ReportData) -> Section:
    buyers = data.orders["customer_id"].nunique()
    refreshed = (
        f"Signals from the refresh as of {data.refresh.as_of:%Y-%m-%d %H:%M} UTC "
        f"({data.refresh.customers:,} customers)."
        if data.refresh
        else _no_signals(data)
    )
    body = (
        f"As of {data.as_of:%Y-%m-%d %H:%M} UTC, brand `{data.brand}`: {buyers:,} customers "
        f"with {len(data.orders):,} live orders from {data.orders['date'].min():%Y-%m-%d} "
        f"to {data.orders['date'].max():%Y-%m-%d}. {refreshed}"
    )
    return Section("Summary", body)


def repeat_purchase_section(data: ReportData) -> Section:
    counts = data.orders.groupby("customer_id").size()
    bins = counts.clip(upper=10).value_counts().sort_index()
    figure = Figure(figsize=(6, 3.2))
    axes = figure.add_subplot()
    axes.bar([str(i) if i < 10 else "10+" for i in bins.index], bins.to_numpy(), color="#4878a8")
    axes.set_xlabel("live orders per customer")
    axes.set_ylabel("customers")
    axes.set_title("Orders per customer")
    chart = _save(figure, data, "orders-per-customer.png")
    rate = data.metrics["repeat_purchase_rate"]
    body = (
        f"Repeat-purchase rate: **{_percent(rate)}** of {len(counts):,} buyers placed two or "
        f"more live orders (median {int(counts.median())} order(s) per buyer)."
    )
    return Section("Repeat purchases", body, [chart])


def churn_section(data: ReportData) -> Section:
    inactive = data.metrics["inactive_rate"]
    lines = [
        f"Inactive: **{_percent(inactive)}** of buyers have not ordered in the last "
        f"{INACTIVE_DAYS} days."
    ]
    scored = [s.clv for s in data.signals.values() if s.clv.p_alive is not None]
    if not scored:
        lines.append(_no_signals(data))
        return Section("Churn", "\n\n".join(lines))
    methods = pd.Series([c.method for c in scored]).value_counts()
    lines.append(
        f"Churn rate: **{_percent(data.metrics['churn_rate'])}** of {len(scored):,} scored "
        f"customers have p_alive below {CHURN_P_ALIVE} (methods: "
        + ", ".join(f"{name} {count:,}" for name, count in methods.items())
        + ")."
    )
    figure = Figure(figsize=(6, 3.2))
    axes = figure.add_subplot()
    axes.hist([c.p_alive for c in scored], bins=20, range=(0, 1), color="#a85448")
    axes.axvline(CHURN_P_ALIVE, color="black", linestyle="--", linewidth=1)
    axes.set_xlabel("p_alive")
    axes.set_ylabel("customers")
    axes.set_title("Probability of being alive")
    return Section("Churn", "\n\n".join(lines), [_save(figure, data, "p-alive.png")])


def clv_section(data: ReportData) -> Section:
    values = np.array(
        [s.clv.predicted_clv for s in data.signals.values() if s.clv.predicted_clv is not None]
    )
    if values.size == 0:
        return Section("Customer lifetime value", _no_signals(data))
    cap = float(np.quantile(values, 0.99))
    figure = Figure(figsize=(6, 3.2))
    axes = figure.add_subplot()
    axes.hist(np.minimum(values, cap), bins=40, color="#58a848")
    axes.set_xlabel("predicted CLV (values above the 99th percentile drawn at it)")
    axes.set_ylabel("customers")
    axes.set_title("Predicted customer lifetime value")
    quantiles = np.quantile(values, [0.25, 0.5, 0.75])
    body = (
        f"Predicted CLV over {values.size:,} customers: mean **{values.mean():,.2f}**, "
        f"quartiles {quantiles[0]:,.2f} / {quantiles[1]:,.2f} / {quantiles[2]:,.2f}, "
        f"99th percentile {cap:,.2f}, total {values.sum():,.2f}."
    )
    return Section("Customer lifetime value", body, [_save(figure, data, "clv.png")])


def cohort_section(data: ReportData) -> Section:
    table = cohort_retention(data.orders)
    chart = cohort_chart(table, data)
    second = table[1].dropna() if 1 in table.columns else pd.Series(dtype=float)
    mean_second = float(second.mean()) if len(second) else None
    body = (
        f"{len(table)} monthly cohorts. On average {_percent(mean_second)} of a cohort "
        "ordered again in the month after its first order."
    )
    return Section("Cohort retention", body, [chart])


def reviews_section(data: ReportData) -> Section:
    reviews = data.reviews
    if reviews.empty:
        return Section("Reviews", "No reviews recorded up to as_of.")
    dated = reviews.dropna(subset=["created_at"])
    body = (
        f"{len(reviews):,} reviews, average rating **{data.metrics['average_rating']:.2f}** "
        f"stars ({len(reviews) - len(dated):,} undated)."
    )
    if dated.empty:
        return Section("Reviews", body)
    months = dated["created_at"].dt.tz_convert(UTC).dt.tz_localize(None).dt.to_period("M")
    monthly = dated.groupby(months)["rating"].agg(["count", "mean"])
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    labels = [str(month) for month in monthly.index]
    axes.bar(labels, monthly["count"].to_numpy(), color="#4878a8")
    axes.set_ylabel("reviews")
    axes.tick_params(axis="x", labelrotation=45)
    rating_axes = axes.twinx()
    rating_axes.plot(labels, monthly["mean"].to_numpy(), color="#a85448", marker="o")
    rating_axes.set_ylim(1, 5)
    rating_axes.set_ylabel("average rating")
    axes.set_title("Reviews per month and average rating")
    return Section("Reviews", body, [_save(figure, data, "reviews.png")])


def nps_section(data: ReportData) -> Section:
    if data.surveys is None or data.surveys.empty:
        return Section("Net promoter score", "No survey scores.")
    scores = data.surveys["score"]
    body = (
        f"NPS **{data.metrics['nps']:+.1f}** from {len(scores):,} answers: "
        f"{(scores >= 9).mean():.0%} promoters, {(scores <= 6).mean():.0%} detractors."
    )
    return Section("Net promoter score", body)


def goals_progress(data: ReportData) -> list[GoalProgress]:
    today = data.as_of.date()
    return [goal_progress(goal, data.metrics.get(goal.metric), today) for goal in data.goals]


def goals_section(data: ReportData) -> Section:
    if not data.goals:
        return Section("Goals", "No goals file given.")
    rows = ["| goal | metric | target | current | deadline | status |", "|---|---|---|---|---|---|"]
    for progress in goals_progress(data):
        goal = progress.goal
        sign = ">=" if goal.resolved_direction == "at_least" else "<="
        current = "n/a" if progress.current is None else f"{progress.current:g}"
        when = (
            f"{goal.deadline} ({progress.days_left} days left)"
            if progress.days_left >= 0
            else str(goal.deadline)
        )
        status = progress.status.value
        if progress.status is GoalStatus.OPEN and progress.gap is not None:
            status += f", {progress.gap:g} to go"
        target = f"{sign} {goal.target:g}"
        rows.append(f"| {goal.label} | {goal.metric} | {target} | {current} | {when} | {status} |")
    return Section("Goals", "\n".join(rows))


# Community insights and fairness sections are to be appended here when they exist.
DEFAULT_SECTIONS: tuple[ReportSection, ...] = (
    summary_section,
    repeat_purchase_section,
    churn_section,
    clv_section,
    cohort_section,
    reviews_section,
    nps_section,
    goals_section,
)


def render_markdown(data: ReportData, sections: Sequence[Section]) -> str:
    parts = [f"# Retention report: {data.brand}", ""]
    for section in sections:
        parts += [f"## {section.title}", "", section.body, ""]
        parts += [f"![{chart.stem}]({chart.name})" for chart in section.charts]
        if section.charts:
            parts.append("")
    return "\n".join(parts)


def write_report(
    engine: Engine,
    brand: str,
    as_of: datetime,
    out_dir: Path,
    *,
    goals: list[Goal] | None = None,
    surveys: pd.DataFrame | None = None,
    sections: Sequence[ReportSection] = DEFAULT_SECTIONS,
) -> ReportResult:
    """Write the report and its charts into `out_dir` and return what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = gather(engine, brand, as_of, out_dir, goals=goals, surveys=surveys)
    built = [section(data) for section in sections]
    path = out_dir / REPORT_FILE
    path.write_text(render_markdown(data, built), encoding="utf-8")
    charts = [chart for section in built for chart in section.charts]
    logger.info("wrote the retention report %s with %d charts", path, len(charts))
    return ReportResult(path, charts, data.metrics, goals_progress(data))
