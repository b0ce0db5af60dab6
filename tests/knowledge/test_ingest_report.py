"""Incremental ingest: what the report counts, empty documents and empty brand folders."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.config import Settings
from agent.knowledge.brand import BrandFolderEmpty, BrandNotFound
from agent.knowledge.documents import read_document
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.ingest import IngestReport, ingest, split_document
from agent.knowledge.store import open_store
from tests.knowledge.conftest import BRAND, SMALL_KB_FILES

EMPTY_DOCUMENT = (
    "---\ndoc_id: notes\ntitle: Notes\ndoc_type: policy\nkinds: all\ntopics: [notes]\n---\n\n"
)


class RecordingEmbedder(OnnxEmbedder):
    """Another embedder's vectors, remembering every text it was asked to embed."""

    def __init__(self, inner: OnnxEmbedder) -> None:
        self._inner = inner
        self.threads = inner.threads
        self.batch_size = inner.batch_size
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return self._inner.embed(texts)


def chunk_texts(settings: Settings, relative: str) -> list[str]:
    folder = settings.kb_dir / BRAND
    return [chunk.text for chunk in split_document(read_document(folder / relative, folder, BRAND))]


def stored_doc_ids(settings: Settings, embedder: OnnxEmbedder) -> set[str]:
    with open_store(settings, embedder=embedder) as store:
        return {str(meta["doc_id"]) for meta in store.brand_chunks(BRAND).values()}


def append_section(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n## Gift messages\n\nWe can add a gift note.\n", encoding="utf-8")


def test_changed_document_only_its_chunks_embedded(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    append_section(settings.kb_dir / BRAND / "delivery-returns.md")
    recorder = RecordingEmbedder(index_embedder)
    report = ingest(settings, embedder=recorder)
    changed = chunk_texts(settings, "delivery-returns.md")
    assert sorted(recorder.texts) == sorted(changed)
    assert any("gift note" in text for text in recorder.texts)
    assert report.embedded == len(changed)
    assert report.documents_embedded == 1
    assert report.documents_unchanged == len(SMALL_KB_FILES) - 1
    assert report.unchanged == report.chunks - len(changed)
    assert report.documents_deleted == 0


def test_unchanged_reingest_embeds_no_text(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, first = small_ingested
    recorder = RecordingEmbedder(index_embedder)
    report = ingest(settings, embedder=recorder)
    assert recorder.texts == []
    assert report.documents_unchanged == len(SMALL_KB_FILES)
    assert report.unchanged == first.chunks
    assert report.documents_embedded == 0


def test_first_ingest_counts_every_document(
    small_ingested: tuple[Settings, IngestReport],
) -> None:
    _, report = small_ingested
    assert report.documents_embedded == len(SMALL_KB_FILES)
    assert report.documents_unchanged == 0
    assert report.unchanged == 0
    assert report.documents_skipped == 0


def test_deleted_document_counted(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    (settings.kb_dir / BRAND / "guides" / "04-textiles-and-warmers.md").unlink()
    report = ingest(settings, embedder=index_embedder)
    assert report.documents_deleted == 1
    assert report.deleted > 0
    assert report.documents == len(SMALL_KB_FILES) - 1
    assert report.documents_unchanged == len(SMALL_KB_FILES) - 1


def test_rebuild_for_brand_counts_all_as_deleted(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, first = small_ingested
    report = ingest(settings, brand=BRAND, rebuild=True, embedder=index_embedder)
    assert report.documents_deleted == len(SMALL_KB_FILES)
    assert report.documents_embedded == len(SMALL_KB_FILES)
    assert report.deleted == first.chunks


def test_empty_document_skipped_and_counted(
    small_kb: Settings, index_embedder: OnnxEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    path = small_kb.kb_dir / BRAND / "notes.md"
    path.write_text(EMPTY_DOCUMENT, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="agent.knowledge.ingest"):
        report = ingest(small_kb, embedder=index_embedder)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert report.documents_skipped == 1
    assert report.skipped == [f"{BRAND}/notes.md"]
    assert report.documents == len(SMALL_KB_FILES)
    assert any(str(path) in message and "no body text" in message for message in warnings)
    assert "notes" not in stored_doc_ids(small_kb, index_embedder)


def test_headings_only_document_skipped(small_kb: Settings, index_embedder: OnnxEmbedder) -> None:
    path = small_kb.kb_dir / BRAND / "notes.md"
    path.write_text(EMPTY_DOCUMENT + "# Notes\n\n## Later\n", encoding="utf-8")
    report = ingest(small_kb, embedder=index_embedder)
    assert report.skipped == [f"{BRAND}/notes.md"]


def test_emptied_document_chunks_deleted(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    path = settings.kb_dir / BRAND / "delivery-returns.md"
    front, _, _ = path.read_text(encoding="utf-8").partition("\n# ")
    path.write_text(front + "\n", encoding="utf-8")
    report = ingest(settings, embedder=index_embedder)
    assert report.documents_skipped == 1
    assert report.documents_deleted == 1
    assert "delivery-returns" not in stored_doc_ids(settings, index_embedder)


def test_empty_brand_folder_rejected_by_name(
    small_kb: Settings, index_embedder: OnnxEmbedder
) -> None:
    (small_kb.kb_dir / "empty-shop" / ".drafts").mkdir(parents=True)
    (small_kb.kb_dir / "empty-shop" / ".drafts" / "voice.md").write_text("---\n", "utf-8")
    with pytest.raises(BrandFolderEmpty) as caught:
        ingest(small_kb, brand="empty-shop", embedder=index_embedder)
    message = str(caught.value)
    assert "'empty-shop'" in message
    assert "contains no Markdown documents" in message
    assert str(small_kb.kb_dir / "empty-shop") in message
    assert f"available brands: {BRAND}" in message


def test_missing_brand_folder_rejected_by_name(
    small_kb: Settings, index_embedder: OnnxEmbedder
) -> None:
    with pytest.raises(BrandNotFound) as caught:
        ingest(small_kb, brand="no-such-shop", embedder=index_embedder)
    assert not isinstance(caught.value, BrandFolderEmpty)
    assert "'no-such-shop' not found" in str(caught.value)


def test_empty_brand_folder_leaves_no_index(
    small_kb: Settings, index_embedder: OnnxEmbedder
) -> None:
    (small_kb.kb_dir / "empty-shop").mkdir()
    with pytest.raises(BrandFolderEmpty):
        ingest(small_kb, brand="empty-shop", embedder=index_embedder)
    assert not small_kb.resolved_chroma_path.exists()


def test_chunks_carry_brand_locale() -> None:
    from agent.config import Settings
    from agent.knowledge.ingest import prepare_brand

    prepared = prepare_brand(Settings(), "hearth-and-holly")
    locales = {chunk.metadata.get("locale") for chunk in prepared.chunks}
    assert locales == {"en-GB"}
