"""The Chroma collection that contains the brand knowledge base, and search over it.

All brands share one collection, `aftercare-kb`, in cosine space. The collection metadata
records the embedding model and, per brand, the time of the last ingest. The chunk metadata
layout is described in `agent.knowledge.metadata`, and client and collection setup is in
`agent.knowledge.connection`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError
from pydantic import BaseModel, Field

from agent.config import Settings
from agent.domain import MessageKind, Source
from agent.knowledge.connection import (
    CHROMA_FILES,
    COLLECTION_NAME,
    chroma_location,
    connect,
    drop_index,
    get_collection,
    get_or_create_collection,
    is_url,
    translate_errors,
)
from agent.knowledge.embeddings import OnnxEmbedder, default_embedder
from agent.knowledge.errors import (
    EmbeddingModelMismatch,
    InvalidChromaUrl,
    KnowledgeBaseCorrupt,
    KnowledgeBaseNotIngested,
    KnowledgeStoreError,
    KnowledgeStoreUnavailable,
)
from agent.knowledge.metadata import INDEX_SCHEMA, MetadataValue, build_where, kind_key
from agent.knowledge.mmr import MMR_FETCH_FACTOR, mmr_select

__all__ = [
    "DEFAULT_MIN_SCORE",
    "DEFAULT_MMR_LAMBDA",
    "BrandStats",
    "IndexStats",
    "KnowledgeStore",
    "RetrievedChunk",
    "open_or_create_store",
    "open_store",
    # Re-exported from the modules that define them, for callers that import them from here.
    "COLLECTION_NAME",
    "INDEX_SCHEMA",
    "EmbeddingModelMismatch",
    "InvalidChromaUrl",
    "KnowledgeBaseCorrupt",
    "KnowledgeBaseNotIngested",
    "KnowledgeStoreError",
    "KnowledgeStoreUnavailable",
    "MetadataValue",
    "build_where",
    "drop_index",
    "kind_key",
    "mmr_select",
]

logger = logging.getLogger(__name__)

UPSERT_BATCH = 256
# Rows read per request when scanning the whole collection.
SCAN_BATCH = 1000
DEFAULT_MIN_SCORE: float = Settings.model_fields["retrieval_min_score"].default
DEFAULT_MMR_LAMBDA: float = Settings.model_fields["retrieval_mmr_lambda"].default
# Collection metadata key prefix for the time of a brand's last ingest, as ISO 8601 in UTC.
INGESTED_AT_PREFIX = "ingested_at:"


class RetrievedChunk(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    doc_type: str
    text: str
    score: float = Field(description="Cosine similarity to the query, higher meaning more similar.")
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)

    def to_source(self) -> Source:
        return Source(
            doc_id=self.doc_id,
            chunk_id=self.chunk_id,
            title=self.title,
            doc_type=self.doc_type,
            score=self.score,
        )


class BrandStats(BaseModel):
    brand: str
    documents: int
    chunks: int
    last_ingest: datetime | None = Field(
        default=None, description="When `aftercare kb ingest` last ran for the brand, in UTC."
    )


class IndexStats(BaseModel):
    location: str
    collection: str
    embedding_model: str
    embedding_dimension: int
    index_schema: int
    chunks: int
    brands: list[BrandStats]


class KnowledgeStore:
    """Search and maintenance over the knowledge-base collection. Close it when done.

    `min_score` and `mmr_lambda` are the defaults of `search`, normally taken from the
    settings `retrieval_min_score` and `retrieval_mmr_lambda`.
    """

    def __init__(
        self,
        client: ClientAPI,
        collection: Collection,
        location: str,
        embedder: OnnxEmbedder,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        mmr_lambda: float = DEFAULT_MMR_LAMBDA,
    ) -> None:
        self._client = client
        self._collection = collection
        self.location = location
        self.embedder = embedder
        self.min_score = min_score
        self.mmr_lambda = mmr_lambda

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def search(
        self,
        query: str,
        *,
        brand: str,
        kind: MessageKind | None = None,
        doc_types: list[str] | None = None,
        families: list[str] | None = None,
        topics: list[str] | None = None,
        k: int = 4,
        mmr: bool = True,
        min_score: float | None = None,
    ) -> list[RetrievedChunk]:
        """Return up to `k` chunks of `brand` similar to `query`, best score first.

        Only chunks whose cosine similarity is at least `min_score` (the store's `min_score`
        when None) are returned, so the result may be shorter than `k` or empty. With `mmr`,
        the chunks are picked by maximal marginal relevance among the `MMR_FETCH_FACTOR * k`
        nearest ones, so near-duplicates give way to chunks that add something new.

        An empty `doc_types`, `families` or `topics` list matches nothing. Raises
        KnowledgeBaseNotIngested when the brand has no chunks at all.
        """
        _check_search(query, k)
        if doc_types == [] or families == [] or topics == []:
            return self._checked_empty(brand)

        where = build_where(
            brand=brand, kind=kind, doc_types=doc_types, families=families, topics=topics
        )
        vector = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        candidates = self._nearest(vector, where, k * MMR_FETCH_FACTOR if mmr else k, mmr)
        if not candidates:
            return self._checked_empty(brand)

        threshold = self.min_score if min_score is None else min_score
        passing = [candidate for candidate in candidates if candidate[0].score >= threshold]
        if not passing:
            logger.debug("no chunk of brand %s scored at least %.2f", brand, threshold)
            return []
        chosen = self._diversify(vector, passing, k) if mmr else [c for c, _ in passing[:k]]
        return sorted(chosen, key=lambda chunk: (-chunk.score, chunk.chunk_id))

    def _diversify(
        self, vector: np.ndarray, candidates: list[tuple[RetrievedChunk, np.ndarray | None]], k: int
    ) -> list[RetrievedChunk]:
        vectors = np.stack([candidate_vector for _, candidate_vector in candidates])
        order = mmr_select(vector, vectors, k, self.mmr_lambda)
        return [candidates[index][0] for index in order]

    def _nearest(
        self, vector: np.ndarray, where: dict[str, Any], n_results: int, with_embeddings: bool
    ) -> list[tuple[RetrievedChunk, np.ndarray | None]]:
        include: list[str] = ["documents", "metadatas", "distances"]
        if with_embeddings:
            include.append("embeddings")
        with self._errors():
            result = self._collection.query(
                query_embeddings=[vector],
                n_results=n_results,
                where=where,
                include=include,
            )
        return _candidates_from(result)

    def _checked_empty(self, brand: str) -> list[RetrievedChunk]:
        if self.count(brand) == 0:
            raise KnowledgeBaseNotIngested(self.location, brand)
        return []

    def count(self, brand: str | None = None) -> int:
        """Return the number of chunks, for one brand or for all of them."""
        with self._errors():
            if brand is None:
                return self._collection.count()
            return len(self._collection.get(where={"brand": brand}, include=[])["ids"])

    def brand_chunks(self, brand: str) -> dict[str, dict[str, MetadataValue]]:
        """Return the metadata of every chunk of `brand`, keyed by chunk id."""
        with self._errors():
            result = self._collection.get(where={"brand": brand}, include=["metadatas"])
        metadatas = result["metadatas"] or []
        return {
            chunk_id: dict(metadata or {})
            for chunk_id, metadata in zip(result["ids"], metadatas, strict=True)
        }

    def upsert(
        self, ids: list[str], texts: list[str], metadatas: list[dict[str, MetadataValue]]
    ) -> None:
        """Embed and write chunks, UPSERT_BATCH at a time to bound memory and request size."""
        for start in range(0, len(ids), UPSERT_BATCH):
            end = start + UPSERT_BATCH
            with self._errors():
                self._collection.upsert(
                    ids=ids[start:end], documents=texts[start:end], metadatas=metadatas[start:end]
                )

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        with self._errors():
            self._collection.delete(ids=ids)

    def record_ingest(self, brands: list[str], at: datetime) -> None:
        """Store `at` as the time of the last ingest of each of `brands`."""
        metadata = dict(self._collection.metadata or {})
        metadata.update({INGESTED_AT_PREFIX + brand: at.isoformat() for brand in brands})
        with self._errors():
            self._collection.modify(metadata=metadata)

    def stats(self) -> IndexStats:
        """Count the documents and chunks of every brand in the index."""
        documents: dict[str, set[str]] = {}
        chunks: dict[str, int] = {}
        for metadata in self._scan_metadata():
            brand = str(metadata.get("brand", ""))
            documents.setdefault(brand, set()).add(str(metadata.get("doc_id", "")))
            chunks[brand] = chunks.get(brand, 0) + 1
        metadata = dict(self._collection.metadata or {})
        ingested = _ingest_times(metadata)
        brands = [
            BrandStats(
                brand=brand,
                documents=len(documents.get(brand, ())),
                chunks=chunks.get(brand, 0),
                last_ingest=ingested.get(brand),
            )
            for brand in sorted(set(documents) | set(ingested))
        ]
        return IndexStats(
            location=self.location,
            collection=COLLECTION_NAME,
            embedding_model=str(metadata.get("embedding_model", "unknown")),
            embedding_dimension=int(metadata.get("embedding_dimension", 0)),
            index_schema=int(metadata.get("index_schema", 0)),
            chunks=sum(chunks.values()),
            brands=brands,
        )

    def _scan_metadata(self) -> Iterator[dict[str, MetadataValue]]:
        offset = 0
        while True:
            with self._errors():
                page = self._collection.get(include=["metadatas"], limit=SCAN_BATCH, offset=offset)
            metadatas = page["metadatas"] or []
            for metadata in metadatas:
                yield dict(metadata or {})
            if len(metadatas) < SCAN_BATCH:
                return
            offset += SCAN_BATCH

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with translate_errors(self.location, remote=is_url(self.location)):
            yield


def _check_search(query: str, k: int) -> None:
    if not query.strip():
        raise ValueError("the search query is empty; pass the text to search for")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")


def _ingest_times(metadata: dict[str, Any]) -> dict[str, datetime]:
    times = {}
    for key, value in metadata.items():
        if key.startswith(INGESTED_AT_PREFIX) and isinstance(value, str):
            try:
                times[key.removeprefix(INGESTED_AT_PREFIX)] = datetime.fromisoformat(value)
            except ValueError:
                logger.warning("ignoring the unreadable ingest time %r of key %s", value, key)
    return times


def _candidates_from(result: Any) -> list[tuple[RetrievedChunk, np.ndarray | None]]:
    """Turn one query's result into (chunk, embedding) pairs, nearest first."""
    ids = result["ids"][0] if result["ids"] else []
    documents = result["documents"][0] if result["documents"] else []
    metadatas = result["metadatas"][0] if result["metadatas"] else []
    distances = result["distances"][0] if result["distances"] else []
    embeddings = result.get("embeddings")
    vectors = list(embeddings[0]) if embeddings is not None and len(embeddings) else []
    vectors += [None] * (len(ids) - len(vectors))
    candidates = []
    for chunk_id, text, metadata, distance, vector in zip(
        ids, documents, metadatas, distances, vectors, strict=True
    ):
        chunk = _chunk(chunk_id, text, dict(metadata or {}), 1.0 - float(distance))
        candidates.append((chunk, None if vector is None else np.asarray(vector, np.float32)))
    return sorted(candidates, key=lambda candidate: candidate[0].score, reverse=True)


