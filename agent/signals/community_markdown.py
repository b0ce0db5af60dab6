"""Markdown tables and PNG charts of community insights, for the retention report.

Charts are drawn with matplotlib's object API (`Figure`), which renders with Agg and never
opens a window.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from agent.knowledge.embeddings import MODEL_NAME

if TYPE_CHECKING:
    from agent.signals.community import CommunityInsights

CHART_DPI = 110
# Topics drawn as separate lines in the monthly trend chart.
TREND_TOPICS = 5
_UNSAFE = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    return _UNSAFE.sub("-", name.lower()).strip("-")


def _cell(value: object) -> str:
    """Format a table cell, escaping the pipe that would end it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: float | None, places: int = 2) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    return f"{value:+.{places}f}" if places == 2 else f"{value:.{places}f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.0%}"


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=CHART_DPI)
    return path


# --- text ------------------------------------------------------------------------------------


def scope_line(insights: CommunityInsights) -> str:
    corpus = insights.corpus
    total = len(corpus.frame)
    if insights.sample_seed is not None:
        scope = (
            f"a seeded random sample of {insights.analysed:,} of {total:,} texts "
            f"(seed {insights.sample_seed})"
        )
    else:
        scope = f"all {insights.analysed:,} texts"
    model = insights.model
    if model is None:
        return f"Sentiment (VADER compound, -1 to +1) of {scope}."
    chosen = (
        f"k chosen from {min(model.tried)} to {max(model.tried)} by the best silhouette"
        if model.tried
        else "k set by the caller"
    )
    return (
        f"Topics of {scope}, embedded with {MODEL_NAME} and clustered by k-means into "
        f"{model.n_topics} topics (silhouette {model.silhouette:.3f} by cosine distance; "
        f"{chosen}). Each topic is labelled with the words it uses far more often than the "
        "other texts. Sentiment is the VADER compound score, from -1 to +1."
    )


def topic_table(insights: CommunityInsights) -> str:
    show_sources = len({s for topic in insights.topics for s in topic.sources}) > 1
    header = "| # | top words | texts | share | mean sentiment | negative | mean rating |"
    rule = "|---|---|---:|---:|---:|---:|---:|"
    if show_sources:
        header += " reviews / tickets |"
        rule += "---|"
    rows = [header, rule]
    for topic in insights.topics:
        rating = "n/a" if topic.mean_rating is None else f"{topic.mean_rating:.2f}"
        row = (
            f"| {topic.number} | {_cell(', '.join(topic.words))} | {topic.size:,} | "
            f"{topic.share:.0%} | {_number(topic.mean_compound)} | "
            f"{_percent(topic.negative_share)} | {rating} |"
        )
        if show_sources:
            row += f" {topic.sources.get('review', 0)} / {topic.sources.get('ticket', 0)} |"
        rows.append(row)
    examples = [
        "Example snippets, nearest each topic's centre (texts that may name a person are skipped):",
        "",
    ]
    for topic in insights.topics:
        quoted = " / ".join(f'"{_cell(text)}"' for text in topic.snippets) or "none without names"
        examples.append(f"- **{topic.number}** ({_cell(topic.label)}): {quoted}")
    return "\n".join(rows) + "\n\n" + "\n".join(examples)


