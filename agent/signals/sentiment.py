"""Sentiment of customer-written text (reviews, support tickets) scored with VADER.

VADER (vaderSentiment 3.3) returns a compound score in [-1, 1]. The labels use the
thresholds its authors recommend: compound >= 0.05 is positive, compound <= -0.05 is
negative, and anything between is neutral.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from math import inf
from pathlib import Path
from typing import TYPE_CHECKING

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from agent.domain import CustomerContext

if TYPE_CHECKING:
    import pandas as pd

POSITIVE_MIN_COMPOUND = 0.05
NEGATIVE_MAX_COMPOUND = -0.05
# Texts written within this many days before `as_of` count as the customer's recent mood.
RECENT_DAYS = 90


class SentimentLabel(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


@dataclass(frozen=True)
class SentimentScore:
    compound: float
    label: SentimentLabel


@dataclass(frozen=True)
class ScoredText:
    """One customer-written text with its score; the text itself is not kept."""

    source: str  # "review" or "ticket"
    written_at: datetime | None
    score: SentimentScore


@dataclass(frozen=True)
class CustomerSentiment:
    """A customer's sentiment over every review and ticket written at or before `as_of`."""

    texts: int
    mean_compound: float | None
    latest_compound: float | None
    latest_at: datetime | None
    recent_negative: int  # negative texts within RECENT_DAYS before as_of
    label: SentimentLabel | None

    @property
    def recent_negative_found(self) -> bool:
        return self.recent_negative > 0


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    # The lexicon ships inside the package, so this reads a local file only.
    return SentimentIntensityAnalyzer()


def label_for(compound: float) -> SentimentLabel:
    if compound >= POSITIVE_MIN_COMPOUND:
        return SentimentLabel.POSITIVE
    if compound <= NEGATIVE_MAX_COMPOUND:
        return SentimentLabel.NEGATIVE
    return SentimentLabel.NEUTRAL


def score_text(text: str) -> SentimentScore:
    """Score one text; empty or blank text is neutral with a compound of 0."""
    if not text.strip():
        return SentimentScore(0.0, SentimentLabel.NEUTRAL)
    compound = float(_analyzer().polarity_scores(text)["compound"])
    return SentimentScore(compound, label_for(compound))


def join_title(title: str | None, text: str) -> str:
    """Join a review title to its text, because titles such as "Love it" carry sentiment."""
    title = (title or "").strip()
    if not title:
        return text
    separator = " " if title.endswith((".", "!", "?")) else ". "
    return f"{title}{separator}{text}"


def scored_texts(context: CustomerContext) -> list[ScoredText]:
    """Score every non-empty review and ticket text of the context, oldest first."""
    scored = [
        ScoredText("review", review.created_at, score_text(review.text))
        for review in context.reviews
        if review.text.strip()
    ]
    for ticket in context.tickets:
        text = join_title(ticket.subject, ticket.text)
        if text.strip():
            scored.append(ScoredText("ticket", ticket.opened_at, score_text(text)))
    # Undated texts sort first, as the oldest.
    return sorted(scored, key=lambda s: s.written_at.timestamp() if s.written_at else -inf)


def customer_sentiment(context: CustomerContext, as_of: datetime) -> CustomerSentiment:
    """Summarise the sentiment of a customer's reviews and tickets as of `as_of`.

    A text without a date counts as written long ago: it enters the mean, never the
    recent count, because its age is unknown.
    """
    scored = [s for s in scored_texts(context) if s.written_at is None or s.written_at <= as_of]
    if not scored:
        return CustomerSentiment(0, None, None, None, 0, None)
    recent_from = as_of - timedelta(days=RECENT_DAYS)
    dated = [s for s in scored if s.written_at is not None]
    latest = dated[-1] if dated else scored[-1]
    mean = sum(s.score.compound for s in scored) / len(scored)
    recent_negative = sum(
        s.score.label is SentimentLabel.NEGATIVE
        for s in dated
        if s.written_at is not None and s.written_at >= recent_from
    )
    return CustomerSentiment(
        texts=len(scored),
        mean_compound=round(mean, 4),
        latest_compound=latest.score.compound,
        latest_at=latest.written_at,
        recent_negative=recent_negative,
        label=label_for(mean),
    )


# --- evaluation on labelled reviews ------------------------------------------------------

