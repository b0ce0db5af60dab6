"""Community insights from review and ticket text: main topics, their sentiment, reviewers.

Two sources are read. The context store's reviews and tickets carry dates and customer
ids, so they give a sentiment trend by month and the most active reviewers. The public
women's clothing reviews file (CSV, plain or gzipped) has no dates and no reviewer ids.
It has a Positive Feedback Count, a department and a class per review. For that file,
sentiment is shown by topic, department and class, and the most helpful reviews are ranked
instead of reviewers.

Embedding every text is slow on a small CPU: `python -m bench.community_topics` embedded
10.7 reviews per second on 2 busy AMD EPYC cores, so all 22,641 clothing reviews would take
about 35 minutes. Topics therefore come from a seeded random sample of `sample_size` texts.
Sentiment by topic, month and department uses the same sample, while the reviewer and
helpfulness rankings use every text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from agent.context.tables import ReviewRecord, TicketRecord
from agent.knowledge.embeddings import OnnxEmbedder
from agent.signals.community_markdown import render_insights
from agent.signals.sentiment import NEGATIVE_MAX_COMPOUND, join_title, score_text
from agent.signals.topics import (
    MIN_TEXTS_PER_TOPIC,
    TopicModel,
    cluster,
    distinctive_words,
    embed_texts,
    lowercase_vocabulary,
    may_name_someone,
    shorten,
    snippets,
)

if TYPE_CHECKING:
    from agent.signals.report import ReportData, Section

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_SIZE = 3_000
DEFAULT_SEED = 7
TOP_REVIEWERS = 10
TOP_HELPFUL = 5
TOP_CLASSES = 8
CLOTHING_COLUMNS = (
    "Title",
    "Review Text",
    "Rating",
    "Positive Feedback Count",
    "Department Name",
    "Class Name",
    "Clothing ID",
)
COLUMNS = (
    "text",
    "source",
    "rating",
    "created_at",
    "author_id",
    "helpful",
    "department",
    "class_name",
    "item_id",
)


class CommunityInputError(ValueError):
    """A source of review text cannot be read; the message names the file and the fix."""


@dataclass
class Corpus:
    """Customer-written texts of one source, one row per text, with the COLUMNS above."""

    name: str
    frame: pd.DataFrame
    has_dates: bool
    has_authors: bool
    has_helpful_votes: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class Topic:
    number: int
    words: list[str]
    size: int
    share: float
    mean_compound: float
    negative_share: float
    mean_rating: float | None
    sources: dict[str, int]
    snippets: list[str]

    @property
    def label(self) -> str:
        return ", ".join(self.words[:3]) or f"topic {self.number}"


@dataclass
class CommunityInsights:
    corpus: Corpus
    # The texts analysed, with their VADER `compound` and, when topics were found, `topic`.
    sample: pd.DataFrame
    analysed: int
    sample_seed: int | None
    topics: list[Topic]
    model: TopicModel | None
    monthly: pd.DataFrame | None
    monthly_by_topic: pd.DataFrame | None
    by_department: pd.DataFrame | None
    by_class: pd.DataFrame | None
    reviewers: pd.DataFrame | None
    helpful: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)


# --- sources ---------------------------------------------------------------------------------


def _frame(**columns: object) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    for name in COLUMNS:
        if name not in frame:
            frame[name] = None
    return frame[list(COLUMNS)]


def load_clothing_reviews(path: Path) -> Corpus:
    """Read the women's clothing reviews CSV; rows without review text are left out."""
    if not path.is_file():
        raise CommunityInputError(
            f"reviews file not found: {str(path)!r}; give the path of the women's clothing "
            "reviews CSV"
        )
    try:
        raw = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise CommunityInputError(f"reviews file {str(path)!r} cannot be read: {error}") from error
    missing = [name for name in CLOTHING_COLUMNS if name not in raw.columns]
    if missing:
        raise CommunityInputError(
            f"reviews file {str(path)!r} lacks the columns {missing}; expected the women's "
            f"clothing reviews format with {', '.join(CLOTHING_COLUMNS)}"
        )
    raw = raw[raw["Review Text"].fillna("").str.strip() != ""]
    titles = raw["Title"].fillna("").astype(str)
    texts = [
        join_title(title, text) for title, text in zip(titles, raw["Review Text"], strict=True)
    ]
    frame = _frame(
        text=texts,
        source="review",
        rating=raw["Rating"].to_numpy(dtype=float),
        helpful=raw["Positive Feedback Count"].to_numpy(),
        department=raw["Department Name"].to_numpy(),
        class_name=raw["Class Name"].to_numpy(),
        item_id=raw["Clothing ID"].astype(str).to_numpy(),
    )
    frame["created_at"] = pd.NaT
    return Corpus("Women's clothing reviews", frame, False, False, True)