def _chunk(chunk_id: str, text: str | None, meta: dict[str, Any], score: float) -> RetrievedChunk:
    return RetrievedChunk(
        doc_id=str(meta.get("doc_id", "")),
        chunk_id=chunk_id,
        title=str(meta.get("title", "")),
        doc_type=str(meta.get("doc_type", "")),
        text=text or "",
        score=score,
        metadata=meta,
    )


# --- opening ------------------------------------------------------------------------


def open_store(settings: Settings, *, embedder: OnnxEmbedder | None = None) -> KnowledgeStore:
    """Open the ingested knowledge base for searching.

    Raises KnowledgeBaseNotIngested when there is no index, EmbeddingModelMismatch,
    KnowledgeBaseCorrupt or KnowledgeStoreUnavailable.
    """
    location = chroma_location(settings)
    if not settings.chroma_url and not (Path(location) / CHROMA_FILES[0]).is_file():
        raise KnowledgeBaseNotIngested(location)
    embedder = embedder or default_embedder()
    client = connect(settings)
    try:
        collection = get_collection(client, location, embedder)
    except NotFoundError as exc:
        client.close()
        raise KnowledgeBaseNotIngested(location) from exc
    except BaseException:
        client.close()
        raise
    return _store(settings, client, collection, location, embedder)


def open_or_create_store(
    settings: Settings, *, embedder: OnnxEmbedder | None = None
) -> KnowledgeStore:
    """Open the knowledge-base collection for writing, creating it when it does not exist."""
    location = chroma_location(settings)
    embedder = embedder or default_embedder()
    client = connect(settings)
    try:
        collection = get_or_create_collection(client, location, embedder)
    except BaseException:
        client.close()
        raise
    return _store(settings, client, collection, location, embedder)


def _store(
    settings: Settings,
    client: ClientAPI,
    collection: Collection,
    location: str,
    embedder: OnnxEmbedder,
) -> KnowledgeStore:
    return KnowledgeStore(
        client,
        collection,
        location,
        embedder,
        min_score=settings.retrieval_min_score,
        mmr_lambda=settings.retrieval_mmr_lambda,
    )
