"""Ingesting the Markdown knowledge base into a real Chroma index in a tmp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Settings
from agent.knowledge.brand import BrandNotFound
from agent.knowledge.documents import InvalidKnowledgeDocument, read_document
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.ingest import CHUNK_SIZE, IngestReport, ingest, split_document
from agent.knowledge.store import open_store
from tests.knowledge.conftest import BRAND, KB_DIR, SMALL_KB_FILES, make_settings


def chunk_ids(settings: Settings, embedder: OnnxEmbedder) -> set[str]:
    with open_store(settings, embedder=embedder) as store:
        return set(store.brand_chunks(BRAND))


def test_report_counts_documents_and_chunks(
    small_ingested: tuple[Settings, IngestReport],
) -> None:
    _, report = small_ingested
    assert report.documents == len(SMALL_KB_FILES)
    assert report.brands == [BRAND]
    assert report.chunks > report.documents
    assert report.embedded == report.chunks
    assert report.deleted == 0
    assert report.seconds > 0


def test_store_count_matches_report(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, report = small_ingested
    with open_store(settings, embedder=index_embedder) as store:
        assert store.count() == report.chunks
        assert store.count(BRAND) == report.chunks
        assert store.count("other-brand") == 0


def test_reingest_unchanged_embeds_nothing(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, first = small_ingested
    second = ingest(settings, embedder=index_embedder)
    assert second.embedded == 0
    assert second.deleted == 0
    assert second.chunks == first.chunks


def test_chunk_ids_are_stable(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    before = chunk_ids(settings, index_embedder)
    ingest(settings, rebuild=True, embedder=index_embedder)
    assert chunk_ids(settings, index_embedder) == before
    assert f"{BRAND}:voice:0" in before


def test_changed_document_is_reembedded(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    path = settings.kb_dir / BRAND / "delivery-returns.md"
    path.write_text(
        path.read_text(encoding="utf-8") + "\n## Gift messages\n\nWe can add a gift note.\n",
        encoding="utf-8",
    )
    report = ingest(settings, embedder=index_embedder)
    with open_store(settings, embedder=index_embedder) as store:
        stored = store.brand_chunks(BRAND)
    changed_doc = {meta["doc_id"] for cid, meta in stored.items() if "Gift messages" in str(meta)}
    assert report.embedded == sum(
        1 for meta in stored.values() if meta["doc_id"] == "delivery-returns"
    )
    assert changed_doc == {"delivery-returns"}


def test_deleted_document_is_removed(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, first = small_ingested
    guide_chunks = {cid for cid in chunk_ids(settings, index_embedder) if "guide-candles" in cid}
    (settings.kb_dir / BRAND / "guides" / "01-candles-and-lighting.md").unlink()
    report = ingest(settings, embedder=index_embedder)
    remaining = chunk_ids(settings, index_embedder)
    assert guide_chunks
    assert report.deleted == len(guide_chunks)
    assert report.chunks == first.chunks - len(guide_chunks)
    assert remaining.isdisjoint(guide_chunks)


def test_deleted_document_not_found_by_search(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    (settings.kb_dir / BRAND / "guides" / "01-candles-and-lighting.md").unlink()
    ingest(settings, embedder=index_embedder)
    with open_store(settings, embedder=index_embedder) as store:
        chunks = store.search("never leave a lit candle unattended", brand=BRAND, k=20)
    assert all(chunk.doc_id != "guide-candles-and-lighting" for chunk in chunks)


def test_shorter_document_drops_extra_chunks(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    path = settings.kb_dir / BRAND / "voice.md"
    front, _, _ = path.read_text(encoding="utf-8").partition("\n# ")
    path.write_text(front + "\n# Voice and tone\n\nWarm and brief.\n", encoding="utf-8")
    ingest(settings, embedder=index_embedder)
    voice = sorted(cid for cid in chunk_ids(settings, index_embedder) if f"{BRAND}:voice:" in cid)
    assert voice == [f"{BRAND}:voice:0"]


def test_invalid_document_leaves_index_unchanged(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    before = chunk_ids(settings, index_embedder)
    path = settings.kb_dir / BRAND / "incentives.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "kinds: [winback, loyalty_update]", "kinds: [gifts]"
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        ingest(settings, embedder=index_embedder)
    assert caught.value.path == path
    assert caught.value.field == "kinds"
    assert chunk_ids(settings, index_embedder) == before


def test_unknown_brand_raises(small_kb: Settings, index_embedder: OnnxEmbedder) -> None:
    with pytest.raises(BrandNotFound):
        ingest(small_kb, brand="no-such-brand", embedder=index_embedder)


def test_empty_kb_folder_raises(tmp_path: Path, index_embedder: OnnxEmbedder) -> None:
    (tmp_path / "kb").mkdir()
    settings = make_settings(tmp_path / "var", tmp_path / "kb")
    with pytest.raises(BrandNotFound) as caught:
        ingest(settings, embedder=index_embedder)
    assert "available brands: none" in str(caught.value)


def test_rebuild_for_brand_keeps_other_brands(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, first = small_ingested
    other = settings.kb_dir / "other-shop"
    other.mkdir()
    (other / "voice.md").write_text(
        "---\ndoc_id: voice\ntitle: Voice\ndoc_type: voice\nkinds: all\n"
        "name: Other Shop\npostal_address: 1 High Street\n"
        "unsubscribe_url: https://other.example/u/{token}\nreview_url: '{{review_link}}'\n"
        "shop_url: https://other.example\nsms_sender: Other\n---\n\n# Voice\n\nBe kind.\n",
        encoding="utf-8",
    )
    ingest(settings, brand="other-shop", embedder=index_embedder)
    report = ingest(settings, brand=BRAND, rebuild=True, embedder=index_embedder)
    with open_store(settings, embedder=index_embedder) as store:
        assert store.count("other-shop") == 1
        assert store.count(BRAND) == first.chunks
    assert report.deleted == first.chunks
    assert report.embedded == first.chunks


def test_chunks_respect_size_limit() -> None:
    brand_dir = KB_DIR / BRAND
    for path in sorted(brand_dir.rglob("*.md")):
        for chunk in split_document(read_document(path, brand_dir, BRAND)):
            # The chunk text is the section heading, a blank line and at most CHUNK_SIZE chars.
            heading = str(chunk.metadata["section"])
            assert len(chunk.text) <= len(heading) + 2 + CHUNK_SIZE, chunk.chunk_id


def test_guide_chunks_carry_family_and_tips() -> None:
    brand_dir = KB_DIR / BRAND
    path = brand_dir / "guides" / "04-textiles-and-warmers.md"
    chunks = split_document(read_document(path, brand_dir, BRAND))
    assert {chunk.metadata["family_id"] for chunk in chunks} == {"textiles-and-warmers"}
    assert any("two-thirds full" in chunk.text for chunk in chunks)
    assert all(chunk.metadata["kind_usage_tip"] is True for chunk in chunks)
    assert all("kind_winback" not in chunk.metadata for chunk in chunks)


def test_all_kinds_document_marks_every_kind() -> None:
    brand_dir = KB_DIR / BRAND
    chunks = split_document(read_document(brand_dir / "compliance.md", brand_dir, BRAND))
    first = chunks[0].metadata
    assert first["kinds"] == "all"
    assert first["kind_winback"] is True
    assert first["kind_service_recovery"] is True
    assert "family_id" not in first