def load_store_texts(engine: Engine, *, as_of: datetime | None = None) -> Corpus:
    """Read the reviews and tickets of the context store written at or before `as_of`."""
    reviews = select(
        ReviewRecord.customer_id, ReviewRecord.rating, ReviewRecord.text, ReviewRecord.created_at
    )
    tickets = select(
        TicketRecord.customer_id, TicketRecord.subject, TicketRecord.text, TicketRecord.opened_at
    )
    with engine.connect() as connection:
        review_rows = connection.execute(reviews).all()
        ticket_rows = connection.execute(tickets).all()
    rows = [
        (text, "review", float(rating), created, customer)
        for customer, rating, text, created in review_rows
    ]
    rows += [
        (join_title(subject, text), "ticket", None, opened, customer)
        for customer, subject, text, opened in ticket_rows
    ]
    frame = _frame(
        text=[row[0] for row in rows],
        source=[row[1] for row in rows],
        rating=[row[2] for row in rows],
        created_at=pd.to_datetime([row[3] for row in rows], utc=True),
        author_id=[row[4] for row in rows],
    )
    frame = frame[frame["text"].fillna("").astype(str).str.strip() != ""]
    if as_of is not None:
        frame = frame[frame["created_at"].isna() | (frame["created_at"] <= pd.Timestamp(as_of))]
    frame = frame.reset_index(drop=True)
    return Corpus(
        "Stored reviews and tickets", frame, bool(frame["created_at"].notna().any()), True, False
    )


# --- analysis --------------------------------------------------------------------------------


def sample_frame(frame: pd.DataFrame, size: int, seed: int) -> tuple[pd.DataFrame, int | None]:
    """Return a seeded random sample of `size` rows in file order, and the seed used.

    The whole frame, with None for the seed, when it has at most `size` rows.
    """
    if size < 1:
        raise ValueError(f"sample_size must be at least 1, got {size}")
    if len(frame) <= size:
        return frame.reset_index(drop=True), None
    return frame.sample(n=size, random_state=seed).sort_index().reset_index(drop=True), seed


def analyse(
    corpus: Corpus,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = DEFAULT_SEED,
    n_topics: int | None = None,
    embedder: OnnxEmbedder | None = None,
) -> CommunityInsights:
    """Find the corpus's topics and summarise sentiment and reviewers."""
    sample, sample_seed = sample_frame(corpus.frame, sample_size, seed)
    sample["compound"] = [score_text(text).compound for text in sample["text"]]
    notes: list[str] = []
    model: TopicModel | None = None
    topics: list[Topic] = []
    if len(sample) >= 2 * MIN_TEXTS_PER_TOPIC:
        started = pd.Timestamp.now()
        model = cluster(embed_texts(list(sample["text"]), embedder), n_topics=n_topics, seed=seed)
        logger.info(
            "clustered %d texts of %s into %d topics in %.1f s",
            len(sample),
            corpus.name,
            model.n_topics,
            (pd.Timestamp.now() - started).total_seconds(),
        )
        topics = _topics(sample, model, corpus)
        sample["topic"] = _renumber(model, topics)
    else:
        notes.append(
            f"Only {len(sample)} texts, too few to find topics; at least "
            f"{2 * MIN_TEXTS_PER_TOPIC} are needed."
        )
    monthly, monthly_by_topic = _monthly(sample) if corpus.has_dates else (None, None)
    return CommunityInsights(
        corpus=corpus,
        sample=sample,
        analysed=len(sample),
        sample_seed=sample_seed,
        topics=topics,
        model=model,
        monthly=monthly,
        monthly_by_topic=monthly_by_topic,
        by_department=_by_group(sample, "department"),
        by_class=_by_group(sample, "class_name", limit=TOP_CLASSES),
        reviewers=_reviewers(corpus) if corpus.has_authors else None,
        helpful=_helpful(corpus) if corpus.has_helpful_votes else None,
        notes=notes,
    )


def _topics(sample: pd.DataFrame, model: TopicModel, corpus: Corpus) -> list[Topic]:
    texts = list(sample["text"])
    words = distinctive_words(texts, model.labels)
    vocabulary = lowercase_vocabulary(corpus.frame["text"].head(20_000))
    topics = []
    for label in range(model.n_topics):
        members = sample[model.labels == label]
        ratings = members["rating"].dropna()
        topics.append(
            Topic(
                number=label,
                words=words.get(label, []),
                size=len(members),
                share=len(members) / len(sample),
                mean_compound=float(members["compound"].mean()),
                negative_share=float((members["compound"] <= NEGATIVE_MAX_COMPOUND).mean()),
                mean_rating=float(ratings.mean()) if len(ratings) else None,
                sources=members["source"].value_counts().to_dict(),
                snippets=snippets(texts, model, label, vocabulary),
            )
        )
    # Number topics from the largest, as readers expect topic 1 to be the main one.
    topics.sort(key=lambda topic: (-topic.size, topic.number))
    return topics


