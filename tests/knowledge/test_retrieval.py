"""Per-kind guideline retrieval recipes over the ingested demo knowledge base."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.config import Settings
from agent.domain import MessageKind
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.errors import KnowledgeBaseNotIngested
from agent.knowledge.retrieval import recipe_for, retrieve_guidelines
from agent.knowledge.store import KnowledgeStore, RetrievedChunk, open_store
from tests.knowledge.conftest import BRAND

# The query the drafting pipeline builds for a review request, without the families.
REVIEW_PURPOSE = "ask the customer to review what they bought, with no reward for the review"


@pytest.fixture
def store(ingested: Settings, index_embedder: OnnxEmbedder) -> Iterator[KnowledgeStore]:
    with open_store(ingested, embedder=index_embedder) as opened:
        yield opened


def doc_types(chunks: list[RetrievedChunk]) -> set[str]:
    return {chunk.doc_type for chunk in chunks}


def test_usage_tip_gets_voice_and_family_guide(store: KnowledgeStore) -> None:
    chunks = retrieve_guidelines(
        store,
        brand=BRAND,
        kind=MessageKind.USAGE_TIP,
        families=["candles-and-lighting"],
        query="care tips for tea-light holders",
        k=4,
    )
    guides = {c.metadata["family_id"] for c in chunks if c.doc_type == "product_guide"}
    assert doc_types(chunks) == {"voice", "product_guide"}
    assert guides == {"candles-and-lighting"}


def test_usage_tip_without_families_gets_voice_only(store: KnowledgeStore) -> None:
    chunks = retrieve_guidelines(
        store, brand=BRAND, kind=MessageKind.USAGE_TIP, families=[], query="care tips", k=4
    )
    assert doc_types(chunks) == {"voice"}


def test_each_purchased_family_gets_a_guide(store: KnowledgeStore) -> None:
    families = ["bags-and-storage", "toys-and-games", "kitchen-and-baking"]
    chunks = retrieve_guidelines(
        store,
        brand=BRAND,
        kind=MessageKind.REVIEW_REQUEST,
        families=families,
        query=f"{REVIEW_PURPOSE} {' '.join(families)}",
        k=2,
    )
    guides = {c.metadata["family_id"] for c in chunks if c.doc_type == "product_guide"}
    assert guides == set(families)


def test_review_request_adds_consent_rules(store: KnowledgeStore) -> None:
    chunks = retrieve_guidelines(
        store,
        brand=BRAND,
        kind=MessageKind.REVIEW_REQUEST,
        families=["party-and-celebration"],
        query="ask for a review",
        k=4,
    )
    assert "compliance" in {chunk.doc_id for chunk in chunks}


def test_order_followup_adds_delivery_policy(store: KnowledgeStore) -> None:
    chunks = retrieve_guidelines(
        store,
        brand=BRAND,
        kind=MessageKind.ORDER_FOLLOWUP,
        families=["kitchen-and-baking"],
        query="when will my order arrive",
        k=4,
    )
    doc_ids = {chunk.doc_id for chunk in chunks}
    assert "delivery-returns" in doc_ids
    assert "incentives" not in doc_ids
    assert "compliance" not in doc_ids


def test_winback_adds_incentive_policy(store: KnowledgeStore) -> None:
    chunks = retrieve_guidelines(
        store,
        brand=BRAND,
        kind=MessageKind.WINBACK,
        families=["home-decor-and-signs"],
        query="invite a lapsed customer back with an offer",
        k=4,
    )
    doc_ids = {chunk.doc_id for chunk in chunks}
    assert "incentives" in doc_ids
    assert "delivery-returns" not in doc_ids
    assert "product_guide" not in doc_types(chunks)


def test_results_unique_and_sorted(store: KnowledgeStore) -> None:
    chunks = retrieve_guidelines(
        store,
        brand=BRAND,
        kind=MessageKind.ORDER_FOLLOWUP,
        families=["candles-and-lighting", "candles-and-lighting"],
        query="thank you for your order",
        k=4,
    )
    ids = [chunk.chunk_id for chunk in chunks]
    scores = [chunk.score for chunk in chunks]
    assert len(ids) == len(set(ids))
    assert scores == sorted(scores, reverse=True)


def test_unknown_brand_not_ingested(store: KnowledgeStore) -> None:
    with pytest.raises(KnowledgeBaseNotIngested):
        retrieve_guidelines(
            store, brand="other-brand", kind=MessageKind.WINBACK, families=[], query="x", k=4
        )


@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_starts_with_voice(kind: MessageKind) -> None:
    assert recipe_for(kind)[0].doc_types == ("voice",)


@pytest.mark.parametrize("kind", [MessageKind.WINBACK, MessageKind.REVIEW_REQUEST])
def test_marketing_kinds_include_legal(kind: MessageKind) -> None:
    assert ("legal",) in [step.doc_types for step in recipe_for(kind)]


@pytest.mark.parametrize("kind", [MessageKind.ORDER_FOLLOWUP, MessageKind.USAGE_TIP])
def test_service_kinds_exclude_legal(kind: MessageKind) -> None:
    assert ("legal",) not in [step.doc_types for step in recipe_for(kind)]
