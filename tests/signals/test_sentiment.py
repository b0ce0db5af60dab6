"""Sentiment: VADER scores and labels, a customer's summary, and the measured agreement on
the public women's clothing reviews."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from agent.signals.sentiment import (
    RECENT_DAYS,
    ReviewFileError,
    SentimentLabel,
    customer_sentiment,
    evaluate_reviews,
    join_title,
    label_for,
    score_text,
)
from tests.signals.factories import AS_OF, context, review, ticket

REVIEWS_FILE = "womens_clothing_ecommerce_reviews.csv.gz"
# Measured on the full file (22,641 reviews with text): ROC AUC 0.810, Spearman 0.452,
# label accuracy 0.790. The floors leave a margin for VADER or data changes.
AUC_FLOOR = 0.78
SPEARMAN_FLOOR = 0.40


@pytest.mark.parametrize(
    ("compound", "label"),
    [
        (0.05, SentimentLabel.POSITIVE),
        (0.0499, SentimentLabel.NEUTRAL),
        (0.0, SentimentLabel.NEUTRAL),
        (-0.0499, SentimentLabel.NEUTRAL),
        (-0.05, SentimentLabel.NEGATIVE),
        (-1.0, SentimentLabel.NEGATIVE),
    ],
)
def test_label_thresholds(compound: float, label: SentimentLabel) -> None:
    assert label_for(compound) is label


def test_score_text_positive_and_negative() -> None:
    happy = score_text("I love this candle holder, it is beautiful and well made.")
    angry = score_text("The parcel arrived broken and support was useless. Terrible.")
    assert happy.label is SentimentLabel.POSITIVE
    assert angry.label is SentimentLabel.NEGATIVE
    assert -1 <= angry.compound < 0 < happy.compound <= 1


def test_score_text_blank_is_neutral() -> None:
    score = score_text("   ")
    assert score.compound == 0.0
    assert score.label is SentimentLabel.NEUTRAL


def test_join_title_adds_separator() -> None:
    assert join_title("Love it", "Fits well") == "Love it. Fits well"
    assert join_title("Love it!", "Fits well") == "Love it! Fits well"
    assert join_title(None, "Fits well") == "Fits well"


def test_customer_without_texts_has_no_label() -> None:
    summary = customer_sentiment(context(reviews=[review(5)]), AS_OF)
    assert summary.texts == 0
    assert summary.label is None
    assert summary.mean_compound is None
    assert not summary.recent_negative_found


def test_recent_negative_ticket_counts() -> None:
    angry = ticket(5, text="My order arrived damaged and I am very disappointed and angry.")
    summary = customer_sentiment(context(tickets=[angry]), AS_OF)
    assert summary.texts == 1
    assert summary.recent_negative == 1
    assert summary.label is SentimentLabel.NEGATIVE


def test_old_negative_text_is_not_recent() -> None:
    old = review(1, days_ago=RECENT_DAYS + 10, text="Awful quality, it broke. Horrible.")
    summary = customer_sentiment(context(reviews=[old]), AS_OF)
    assert summary.texts == 1
    assert summary.recent_negative == 0
    assert summary.label is SentimentLabel.NEGATIVE


def test_undated_text_is_not_recent() -> None:
    undated = review(1, days_ago=None, text="Awful quality, it broke. Horrible.")
    summary = customer_sentiment(context(reviews=[undated]), AS_OF)
    assert summary.recent_negative == 0
    assert summary.latest_at is None


def test_texts_after_as_of_are_ignored() -> None:
    later = review(5, days_ago=-2, text="Wonderful, I love it")
    assert customer_sentiment(context(reviews=[later]), AS_OF).texts == 0


def test_latest_text_wins_latest_compound() -> None:
    reviews = [
        review(5, days_ago=30, text="Wonderful, I love it"),
        review(2, days_ago=1, text="It broke. Terrible."),
    ]
    summary = customer_sentiment(context(reviews=reviews), AS_OF)
    assert summary.latest_compound is not None
    assert summary.latest_compound < 0
    assert summary.texts == 2


def test_reviews_auc_on_real_data(shared_data_dir: Path) -> None:
    result = evaluate_reviews(shared_data_dir / REVIEWS_FILE)
    assert result.reviews == 22_641
    assert result.skipped_without_text == 845
    assert result.roc_auc > AUC_FLOOR
    assert result.spearman > SPEARMAN_FLOOR
    assert 0 < result.label_accuracy <= 1
    assert 0 < result.balanced_accuracy <= 1
    assert sum(sum(row.values()) for row in result.confusion.values()) == result.reviews


def _write_reviews(path: Path, rows: list[str]) -> Path:
    header = ",Clothing ID,Age,Title,Review Text,Rating,Recommended IND"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join([header, *rows]) + "\n")
    return path


def test_reviews_small_file_scores(tmp_path: Path) -> None:
    path = _write_reviews(
        tmp_path / "reviews.csv.gz",
        [
            "0,1,30,Love it,Beautiful and soft,5,1",
            "1,1,30,Awful,It ripped and looks terrible,1,0",
            "2,1,30,,,4,1",
        ],
    )
    result = evaluate_reviews(path)
    assert result.reviews == 2
    assert result.skipped_without_text == 1
    assert result.roc_auc == 1.0


def test_reviews_missing_column_rejected(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("Title,Review Text,Rating\nA,B,5\n", encoding="utf-8")
    with pytest.raises(ReviewFileError, match="Recommended IND"):
        evaluate_reviews(path)


def test_reviews_one_class_rejected(tmp_path: Path) -> None:
    path = _write_reviews(
        tmp_path / "reviews.csv.gz", ["0,1,30,Nice,Good,5,1", "1,1,30,Ok,Fine,4,1"]
    )
    with pytest.raises(ReviewFileError, match="both values"):
        evaluate_reviews(path)


def test_reviews_bad_rating_rejected(tmp_path: Path) -> None:
    path = _write_reviews(tmp_path / "reviews.csv.gz", ["0,1,30,Nice,Good,7,1"])
    with pytest.raises(ReviewFileError, match="not 1-5"):
        evaluate_reviews(path)


def test_reviews_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ReviewFileError, match="not found"):
        evaluate_reviews(tmp_path / "absent.csv")