def _renumber(model: TopicModel, topics: list[Topic]) -> np.ndarray:
    mapping = {topic.number: position for position, topic in enumerate(topics, start=1)}
    for topic in topics:
        topic.number = mapping[topic.number]
    return np.array([mapping[label] for label in model.labels])


def _summary(frame: pd.DataFrame) -> pd.Series:
    ratings = frame["rating"].dropna()
    return pd.Series(
        {
            "texts": len(frame),
            "mean_compound": frame["compound"].mean(),
            "negative_share": (frame["compound"] <= NEGATIVE_MAX_COMPOUND).mean(),
            "mean_rating": ratings.mean() if len(ratings) else np.nan,
        }
    )


def _monthly(sample: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    dated = sample.dropna(subset=["created_at"])
    if dated.empty:
        return None, None
    months = dated["created_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M")
    monthly = dated.groupby(months).apply(_summary, include_groups=False)
    if "topic" not in dated:
        return monthly, None
    by_topic = dated.groupby([months, dated["topic"]])["compound"].mean().unstack("topic")
    return monthly, by_topic


def _by_group(sample: pd.DataFrame, column: str, limit: int | None = None) -> pd.DataFrame | None:
    grouped = sample.dropna(subset=[column])
    if grouped.empty:
        return None
    table = grouped.groupby(column).apply(_summary, include_groups=False)
    table = table.sort_values("texts", ascending=False)
    return table.head(limit) if limit else table


def _reviewers(corpus: Corpus) -> pd.DataFrame | None:
    reviews = corpus.frame[(corpus.frame["source"] == "review") & corpus.frame["author_id"].notna()]
    if reviews.empty:
        return None
    table = reviews.groupby("author_id").agg(
        reviews=("text", "size"), mean_rating=("rating", "mean")
    )
    table = table.reset_index().sort_values(["reviews", "author_id"], ascending=[False, True])
    return table.head(TOP_REVIEWERS).reset_index(drop=True)


def _helpful(corpus: Corpus) -> pd.DataFrame:
    frame = corpus.frame.dropna(subset=["helpful"]).copy()
    frame["order"] = range(len(frame))
    top = frame.sort_values(["helpful", "order"], ascending=[False, True]).head(TOP_HELPFUL)
    vocabulary = lowercase_vocabulary(corpus.frame["text"].head(20_000))
    top["snippet"] = [
        "(withheld: it may name a person)"
        if may_name_someone(shorten(text), vocabulary)
        else shorten(text)
        for text in top["text"]
    ]
    return top[["helpful", "rating", "department", "class_name", "item_id", "snippet"]]


# --- entry points ----------------------------------------------------------------------------


def build_community(
    out_dir: Path,
    *,
    engine: Engine | None = None,
    reviews_csv: Path | None = None,
    as_of: datetime | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = DEFAULT_SEED,
    n_topics: int | None = None,
    embedder: OnnxEmbedder | None = None,
) -> tuple[str, list[Path]]:
    """Analyse the stored texts (with `engine`) and the clothing reviews file (with
    `reviews_csv`); return the Markdown body and the charts written to `out_dir`.

    Raises CommunityInputError when the reviews file cannot be read.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    corpora: list[Corpus] = []
    parts: list[str] = []
    if engine is not None:
        stored = load_store_texts(engine, as_of=as_of)
        if stored.frame.empty:
            parts.append("No review or ticket text is stored up to as_of.")
        else:
            corpora.append(stored)
    if reviews_csv is not None:
        corpora.append(load_clothing_reviews(reviews_csv))
    if not corpora and not parts:
        parts.append("No source of review text was given.")

    charts: list[Path] = []
    for corpus in corpora:
        insights = analyse(
            corpus, sample_size=sample_size, seed=seed, n_topics=n_topics, embedder=embedder
        )
        body, corpus_charts = render_insights(insights, out_dir)
        parts.append(body)
        charts += corpus_charts
    return "\n\n".join(parts), charts


def community_section(out_dir: Path, **options: object) -> str:
    """Return the community insights as Markdown, with its PNG charts written to `out_dir`.

    Takes the keyword arguments of `build_community`. Chart links are relative to
    `out_dir`, where the report's Markdown file is expected to be.
    """
    body, charts = build_community(out_dir, **options)  # type: ignore[arg-type]
    links = "\n".join(f"![{chart.stem}]({chart.name})" for chart in charts)
    return f"{body}\n\n{links}\n" if links else f"{body}\n"


def community_report_section(
    engine: Engine | None = None, **options: object
) -> Callable[[ReportData], Section]:
    """Return a retention-report section; `options` are those of `build_community`."""

    def section(data: ReportData) -> Section:
        from agent.signals.report import Section

        body, charts = build_community(
            data.out_dir,
            engine=engine,
            as_of=data.as_of,
            **options,  # type: ignore[arg-type]
        )
        return Section("Community insights", body, charts)

    return section
