"""Charts for the HTML eval report, drawn with matplotlib and returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from agent.evals.results import RunRecord  # noqa: E402
from agent.evals.summary import DRAFT_OUTCOMES, RunSummary  # noqa: E402

FIGURE_SIZE = (6.4, 3.2)
DPI = 100
PASS_COLOUR = "#2e7d32"
KEPT_COLOUR = "#1565c0"
BASELINE_COLOUR = "#9e9e9e"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()


def rates_by_kind(summary: RunSummary, baseline: RunSummary | None = None) -> bytes:
    """Bar chart of the expectation pass rate and the model-text share per kind."""
    kinds = [group.name for group in summary.by_kind]
    positions = list(range(len(kinds)))
    width = 0.38
    pass_rates = [group.pass_rate or 0 for group in summary.by_kind]
    kept_shares = [group.kept_share or 0 for group in summary.by_kind]
    left = [position - width / 2 for position in positions]
    right = [position + width / 2 for position in positions]

    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    axis.bar(left, pass_rates, width, label="expectations passed", color=PASS_COLOUR)
    axis.bar(right, kept_shares, width, label="model text kept", color=KEPT_COLOUR)
    if baseline is not None:
        before = {group.name: group.pass_rate or 0 for group in baseline.by_kind}
        axis.scatter(
            left,
            [before.get(kind, 0) for kind in kinds],
            marker="_",
            s=600,
            color=BASELINE_COLOUR,
            label="baseline pass rate",
            zorder=3,
        )

    axis.set_xticks(positions, kinds)
    axis.set_ylim(0, 105)
    axis.set_ylabel("% of cases / drafts")
    axis.set_title("Pass rate and model-written text by kind")
    axis.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    return _png(figure)


def latency_by_kind(run: RunRecord) -> bytes:
    """Box plot of end-to-end draft latency per kind, in seconds."""
    series: dict[str, list[float]] = {}
    for case in run.cases:
        latency = case.metrics.get("latency_ms")
        if case.outcome in DRAFT_OUTCOMES and isinstance(latency, int | float):
            series.setdefault(case.kind, []).append(float(latency) / 1000)
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    kinds = sorted(series)
    if kinds:
        axis.boxplot([series[kind] for kind in kinds], tick_labels=kinds)
    else:
        axis.text(0.5, 0.5, "no drafts", ha="center", va="center", transform=axis.transAxes)
    axis.set_ylabel("seconds per draft")
    axis.set_title("Draft latency by kind")
    return _png(figure)


def voice_by_brand(run: RunRecord) -> bytes:
    """Histogram of brand-voice similarity per brand."""
    series: dict[str, list[float]] = {}
    for case in run.cases:
        value = case.metrics.get("voice_similarity")
        if isinstance(value, int | float) and not isinstance(value, bool):
            series.setdefault(case.brand, []).append(float(value))
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    for brand in sorted(series):
        axis.hist(series[brand], bins=10, range=(0, 1), alpha=0.6, label=brand)
    if series:
        axis.legend(fontsize="small")
    else:
        axis.text(0.5, 0.5, "no drafts", ha="center", va="center", transform=axis.transAxes)
    axis.set_xlabel("cosine similarity to the brand's exemplar copy")
    axis.set_ylabel("drafts")
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_title("Brand-voice similarity")
    return _png(figure)
