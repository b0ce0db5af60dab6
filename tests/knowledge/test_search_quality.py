"""Search quality: maximal marginal relevance, the relevance threshold and topic filters."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest

from agent.config import Settings
from agent.domain import MessageKind
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.ingest import ingest
from agent.knowledge.metadata import build_where
from agent.knowledge.mmr import mmr_select
from agent.knowledge.retrieval import retrieve_guidelines
from agent.knowledge.store import DEFAULT_MIN_SCORE, KnowledgeStore, open_store
from tests.knowledge.conftest import BRAND, make_settings

OFF_TOPIC = "quantum chromodynamics lattice simulation"
SHOP = "dup-shop"
VOICE = (
    "---\ndoc_id: voice\ntitle: Voice\ndoc_type: voice\nkinds: all\n"
    "name: Dup Shop\npostal_address: 1 High Street\n"
    "unsubscribe_url: https://dup.example/u/{token}\nreview_url: '{{review_link}}'\n"
    "shop_url: https://dup.example\nsms_sender: Dup\n---\n\n# Voice\n\nBe kind and brief.\n"
)
SAFETY = "Never leave a burning candle unattended, and keep candles away from curtains."
WICK = "Trim a candle wick to five millimetres before lighting it, so the candle burns evenly."


def policy(doc_id: str, body: str) -> str:
    return (
        f"---\ndoc_id: {doc_id}\ntitle: {doc_id}\ndoc_type: policy\nkinds: all\n"
        f"topics: [candles]\n---\n\n# Candles\n\n{body}\n"
    )


@pytest.fixture
def store(ingested: Settings, index_embedder: OnnxEmbedder) -> Iterator[KnowledgeStore]:
    with open_store(ingested, embedder=index_embedder) as opened:
        yield opened


@pytest.fixture(scope="module")
def duplicates(tmp_path_factory: pytest.TempPathFactory, index_embedder: OnnxEmbedder) -> Settings:
    """An index of one brand with two identical candle documents and a third, different one."""
    root = tmp_path_factory.mktemp("duplicates")
    folder = root / "kb" / SHOP
    folder.mkdir(parents=True)
    (folder / "voice.md").write_text(VOICE, encoding="utf-8")
    (folder / "safety-a.md").write_text(policy("safety-a", SAFETY), encoding="utf-8")
    (folder / "safety-b.md").write_text(policy("safety-b", SAFETY), encoding="utf-8")
    (folder / "wick.md").write_text(policy("wick", WICK), encoding="utf-8")
    settings = make_settings(root / "var", root / "kb")
    ingest(settings, embedder=index_embedder)
    return settings


# --- maximal marginal relevance ---------------------------------------------------------

QUERY = np.array([1.0, 0.0, 0.0])
# Rows 0 and 1 are near-duplicates with relevance 0.90; row 2 is less relevant (0.80) and
# points elsewhere.
CANDIDATES = np.array([[0.9, 0.436, 0.0], [0.9, 0.42, 0.12], [0.8, -0.6, 0.0]])


def test_mmr_relevance_only_at_lambda_one() -> None:
    assert mmr_select(QUERY, CANDIDATES, 3, 1.0) == [0, 1, 2]


def test_mmr_skips_near_duplicate() -> None:
    assert mmr_select(QUERY, CANDIDATES, 2, 0.7) == [0, 2]


def test_mmr_returns_each_candidate_once() -> None:
    assert mmr_select(QUERY, CANDIDATES, 10, 0.7) == [0, 2, 1]


def test_mmr_starts_with_most_relevant() -> None:
    reordered = CANDIDATES[[2, 1, 0]]
    assert mmr_select(QUERY, reordered, 1, 0.0)[0] == 2


def test_search_mmr_prefers_new_content(duplicates: Settings, index_embedder: OnnxEmbedder) -> None:
    with open_store(duplicates, embedder=index_embedder) as opened:
        plain = opened.search("candle safety", brand=SHOP, k=2, mmr=False, min_score=-1.0)
        diverse = opened.search("candle safety", brand=SHOP, k=2, mmr=True, min_score=-1.0)
    assert {chunk.doc_id for chunk in plain} == {"safety-a", "safety-b"}
    assert "wick" in {chunk.doc_id for chunk in diverse}
    assert len({chunk.doc_id for chunk in diverse} & {"safety-a", "safety-b"}) == 1


def test_search_mmr_result_sorted_by_score(
    duplicates: Settings, index_embedder: OnnxEmbedder
) -> None:
    with open_store(duplicates, embedder=index_embedder) as opened:
        chunks = opened.search("candle safety", brand=SHOP, k=3, min_score=-1.0)
    scores = [chunk.score for chunk in chunks]
    assert scores == sorted(scores, reverse=True)


def test_mmr_lambda_setting_reaches_store(
    duplicates: Settings, index_embedder: OnnxEmbedder
) -> None:
    settings = duplicates.model_copy(update={"retrieval_mmr_lambda": 1.0})
    with open_store(settings, embedder=index_embedder) as opened:
        chunks = opened.search("candle safety", brand=SHOP, k=2, min_score=-1.0)
    assert opened.mmr_lambda == 1.0
    assert {chunk.doc_id for chunk in chunks} == {"safety-a", "safety-b"}


# --- relevance threshold ----------------------------------------------------------------


def test_off_topic_query_returns_nothing(store: KnowledgeStore) -> None:
    assert store.search(OFF_TOPIC, brand=BRAND, k=4) == []


def test_off_topic_query_without_threshold(store: KnowledgeStore) -> None:
    assert len(store.search(OFF_TOPIC, brand=BRAND, k=4, min_score=-1.0)) == 4


def test_returned_scores_pass_threshold(store: KnowledgeStore) -> None:
    chunks = store.search("delivery time and returns", brand=BRAND, k=20)
    assert chunks
    assert min(chunk.score for chunk in chunks) >= DEFAULT_MIN_SCORE


def test_threshold_shortens_result(store: KnowledgeStore) -> None:
    unfiltered = store.search("delivery time and returns", brand=BRAND, k=40, min_score=-1.0)
    filtered = store.search("delivery time and returns", brand=BRAND, k=40)
    assert len(unfiltered) == 40
    assert len(filtered) < len(unfiltered)


def test_store_threshold_from_settings(ingested: Settings, index_embedder: OnnxEmbedder) -> None:
    settings = ingested.model_copy(update={"retrieval_min_score": 0.99})
    with open_store(settings, embedder=index_embedder) as opened:
        chunks = opened.search("delivery time and returns", brand=BRAND, k=4)
    assert opened.min_score == 0.99
    assert chunks == []


def test_guidelines_empty_for_off_topic_query(
    store: KnowledgeStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="agent.knowledge.retrieval"):
        chunks = retrieve_guidelines(
            store, brand=BRAND, kind=MessageKind.WINBACK, families=[], query=OFF_TOPIC, k=4
        )
    messages = [record.getMessage() for record in caplog.records]
    assert chunks == []
    assert any("no voice chunk of brand" in message for message in messages)
    assert any(record.levelno == logging.WARNING for record in caplog.records)


def test_guidelines_keep_steps_that_pass(store: KnowledgeStore) -> None:
    chunks = retrieve_guidelines(
        store,
        brand=BRAND,
        kind=MessageKind.USAGE_TIP,
        families=["textiles-and-warmers"],
        query="how full should I fill a hot water bottle",
        k=4,
    )
    assert chunks
    assert min(chunk.score for chunk in chunks) >= DEFAULT_MIN_SCORE


# --- topic filters ----------------------------------------------------------------------


def test_topic_filter_matches_one_topic(store: KnowledgeStore) -> None:
    chunks = store.search("what we promise", brand=BRAND, topics=["delivery"], k=20, min_score=-1)
    assert chunks
    assert {chunk.doc_id for chunk in chunks} == {"delivery-returns"}


def test_topic_filter_ignores_case(store: KnowledgeStore) -> None:
    chunks = store.search("consent", brand=BRAND, topics=["PECR"], k=20, min_score=-1)
    assert {chunk.doc_id for chunk in chunks} == {"compliance"}


def test_topic_filter_any_of_several(store: KnowledgeStore) -> None:
    chunks = store.search(
        "text messages", brand=BRAND, topics=["sms", "bunting"], k=40, mmr=False, min_score=-1
    )
    assert {chunk.doc_id for chunk in chunks} == {
        "voice",
        "compliance",
        "guide-party-and-celebration",
    }


def test_topic_filter_with_kind_and_type(store: KnowledgeStore) -> None:
    chunks = store.search(
        "text messages",
        brand=BRAND,
        kind=MessageKind.WINBACK,
        doc_types=["legal"],
        topics=["sms"],
        k=20,
        min_score=-1,
    )
    assert {chunk.doc_id for chunk in chunks} == {"compliance"}


def test_topic_filter_unknown_topic_empty(store: KnowledgeStore) -> None:
    assert store.search("tips", brand=BRAND, topics=["gardening tools"], k=4) == []


def test_topic_filter_empty_list_matches_nothing(store: KnowledgeStore) -> None:
    assert store.search("tips", brand=BRAND, topics=[], k=4) == []


def test_topics_stored_as_list(store: KnowledgeStore) -> None:
    chunk = store.search("unsubscribe link", brand=BRAND, topics=["pecr"], k=1)[0]
    assert chunk.metadata["topics"] == [
        "consent",
        "unsubscribe",
        "soft opt-in",
        "sms",
        "email",
        "privacy",
        "pecr",
    ]


def test_build_where_topics_joined_with_and() -> None:
    where = build_where(brand=BRAND, kind=MessageKind.WINBACK, topics=["Delivery", "returns"])
    assert where == {
        "$and": [
            {"brand": BRAND},
            {"kind_winback": True},
            {"$or": [{"topics": {"$contains": "delivery"}}, {"topics": {"$contains": "returns"}}]},
        ]
    }


def test_build_where_single_topic() -> None:
    assert build_where(brand=BRAND, topics=["SMS"]) == {
        "$and": [{"brand": BRAND}, {"topics": {"$contains": "sms"}}]
    }
