"""Ingest the Markdown knowledge base into the Chroma collection.

Each document is split at its Markdown headings, and sections longer than CHUNK_SIZE
characters are split again. A chunk's id is `<brand>:<doc_id>:<index>`, so re-ingesting an
unchanged document yields the same ids. A document whose content hash is unchanged is not
embedded again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from agent.config import Settings
from agent.knowledge.brand import assemble_brand, brand_dir, list_brands
from agent.knowledge.documents import ALL_KINDS, KnowledgeDocument, read_documents
from agent.knowledge.embeddings import OnnxEmbedder, default_embedder
from agent.knowledge.store import (
    KnowledgeStore,
    MetadataValue,
    drop_index,
    kind_key,
    open_or_create_store,
)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 800
CHUNK_OVERLAP = 100
HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
# Part of every document hash, so that changing the splitting re-embeds every document.
SPLITTER_VERSION = f"markdown-headers+recursive/{CHUNK_SIZE}/{CHUNK_OVERLAP}/v1"


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    text: str
    metadata: dict[str, MetadataValue]


@dataclass
class IngestReport:
    documents: int = 0
    chunks: int = 0
    brands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Chunks embedded and written in this run. Chunks of unchanged documents are skipped.
    embedded: int = 0
    # Chunks removed because their document was deleted or now has fewer chunks.
    deleted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest(
    settings: Settings,
    *,
    brand: str | None = None,
    rebuild: bool = False,
    embedder: OnnxEmbedder | None = None,
) -> IngestReport:
    """Ingest one brand, or every brand in `settings.kb_dir`, into the knowledge store.

    Every document is read and validated before the store is touched, so an invalid
    document (InvalidKnowledgeDocument, naming the file and the field) leaves the index
    as it was. `rebuild` drops the whole collection first when no brand is given, and only
    that brand's chunks otherwise.
    """
    started = time.perf_counter()
    brands = [brand] if brand else list_brands(settings.kb_dir)
    if not brands:
        brand_dir(settings.kb_dir, settings.default_brand)  # raises BrandNotFound
    prepared = {name: prepare_chunks(settings, name) for name in brands}

    if rebuild and brand is None:
        drop_index(settings)
    report = IngestReport(brands=brands)
    with open_or_create_store(settings, embedder=embedder or default_embedder()) as store:
        for name, (documents, chunks) in prepared.items():
            if rebuild and brand is not None:
                report.deleted += _delete_brand(store, name)
            _sync_brand(store, name, chunks, report)
            report.documents += len(documents)
            report.chunks += len(chunks)
    report.seconds = round(time.perf_counter() - started, 3)
    logger.info(
        "ingested %s documents as %s chunks for %s in %.2fs (%s embedded, %s deleted)",
        report.documents,
        report.chunks,
        ", ".join(brands),
        report.seconds,
        report.embedded,
        report.deleted,
    )
    return report


def prepare_chunks(settings: Settings, brand: str) -> tuple[list[KnowledgeDocument], list[Chunk]]:
    """Read, validate and split every document of `brand`."""
    documents = read_documents(brand_dir(settings.kb_dir, brand), brand)
    assemble_brand(brand, documents)  # validates the brand fields before anything is written
    chunks = [chunk for document in documents for chunk in split_document(document)]
    return documents, chunks


def _sync_brand(
    store: KnowledgeStore, brand: str, chunks: list[Chunk], report: IngestReport
) -> None:
    existing = store.brand_chunks(brand)
    current_ids = {chunk.chunk_id for chunk in chunks}
    stale = sorted(chunk_id for chunk_id in existing if chunk_id not in current_ids)
    changed = [chunk for chunk in chunks if _needs_write(chunk, existing.get(chunk.chunk_id))]
    store.delete(stale)
    _upsert(store, changed)
    report.deleted += len(stale)
    report.embedded += len(changed)


def _needs_write(chunk: Chunk, stored: dict[str, MetadataValue] | None) -> bool:
    return stored is None or stored.get("doc_hash") != chunk.metadata["doc_hash"]


def _upsert(store: KnowledgeStore, chunks: list[Chunk]) -> None:
    store.upsert(
        [chunk.chunk_id for chunk in chunks],
        [chunk.text for chunk in chunks],
        [chunk.metadata for chunk in chunks],
    )


def _delete_brand(store: KnowledgeStore, brand: str) -> int:
    ids = sorted(store.brand_chunks(brand))
    store.delete(ids)
    return len(ids)


# --- splitting ------------------------------------------------------------------------


def split_document(document: KnowledgeDocument) -> list[Chunk]:
    """Split a document into chunks that carry its front matter as metadata."""
    base = document_metadata(document)
    chunks = []
    for index, (heading, text) in enumerate(_sections(document)):
        metadata = dict(base, chunk_index=index, section=heading)
        chunk_id = f"{document.brand}:{document.meta.doc_id}:{index}"
        chunks.append(Chunk(chunk_id, f"{heading}\n\n{text}" if heading else text, metadata))
    if not chunks:
        logger.debug("document %s has no body text and yields no chunks", document.path)
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
        "topics": ", ".join(meta.topics),
        "kinds": ALL_KINDS if meta.kinds == ALL_KINDS else ",".join(k.value for k in kinds),
        "source": document.relative_path,
        "doc_hash": _document_hash(document),
    }
    metadata.update({kind_key(kind): True for kind in kinds})
    family_id = document.fields.get("family_id")
    if isinstance(family_id, str):
        metadata["family_id"] = family_id
    return metadata


def _document_hash(document: KnowledgeDocument) -> str:
    digest = hashlib.sha256(SPLITTER_VERSION.encode())
    digest.update(document.path.read_bytes())
    return digest.hexdigest()[:32]
