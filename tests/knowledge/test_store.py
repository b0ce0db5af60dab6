"""Searching the Chroma index, and the typed errors for missing, stale or broken indexes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest

from agent.config import Settings
from agent.domain import MessageKind, Source
from agent.knowledge.connection import COLLECTION_NAME
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.errors import (
    EmbeddingModelMismatch,
    InvalidChromaUrl,
    KnowledgeBaseCorrupt,
    KnowledgeBaseNotIngested,
    KnowledgeStoreUnavailable,
)
from agent.knowledge.ingest import IngestReport, ingest
from agent.knowledge.metadata import build_where
from agent.knowledge.store import KnowledgeStore, open_store
from tests.knowledge.conftest import BRAND, copy_small_kb, make_settings

WINBACK_DOCS = {"brand", "voice", "incentives", "compliance", "approved-copy"}


@pytest.fixture
def store(ingested: Settings, index_embedder: OnnxEmbedder) -> Iterator[KnowledgeStore]:
    with open_store(ingested, embedder=index_embedder) as opened:
        yield opened


def test_search_ranks_relevant_guide_first(store: KnowledgeStore) -> None:
    chunks = store.search("how full should I fill a hot water bottle", brand=BRAND, k=3)
    assert chunks[0].doc_id == "guide-textiles-and-warmers"


def test_search_scores_descend(store: KnowledgeStore) -> None:
    chunks = store.search("delivery time and returns", brand=BRAND, k=8)
    scores = [chunk.score for chunk in chunks]
    assert len(chunks) == 8
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= score <= 1.0 for score in scores)


def test_search_kind_filter(store: KnowledgeStore) -> None:
    chunks = store.search(
        "offer for a returning customer", brand=BRAND, kind=MessageKind.WINBACK, k=20
    )
    doc_ids = {chunk.doc_id for chunk in chunks}
    assert doc_ids <= WINBACK_DOCS
    assert "incentives" in doc_ids
    assert all(chunk.metadata["kind_winback"] is True for chunk in chunks)


def test_search_kind_filter_includes_all_kinds_docs(store: KnowledgeStore) -> None:
    chunks = store.search(
        "unsubscribe link",
        brand=BRAND,
        kind=MessageKind.REFERRAL_INVITE,
        k=20,
        mmr=False,
        min_score=-1.0,
    )
    doc_ids = {chunk.doc_id for chunk in chunks}
    assert {"brand", "voice", "compliance"} <= doc_ids
    assert all(chunk.metadata["kind_referral_invite"] is True for chunk in chunks)


def test_search_doc_type_filter(store: KnowledgeStore) -> None:
    chunks = store.search(
        "care tips", brand=BRAND, doc_types=["policy", "legal"], k=20, min_score=-1.0
    )
    assert {chunk.doc_type for chunk in chunks} == {"policy", "legal"}


def test_search_family_filter(store: KnowledgeStore) -> None:
    chunks = store.search(
        "care tips", brand=BRAND, doc_types=["product_guide"], families=["bags-and-storage"], k=10
    )
    assert chunks
    assert {chunk.metadata["family_id"] for chunk in chunks} == {"bags-and-storage"}


def test_search_all_filters_combined(store: KnowledgeStore) -> None:
    chunks = store.search(
        "tips",
        brand=BRAND,
        kind=MessageKind.USAGE_TIP,
        doc_types=["product_guide"],
        families=["candles-and-lighting", "toys-and-games"],
        k=30,
    )
    families = {chunk.metadata["family_id"] for chunk in chunks}
    assert families == {"candles-and-lighting", "toys-and-games"}


def test_search_empty_family_list_matches_nothing(store: KnowledgeStore) -> None:
    assert store.search("tips", brand=BRAND, families=[], k=4) == []


def test_search_unknown_family_returns_empty(store: KnowledgeStore) -> None:
    assert store.search("tips", brand=BRAND, families=["garden-furniture"], k=4) == []


def test_search_unknown_brand_not_ingested(store: KnowledgeStore) -> None:
    with pytest.raises(KnowledgeBaseNotIngested) as caught:
        store.search("tips", brand="other-brand", k=4)
    assert "'other-brand'" in str(caught.value)
    assert "aftercare kb ingest" in str(caught.value)


def test_search_rejects_empty_query(store: KnowledgeStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        store.search("   ", brand=BRAND)


def test_search_rejects_zero_k(store: KnowledgeStore) -> None:
    with pytest.raises(ValueError, match="k must be"):
        store.search("tips", brand=BRAND, k=0)


def test_chunk_to_source(store: KnowledgeStore) -> None:
    chunk = store.search("bunting", brand=BRAND, k=1)[0]
    source = chunk.to_source()
    assert isinstance(source, Source)
    assert source.chunk_id == chunk.chunk_id
    assert source.doc_id == chunk.doc_id
    assert source.score == chunk.score


def test_build_where_single_condition() -> None:
    assert build_where(brand=BRAND) == {"brand": BRAND}


def test_build_where_joins_with_and() -> None:
    where = build_where(brand=BRAND, kind=MessageKind.WINBACK, doc_types=["policy"])
    assert where == {
        "$and": [{"brand": BRAND}, {"kind_winback": True}, {"doc_type": {"$in": ["policy"]}}]
    }


# --- errors ---------------------------------------------------------------------------


def test_never_ingested_raises(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")
    with pytest.raises(KnowledgeBaseNotIngested) as caught:
        open_store(settings)
    assert str(tmp_path / "var" / "chroma") in str(caught.value)
    assert "aftercare kb ingest" in str(caught.value)


def test_never_ingested_creates_no_folder(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseNotIngested):
        open_store(make_settings(tmp_path / "var"))
    assert not (tmp_path / "var").exists()


def test_empty_chroma_folder_not_ingested(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")
    client = chromadb.PersistentClient(
        str(settings.resolved_chroma_path),
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )
    client.close()
    with pytest.raises(KnowledgeBaseNotIngested):
        open_store(settings)


class RenamedEmbedder(OnnxEmbedder):
    """Another embedder's vectors under a different model name, to simulate a model change."""

    def __init__(self, inner: OnnxEmbedder, model_name: str) -> None:
        self._inner = inner
        self.model_name = model_name
        self.threads = inner.threads
        self.batch_size = inner.batch_size

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed(texts)


