"""Ingest the Markdown knowledge base into the Chroma collection.

Each document is split at its Markdown headings, and sections longer than CHUNK_SIZE
characters are split again. A chunk's id is `<brand>:<doc_id>:<index>`, so re-ingesting an
unchanged document yields the same ids. A document whose content hash is unchanged is not
embedded again, and a document without body text is skipped.

Only one ingest writes to an index at a time: it holds an exclusive file lock beside the
local index folder, or under `data_dir` for a Chroma server. Searches take no lock.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock, Timeout
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from agent.config import Settings
from agent.knowledge.brand import assemble_brand, brand_dir, list_brands
from agent.knowledge.connection import drop_index
from agent.knowledge.documents import ALL_KINDS, KnowledgeDocument, read_documents
from agent.knowledge.embeddings import OnnxEmbedder, default_embedder
from agent.knowledge.errors import KnowledgeStoreError
from agent.knowledge.metadata import MetadataValue, kind_key
from agent.knowledge.store import KnowledgeStore, open_or_create_store

logger = logging.getLogger(__name__)

CHUNK_SIZE = 800
CHUNK_OVERLAP = 100
HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
# Part of every document hash, so that changing the splitting re-embeds every document.
SPLITTER_VERSION = f"markdown-headers+recursive/{CHUNK_SIZE}/{CHUNK_OVERLAP}/v1"
# Seconds an ingest waits for another ingest of the same index to finish.
LOCK_TIMEOUT_S = 10.0
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9.-]+")


class IngestLocked(KnowledgeStoreError):
    """Another ingest holds the lock of the same index."""

    def __init__(self, lock_file: Path, timeout: float) -> None:
        self.lock_file = lock_file
        self.timeout = timeout
        super().__init__(
            f"another ingest is running: the lock file {str(lock_file)!r} is still held after "
            f"{timeout:g} s; wait for that ingest to finish and try again"
        )


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    text: str
    metadata: dict[str, MetadataValue]


@dataclass(frozen=True)
class PreparedBrand:
    """One brand's documents read, validated and split, before anything is written."""

    brand: str
    documents: list[KnowledgeDocument]
    chunks: list[Chunk]
    # Paths, relative to the kb folder, of the documents without body text.
    skipped: list[str]


@dataclass
class IngestReport:
    """Counts from one ingest. Fields named `documents_*` count documents, the others chunks."""

    # Documents and chunks in the index after the ingest, for the ingested brands.
    documents: int = 0
    chunks: int = 0
    brands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Chunks embedded and written in this run, because they are new or their document changed.
    embedded: int = 0
    # Chunks kept as they were, because their document is unchanged.
    unchanged: int = 0
    # Chunks removed because their document was deleted, emptied or now has fewer chunks, or
    # because `rebuild` removed a brand's chunks. A full rebuild drops the collection
    # without counting what it contained.
    deleted: int = 0
    documents_embedded: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    # Documents without body text: they add no chunks, but their front matter still counts.
    documents_skipped: int = 0
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest(
    settings: Settings,
    *,
    brand: str | None = None,
    rebuild: bool = False,
    embedder: OnnxEmbedder | None = None,
    lock_timeout: float = LOCK_TIMEOUT_S,
) -> IngestReport:
    """Ingest one brand, or every brand in `settings.kb_dir`, into the knowledge store.

    Every document is read and validated before the store is touched, so an invalid
    document (InvalidKnowledgeDocument, naming the file and the field) leaves the index
    as it was. `rebuild` drops the whole collection first when no brand is given, and only
    that brand's chunks otherwise. Raises BrandNotFound (BrandFolderEmpty for a folder
    without documents), and IngestLocked when another ingest holds the index's lock for
    longer than `lock_timeout` seconds.
    """
    started = time.perf_counter()
    brands = [brand] if brand else list_brands(settings.kb_dir)
    if not brands:
        brand_dir(settings.kb_dir, settings.default_brand)  # raises BrandNotFound
    prepared = [prepare_brand(settings, name) for name in brands]

    report = IngestReport(brands=brands)
    with ingest_lock(settings, lock_timeout):
        # NOTE: a full rebuild empties the index until it re-embeds every chunk, so searches
        # and drafts in that window fail with KnowledgeBaseNotIngested.
        if rebuild and brand is None:
            drop_index(settings)
        with open_or_create_store(settings, embedder=embedder or default_embedder()) as store:
            for batch in prepared:
                _sync_brand(store, batch, report, rebuild=rebuild and brand is not None)
            store.record_ingest(brands, datetime.now(UTC))
    report.seconds = round(time.perf_counter() - started, 3)
    _log_report(report)
    return report