def group_table(table: pd.DataFrame, label: str) -> str:
    rows = [
        f"| {label} | texts | mean sentiment | negative | mean rating |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in table.iterrows():
        rows.append(
            f"| {_cell(name)} | {int(row['texts']):,} | {_number(row['mean_compound'])} | "
            f"{_percent(row['negative_share'])} | {_number(row['mean_rating'], 1)} |"
        )
    return "\n".join(rows)


def reviewers_table(table: pd.DataFrame) -> str:
    rows = ["| customer id | reviews | mean rating |", "|---|---:|---:|"]
    for _, row in table.iterrows():
        rows.append(
            f"| {_cell(row['author_id'])} | {int(row['reviews']):,} | "
            f"{_number(row['mean_rating'], 1)} |"
        )
    return "\n".join(rows)


def helpful_table(table: pd.DataFrame) -> str:
    rows = [
        "| positive feedback | rating | department / class | clothing id | review |",
        "|---:|---:|---|---|---|",
    ]
    for _, row in table.iterrows():
        group = f"{_cell(row['department'])} / {_cell(row['class_name'])}"
        rows.append(
            f"| {int(row['helpful']):,} | {int(row['rating'])} | {group} | "
            f"{_cell(row['item_id'])} | {_cell(row['snippet'])} |"
        )
    return "\n".join(rows)


# --- charts ----------------------------------------------------------------------------------


def topics_chart(insights: CommunityInsights, path: Path) -> Path:
    topics = list(reversed(insights.topics))
    figure = Figure(figsize=(7.5, 0.9 + 0.45 * len(topics)))
    axes = figure.add_subplot()
    cmap = colormaps["RdYlGn"]
    values = [topic.mean_compound for topic in topics]
    axes.barh(
        [f"{t.number}: {t.label}" for t in topics],
        [t.size for t in topics],
        color=[cmap((value + 1) / 2) for value in values],
    )
    for index, topic in enumerate(topics):
        axes.text(topic.size, index, f" {topic.mean_compound:+.2f}", va="center", fontsize=8)
    axes.set_xlabel("texts (bar colour and label: mean VADER compound)")
    axes.set_title(f"Topics: {insights.corpus.name}")
    return _save(figure, path)


def trend_chart(insights: CommunityInsights, path: Path) -> Path:
    monthly = insights.monthly
    assert monthly is not None
    labels = [str(month) for month in monthly.index]
    figure = Figure(figsize=(7.5, 3.4))
    axes = figure.add_subplot()
    axes.plot(labels, monthly["mean_compound"].to_numpy(), color="black", linewidth=2, label="all")
    by_topic = insights.monthly_by_topic
    if by_topic is not None:
        for topic in insights.topics[:TREND_TOPICS]:
            if topic.number in by_topic.columns:
                series = by_topic[topic.number].reindex(monthly.index)
                axes.plot(
                    labels, series.to_numpy(), marker="o", label=f"{topic.number}: {topic.label}"
                )
    axes.axhline(0, color="grey", linewidth=0.5)
    axes.set_ylim(-1, 1)
    axes.set_ylabel("mean VADER compound")
    axes.tick_params(axis="x", labelrotation=45)
    axes.legend(fontsize=7, loc="lower left")
    axes.set_title(f"Sentiment by month: {insights.corpus.name}")
    return _save(figure, path)


def groups_chart(table: pd.DataFrame, title: str, path: Path) -> Path:
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    names = [str(name) for name in table.index]
    axes.bar(names, table["mean_compound"].to_numpy(), color="#4878a8")
    axes.set_ylabel("mean VADER compound")
    axes.set_ylim(-1, 1)
    axes.axhline(0, color="grey", linewidth=0.5)
    rating_axes = axes.twinx()
    rating_axes.plot(names, table["mean_rating"].to_numpy(), color="#a85448", marker="o")
    rating_axes.set_ylim(1, 5)
    rating_axes.set_ylabel("mean rating")
    axes.set_title(title)
    return _save(figure, path)


# --- one corpus ------------------------------------------------------------------------------


def render_insights(insights: CommunityInsights, out_dir: Path) -> tuple[str, list[Path]]:
    """Return the Markdown of one corpus and the charts saved for it in `out_dir`."""
    corpus = insights.corpus
    name = slug(corpus.name)
    charts: list[Path] = []
    parts = [f"### {corpus.name}", scope_line(insights), *corpus.notes, *insights.notes]
    if insights.topics:
        parts.append(topic_table(insights))
        charts.append(topics_chart(insights, out_dir / f"community-{name}-topics.png"))

    parts.append("#### Sentiment by month")
    if insights.monthly is not None:
        parts.append(_monthly_table(insights.monthly))
        charts.append(trend_chart(insights, out_dir / f"community-{name}-trend.png"))
    else:
        # NOTE: undated sources, such as the women's clothing reviews, get no trend by month.
        parts.append(
            f"NOTE: the {corpus.name.lower()} carry no dates, so there is no sentiment trend "
            "by month. Sentiment is shown by topic above and by department and class below."
        )

    if insights.by_department is not None:
        parts.append("#### Sentiment by department and class")
        parts.append(group_table(insights.by_department, "department"))
        if insights.by_class is not None:
            parts.append(group_table(insights.by_class, "class (largest)"))
        title = f"Sentiment and rating by department: {corpus.name}"
        path = out_dir / f"community-{name}-departments.png"
        charts.append(groups_chart(insights.by_department, title, path))

    parts += _people(insights)
    return "\n\n".join(parts), charts


def _monthly_table(monthly: pd.DataFrame) -> str:
    rows = [
        "| month | texts | mean sentiment | negative | mean rating |",
        "|---|---:|---:|---:|---:|",
    ]
    for month, row in monthly.iterrows():
        rows.append(
            f"| {month} | {int(row['texts']):,} | {_number(row['mean_compound'])} | "
            f"{_percent(row['negative_share'])} | {_number(row['mean_rating'], 1)} |"
        )
    return "\n".join(rows)


def _people(insights: CommunityInsights) -> list[str]:
    corpus = insights.corpus
    parts = ["#### Reviewers"]
    if insights.reviewers is not None:
        parts.append("Most active reviewers, by reviews written (every stored review counts):")
        parts.append(reviewers_table(insights.reviewers))
    elif corpus.has_authors:
        parts.append("No stored review carries a customer id.")
    else:
        # NOTE: sources without reviewer ids, such as the women's clothing reviews, rank
        # reviews by helpfulness instead of reviewers by activity.
        parts.append(
            f"NOTE: the {corpus.name.lower()} carry no reviewer id, so reviewers cannot be "
            "ranked by activity; the most helpful reviews are ranked instead."
        )
    if insights.helpful is not None:
        parts.append(
            f"Most helpful reviews, by Positive Feedback Count over all {len(corpus.frame):,} "
            "reviews:"
        )
        parts.append(helpful_table(insights.helpful))
    else:
        parts.append(
            "The source records no helpfulness votes, so the most helpful reviews cannot be ranked."
        )
    return parts