def test_model_mismatch_names_both_models(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    with pytest.raises(EmbeddingModelMismatch) as caught:
        open_store(settings, embedder=RenamedEmbedder(index_embedder, "other-model"))
    message = str(caught.value)
    assert "all-MiniLM-L6-v2-int8" in message
    assert "other-model" in message
    assert "aftercare kb ingest --rebuild" in message


def test_foreign_collection_is_mismatch(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")
    client = chromadb.PersistentClient(
        str(settings.resolved_chroma_path.resolve()),
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )
    client.create_collection(
        COLLECTION_NAME, embedding_function=None, metadata={"embedding_model": "e5-large"}
    )
    client.close()
    with pytest.raises(EmbeddingModelMismatch) as caught:
        open_store(settings)
    assert "e5-large" in str(caught.value)


def test_rebuild_fixes_model_mismatch(tmp_path: Path, index_embedder: OnnxEmbedder) -> None:
    settings = make_settings(tmp_path / "var", copy_small_kb(tmp_path / "kb"))
    ingest(settings, embedder=RenamedEmbedder(index_embedder, "other-model"))
    ingest(settings, rebuild=True, embedder=index_embedder)
    with open_store(settings, embedder=index_embedder) as store:
        assert store.count(BRAND) > 0


def corrupt_index(settings: Settings) -> Path:
    sqlite = settings.resolved_chroma_path / "chroma.sqlite3"
    sqlite.write_bytes(b"this is not a sqlite database " * 1000)
    return sqlite


def test_corrupt_index_names_path_and_fix(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    corrupt_index(settings)
    with pytest.raises(KnowledgeBaseCorrupt) as caught:
        open_store(settings, embedder=index_embedder)
    message = str(caught.value)
    assert str(settings.resolved_chroma_path.resolve()) in message
    assert "aftercare kb ingest --rebuild" in message


def test_corrupt_index_raises_again(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    corrupt_index(settings)
    for _ in range(2):
        with pytest.raises(KnowledgeBaseCorrupt):
            open_store(settings, embedder=index_embedder)


def test_rebuild_recovers_corrupt_index(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, first = small_ingested
    (settings.resolved_chroma_path / "keep-me.txt").write_text("not chroma's", encoding="utf-8")
    corrupt_index(settings)
    with pytest.raises(KnowledgeBaseCorrupt):
        open_store(settings, embedder=index_embedder)
    report = ingest(settings, rebuild=True, embedder=index_embedder)
    with open_store(settings, embedder=index_embedder) as store:
        assert store.count(BRAND) == first.chunks
    assert report.embedded == first.chunks
    assert (settings.resolved_chroma_path / "keep-me.txt").is_file()


def test_incremental_ingest_on_corrupt_index_raises(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    corrupt_index(settings)
    with pytest.raises(KnowledgeBaseCorrupt):
        ingest(settings, embedder=index_embedder)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_server_names_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}"
    settings = make_settings(tmp_path / "var").model_copy(update={"chroma_url": url})
    with pytest.raises(KnowledgeStoreUnavailable) as caught:
        open_store(settings)
    assert url in str(caught.value)


def test_invalid_server_url_rejected(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var").model_copy(update={"chroma_url": "ftp://host"})
    with pytest.raises(InvalidChromaUrl, match="not an http"):
        open_store(settings)


def test_chroma_default_model_never_loads(
    small_kb: Settings, index_embedder: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2

    def fail_to_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma's default embedding model was loaded")

    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "__init__", fail_to_load)
    ingest(small_kb, embedder=index_embedder)
    with open_store(small_kb, embedder=index_embedder) as store:
        assert store.search("tea lights", brand=BRAND, k=2)