def _log_report(report: IngestReport) -> None:
    logger.info(
        "ingested %s documents as %s chunks for %s in %.2fs: %s documents (%s chunks) "
        "embedded, %s (%s) unchanged, %s (%s) deleted, %s skipped as empty",
        report.documents,
        report.chunks,
        ", ".join(report.brands),
        report.seconds,
        report.documents_embedded,
        report.embedded,
        report.documents_unchanged,
        report.unchanged,
        report.documents_deleted,
        report.deleted,
        report.documents_skipped,
    )


# --- locking --------------------------------------------------------------------------


def ingest_lock_path(settings: Settings) -> Path:
    """Return the lock file that serialises ingests into the configured index.

    A local index `<folder>` is locked with `<folder>.ingest.lock` beside it. A Chroma
    server is locked with a file named after its host and port under `data_dir`.
    """
    if settings.chroma_url:
        parts = urlsplit(settings.chroma_url)
        name = _UNSAFE_FILENAME.sub("-", parts.netloc or "server").strip("-")
        return settings.data_dir.resolve() / f"chroma-{name}.ingest.lock"
    index = settings.resolved_chroma_path.resolve()
    return index.with_name(f"{index.name}.ingest.lock")


@contextmanager
def ingest_lock(settings: Settings, timeout: float = LOCK_TIMEOUT_S) -> Iterator[Path]:
    """Hold the exclusive ingest lock of the configured index; raise IngestLocked on timeout.

    The operating system releases the lock when the holding process exits, so a crashed
    ingest leaves no stale lock behind.
    """
    # NOTE: for a Chroma server the lock only serialises ingests that share this data_dir;
    # ingests from other machines into the same server are not excluded.
    path = ingest_lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        logger.info("the ingest lock %s is taken, waiting up to %g s for it", path, timeout)
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise IngestLocked(path, timeout) from exc
    try:
        yield path
    finally:
        lock.release()


# --- syncing --------------------------------------------------------------------------


def prepare_brand(settings: Settings, brand: str) -> PreparedBrand:
    """Read, validate and split every document of `brand`; log and skip empty documents."""
    documents = read_documents(brand_dir(settings.kb_dir, brand), brand)
    profile = assemble_brand(brand, documents)  # validates the brand before anything is written
    for document in documents:
        document.meta.locale = document.meta.locale or profile.locale
    chunks: list[Chunk] = []
    skipped: list[str] = []
    for document in documents:
        pieces = split_document(document)
        if not pieces:
            logger.warning("skipping %s: the document has no body text", document.path)
            skipped.append(f"{brand}/{document.relative_path}")
        chunks += pieces
    return PreparedBrand(brand, documents, chunks, skipped)


def prepare_chunks(settings: Settings, brand: str) -> tuple[list[KnowledgeDocument], list[Chunk]]:
    """Read, validate and split every document of `brand`."""
    prepared = prepare_brand(settings, brand)
    return prepared.documents, prepared.chunks


def _sync_brand(
    store: KnowledgeStore, prepared: PreparedBrand, report: IngestReport, *, rebuild: bool
) -> None:
    existing = store.brand_chunks(prepared.brand)
    if rebuild:
        store.delete(sorted(existing))
        report.deleted += len(existing)
        report.documents_deleted += len(_doc_ids(existing.values()))
        existing = {}

    current_ids = {chunk.chunk_id for chunk in prepared.chunks}
    stale = sorted(chunk_id for chunk_id in existing if chunk_id not in current_ids)
    changed = [c for c in prepared.chunks if _needs_write(c, existing.get(c.chunk_id))]
    store.delete(stale)
    _upsert(store, changed)
    _count(report, prepared, existing, changed, stale)


