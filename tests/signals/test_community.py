"""Community insights on a seeded sample of the real clothing reviews and on stored reviews."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from agent.context.db import init_db, make_engine
from agent.context.tables import CustomerRecord, ReviewRecord, TicketRecord
from agent.signals.community import (
    CommunityInputError,
    CommunityInsights,
    analyse,
    build_community,
    community_section,
    load_clothing_reviews,
    load_store_texts,
    sample_frame,
)
from agent.signals.community_markdown import render_insights
from agent.signals.topics import lowercase_vocabulary, may_name_someone, shorten

CLOTHING_FILE = "womens_clothing_ecommerce_reviews.csv.gz"
# Small enough for a test on 2 cores, large enough for several topics.
SAMPLE = 300
SEED = 7
# Months the stored reviews are spread over, and reviews per month.
MONTHS = ("2011-06", "2011-07", "2011-08", "2011-09", "2011-10", "2011-11")
PER_MONTH = 10


@dataclass
class ClothingRun:
    insights: CommunityInsights
    markdown: str
    charts: list[Path]


@pytest.fixture(scope="module")
def clothing_path() -> Path:
    from tests.conftest import SHARED_DATA_DIR

    path = SHARED_DATA_DIR / CLOTHING_FILE
    if not path.is_file():
        pytest.skip(f"{CLOTHING_FILE} not found in {SHARED_DATA_DIR}; set AFTERCARE_TEST_DATA_DIR")
    return path


@pytest.fixture(scope="module")
def clothing_run(clothing_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ClothingRun:
    out_dir = tmp_path_factory.mktemp("community")
    corpus = load_clothing_reviews(clothing_path)
    insights = analyse(corpus, sample_size=SAMPLE, seed=SEED)
    markdown, charts = render_insights(insights, out_dir)
    return ClothingRun(insights, markdown, charts)


def test_topics_found_in_real_reviews(clothing_run: ClothingRun) -> None:
    insights = clothing_run.insights

    assert insights.analysed == SAMPLE
    assert insights.sample_seed == SEED
    assert len(insights.topics) >= 4
    assert sum(topic.size for topic in insights.topics) == SAMPLE
    assert [topic.number for topic in insights.topics] == list(range(1, len(insights.topics) + 1))
    assert insights.model is not None
    assert -1 <= insights.model.silhouette <= 1


def test_topic_words_come_from_their_texts(clothing_run: ClothingRun) -> None:
    sample = clothing_run.insights.sample

    for topic in clothing_run.insights.topics:
        members = sample.loc[sample["topic"] == topic.number, "text"].str.lower()
        assert len(members) == topic.size
        assert len(topic.words) >= 3, topic
        for word in topic.words:
            pattern = r"\b" + r"\W+".join(map(re.escape, word.split())) + r"\b"
            assert members.str.contains(pattern).any(), (topic.number, word)


def test_clothing_reviews_say_no_dates(clothing_run: ClothingRun) -> None:
    insights = clothing_run.insights

    assert insights.monthly is None
    assert "NOTE: the women's clothing reviews carry no dates" in clothing_run.markdown
    assert "#### Sentiment by department and class" in clothing_run.markdown
    assert insights.by_department is not None
    assert set(insights.by_department.index) <= {
        "Tops",
        "Dresses",
        "Bottoms",
        "Intimate",
        "Jackets",
        "Trend",
    }


def test_clothing_reviews_rank_helpful_reviews(
    clothing_run: ClothingRun, clothing_path: Path
) -> None:
    raw = pd.read_csv(clothing_path).dropna(subset=["Review Text"])
    helpful = clothing_run.insights.helpful

    assert clothing_run.insights.reviewers is None
    assert "carry no reviewer id" in clothing_run.markdown
    assert helpful is not None
    assert list(helpful["helpful"]) == sorted(raw["Positive Feedback Count"], reverse=True)[:5]


def test_snippets_are_short_and_name_no_one(clothing_run: ClothingRun) -> None:
    corpus = clothing_run.insights.corpus
    vocabulary = lowercase_vocabulary(corpus.frame["text"].head(20_000))

    for topic in clothing_run.insights.topics:
        assert topic.snippets, topic.number
        for snippet in topic.snippets:
            assert len(snippet) <= 140
            assert not may_name_someone(snippet, vocabulary)


def test_clothing_charts_are_written(clothing_run: ClothingRun) -> None:
    names = [chart.name for chart in clothing_run.charts]

    assert names == [
        "community-women-s-clothing-reviews-topics.png",
        "community-women-s-clothing-reviews-departments.png",
    ]
    for chart in clothing_run.charts:
        assert chart.read_bytes().startswith(b"\x89PNG")


def test_sample_is_reproducible(clothing_path: Path) -> None:
    corpus = load_clothing_reviews(clothing_path)

    first, _ = sample_frame(corpus.frame, 50, SEED)
    second, _ = sample_frame(corpus.frame, 50, SEED)
    other, _ = sample_frame(corpus.frame, 50, SEED + 1)

    assert list(first["text"]) == list(second["text"])
    assert list(first["text"]) != list(other["text"])


def test_reviews_file_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("Title,Review Text\nNice,Lovely dress\n", encoding="utf-8")

    with pytest.raises(CommunityInputError, match="lacks the columns"):
        load_clothing_reviews(path)


def test_reviews_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(CommunityInputError, match="not found"):
        load_clothing_reviews(tmp_path / "absent.csv")


# --- stored, dated reviews ------------------------------------------------------------------


@pytest.fixture
def store_engine(clothing_path: Path, tmp_path: Path) -> Iterator[Engine]:
    """Real review texts stored as reviews of 12 customers, spread over MONTHS."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_db(engine)
    raw = pd.read_csv(clothing_path, nrows=200).dropna(subset=["Review Text"])
    rows = raw.head(len(MONTHS) * PER_MONTH).reset_index(drop=True)
    with engine.begin() as conn:
        conn.execute(
            CustomerRecord.__table__.insert(),
            [{"customer_id": f"c{n:02d}"} for n in range(12)],
        )
        reviews = []
        for index, row in rows.iterrows():
            month = MONTHS[index // PER_MONTH]
            day = 1 + index % PER_MONTH
            # Customer c00 writes every third review, the others share the rest.
            customer = "c00" if index % 3 == 0 else f"c{1 + index % 11:02d}"
            reviews.append(
                {
                    "customer_id": customer,
                    "rating": int(row["Rating"]),
                    "text": row["Review Text"],
                    "created_at": datetime.fromisoformat(f"{month}-{day:02d}T10:00:00+00:00"),
                }
            )
        conn.execute(ReviewRecord.__table__.insert(), reviews)
        conn.execute(
            TicketRecord.__table__.insert(),
            [
                {
                    "ticket_id": "t1",
                    "customer_id": "c01",
                    "status": "closed",
                    "category": "delivery",
                    "subject": "Parcel late",
                    "text": "My parcel arrived a week after the promised date.",
                    "opened_at": datetime(2011, 11, 20, 9, tzinfo=UTC),
                }
            ],
        )
    yield engine
    engine.dispose()


def test_stored_reviews_trend_by_month(store_engine: Engine, tmp_path: Path) -> None:
    corpus = load_store_texts(store_engine)

    insights = analyse(corpus, sample_size=SAMPLE, seed=SEED, n_topics=3)

    monthly = insights.monthly
    assert corpus.has_dates is True
    assert monthly is not None
    assert [str(month) for month in monthly.index] == list(MONTHS)
    assert list(monthly["texts"]) == [PER_MONTH] * 5 + [PER_MONTH + 1]
    assert monthly["mean_compound"].between(-1, 1).all()
    assert insights.monthly_by_topic is not None
    assert len(insights.topics) == 3
    assert {"review", "ticket"} <= {s for topic in insights.topics for s in topic.sources}


def test_stored_reviews_rank_reviewers(store_engine: Engine) -> None:
    insights = analyse(load_store_texts(store_engine), sample_size=SAMPLE, seed=SEED, n_topics=3)

    reviewers = insights.reviewers
    assert reviewers is not None
    assert reviewers.iloc[0]["author_id"] == "c00"
    assert reviewers.iloc[0]["reviews"] == 20
    assert insights.helpful is None


def test_stored_section_shows_trend(store_engine: Engine, tmp_path: Path) -> None:
    body, charts = build_community(tmp_path / "out", engine=store_engine, n_topics=3)

    assert "#### Sentiment by month" in body
    assert "| 2011-06 | 10 |" in body
    assert "carry no dates" not in body
    assert "| c00 | 20 |" in body
    assert "no helpfulness votes" in body
    assert (tmp_path / "out" / "community-stored-reviews-and-tickets-trend.png") in charts


def test_section_links_its_charts(store_engine: Engine, tmp_path: Path) -> None:
    out_dir = tmp_path / "report"

    markdown = community_section(out_dir, engine=store_engine, n_topics=3)

    charts = sorted(out_dir.glob("*.png"))
    assert [chart.name for chart in charts] == [
        "community-stored-reviews-and-tickets-topics.png",
        "community-stored-reviews-and-tickets-trend.png",
    ]
    for chart in charts:
        assert f"![{chart.stem}]({chart.name})" in markdown


def test_as_of_leaves_out_later_texts(store_engine: Engine) -> None:
    corpus = load_store_texts(store_engine, as_of=datetime(2011, 7, 31, tzinfo=UTC))

    assert len(corpus.frame) == 2 * PER_MONTH


def test_empty_store_says_so(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    init_db(engine)

    body, charts = build_community(tmp_path / "out", engine=engine)

    assert body == "No review or ticket text is stored up to as_of."
    assert charts == []
    engine.dispose()


# --- helpers --------------------------------------------------------------------------------


def test_name_check_catches_capitalised_unknown_word() -> None:
    vocabulary = frozenset({"love", "this", "dress", "wear", "it", "daily", "my", "friend"})

    assert may_name_someone("My friend Sarah loved this dress.", vocabulary)
    assert may_name_someone("Write to me at someone@example.com", vocabulary)
    assert not may_name_someone("Love this dress. I wear it daily in XS.", vocabulary)


def test_shorten_keeps_whole_sentences() -> None:
    text = "Runs small. " + "The fabric is soft and drapes well over the hips. " * 5

    short = shorten(text, limit=70)

    assert short == "Runs small. The fabric is soft and drapes well over the hips."