REVIEW_COLUMNS = ("Title", "Review Text", "Rating", "Recommended IND")
BANDS = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)


class ReviewFileError(ValueError):
    """The reviews file is missing, unreadable or lacks a required column."""


@dataclass(frozen=True)
class ReviewEvaluation:
    """Agreement of the compound score and label with the reviewers' own ratings."""

    reviews: int
    skipped_without_text: int
    roc_auc: float  # compound score against the recommended flag
    spearman: float  # compound score against the 1-5 star rating
    label_accuracy: float  # label against the rating band 1-2 / 3 / 4-5
    balanced_accuracy: float  # mean recall over the three bands
    majority_accuracy: float  # accuracy of always predicting the most common band
    confusion: dict[str, dict[str, int]]  # rating band -> label -> reviews
    seconds: float


def rating_band(rating: int) -> SentimentLabel:
    if rating <= 2:
        return SentimentLabel.NEGATIVE
    if rating == 3:
        return SentimentLabel.NEUTRAL
    return SentimentLabel.POSITIVE


def evaluate_reviews(path: Path) -> ReviewEvaluation:
    """Score every review with text in a women's clothing reviews CSV and compare.

    The file has the columns of the public "Women's E-Commerce Clothing Reviews" data set
    (plain or gzipped CSV). Each review is scored as its title joined to its text.
    Reviews without text are skipped and counted.
    """
    # Imported here because scoring customers needs none of them and they load slowly.
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        roc_auc_score,
    )

    frame = _read_reviews(path)
    with_text = frame[frame["Review Text"].notna()]
    texts = [
        join_title(title if isinstance(title, str) else None, text)
        for title, text in zip(with_text["Title"], with_text["Review Text"], strict=True)
    ]
    started = time.perf_counter()
    compounds = np.array([score_text(text).compound for text in texts])
    seconds = time.perf_counter() - started

    ratings = with_text["Rating"].astype(int).to_numpy()
    bands = [rating_band(r).value for r in ratings]
    labels = [label_for(c).value for c in compounds]
    matrix = confusion_matrix(bands, labels, labels=[b.value for b in BANDS])
    majority = max(bands.count(b.value) for b in BANDS) / len(bands)
    return ReviewEvaluation(
        reviews=len(texts),
        skipped_without_text=len(frame) - len(with_text),
        roc_auc=float(roc_auc_score(with_text["Recommended IND"].astype(int), compounds)),
        spearman=float(spearmanr(compounds, ratings).statistic),
        label_accuracy=float(accuracy_score(bands, labels)),
        balanced_accuracy=float(balanced_accuracy_score(bands, labels)),
        majority_accuracy=majority,
        confusion={
            band.value: {label.value: int(n) for label, n in zip(BANDS, row, strict=True)}
            for band, row in zip(BANDS, matrix, strict=True)
        },
        seconds=seconds,
    )


def _read_reviews(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise ReviewFileError(f"reviews file not found: {str(path)!r}")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise ReviewFileError(f"cannot read reviews file {str(path)!r}: {error}") from error
    missing = [column for column in REVIEW_COLUMNS if column not in frame.columns]
    if missing:
        raise ReviewFileError(
            f"reviews file {str(path)!r} lacks the columns {missing}; expected the columns "
            f"{list(REVIEW_COLUMNS)} of the women's clothing reviews data set"
        )
    bad = frame["Rating"].isna() | ~frame["Rating"].isin(range(1, 6))
    if bad.any():
        raise ReviewFileError(
            f"reviews file {str(path)!r} has {int(bad.sum())} rows whose Rating is not 1-5, "
            f"first at row {int(bad.idxmax()) + 2}"
        )
    with_text = frame[frame["Review Text"].notna()]
    if with_text.empty:
        raise ReviewFileError(f"reviews file {str(path)!r} has no review with text")
    flags = set(with_text["Recommended IND"].dropna().unique())
    if with_text["Recommended IND"].isna().any() or not flags <= {0, 1}:
        raise ReviewFileError(f"reviews file {str(path)!r} has a Recommended IND other than 0 or 1")
    if len(flags) < 2:
        raise ReviewFileError(
            f"reviews file {str(path)!r} has only Recommended IND {sorted(flags)}; ROC AUC "
            "needs reviews of both values"
        )
    return frame