def _count(
    report: IngestReport,
    prepared: PreparedBrand,
    existing: dict[str, dict[str, MetadataValue]],
    changed: list[Chunk],
    stale: list[str],
) -> None:
    current_docs = _doc_ids(chunk.metadata for chunk in prepared.chunks)
    changed_docs = _doc_ids(chunk.metadata for chunk in changed)
    report.documents += len(current_docs)
    report.chunks += len(prepared.chunks)
    report.embedded += len(changed)
    report.unchanged += len(prepared.chunks) - len(changed)
    report.deleted += len(stale)
    report.documents_embedded += len(changed_docs)
    report.documents_unchanged += len(current_docs - changed_docs)
    report.documents_deleted += len(_doc_ids(existing.values()) - current_docs)
    report.documents_skipped += len(prepared.skipped)
    report.skipped += prepared.skipped


def _doc_ids(metadatas: Any) -> set[str]:
    return {str(metadata["doc_id"]) for metadata in metadatas}


def _needs_write(chunk: Chunk, stored: dict[str, MetadataValue] | None) -> bool:
    return stored is None or stored.get("doc_hash") != chunk.metadata["doc_hash"]


def _upsert(store: KnowledgeStore, chunks: list[Chunk]) -> None:
    store.upsert(
        [chunk.chunk_id for chunk in chunks],
        [chunk.text for chunk in chunks],
        [chunk.metadata for chunk in chunks],
    )


# --- splitting ------------------------------------------------------------------------


def split_document(document: KnowledgeDocument) -> list[Chunk]:
    """Split a document into chunks that carry its front matter as metadata."""
    base = document_metadata(document)
    chunks = []
    for index, (heading, text) in enumerate(_sections(document)):
        metadata = dict(base, chunk_index=index, section=heading)
        chunk_id = f"{document.brand}:{document.meta.doc_id}:{index}"
        chunks.append(Chunk(chunk_id, f"{heading}\n\n{text}" if heading else text, metadata))
    return chunks


def _sections(document: KnowledgeDocument) -> list[tuple[str, str]]:
    header_splitter = MarkdownHeaderTextSplitter(HEADERS, strip_headers=True)
    text_splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
    )
    sections = []
    for section in header_splitter.split_text(_body_with_tips(document)):
        heading = " > ".join(section.metadata[key] for _, key in HEADERS if key in section.metadata)
        content = section.page_content.replace("  \n", "\n\n").strip()
        for piece in text_splitter.split_text(content):
            sections.append((heading or document.meta.title, piece))
    return sections


def _body_with_tips(document: KnowledgeDocument) -> str:
    """Return the body, with the front-matter `tips` appended as a section when present."""
    tips = document.fields.get("tips")
    if not tips:
        return document.body
    lines = "\n".join(f"- {tip}" for tip in tips)
    return f"{document.body.rstrip()}\n\n## Care tips\n\n{lines}\n"


def document_metadata(document: KnowledgeDocument) -> dict[str, MetadataValue]:
    meta = document.meta
    kinds = meta.served_kinds()
    metadata: dict[str, MetadataValue] = {
        "brand": document.brand,
        "doc_id": meta.doc_id,
        "title": meta.title,
        "doc_type": meta.doc_type,
        "kinds": ALL_KINDS if meta.kinds == ALL_KINDS else ",".join(k.value for k in kinds),
        "source": document.relative_path,
        "doc_hash": _document_hash(document),
    }
    if meta.locale:
        metadata["locale"] = meta.locale
    metadata.update({kind_key(kind): True for kind in kinds})
    topics = meta.topic_keys()
    if topics:
        # Chroma rejects an empty list as a metadata value, so a document without topics
        # has no `topics` key.
        metadata["topics"] = topics
    family_id = document.fields.get("family_id")
    if isinstance(family_id, str):
        metadata["family_id"] = family_id
    return metadata


def _document_hash(document: KnowledgeDocument) -> str:
    digest = hashlib.sha256(SPLITTER_VERSION.encode())
    digest.update(document.path.read_bytes())
    # The locale may come from the brand, so a brand-wide change re-embeds every document.
    digest.update((document.meta.locale or "").encode())
    return digest.hexdigest()[:32]
