"""The Chroma collection that contains the brand knowledge base, and search over it.

All brands share one collection, `aftercare-kb`, in cosine space. Each chunk's metadata
names its brand, document and type, and carries one boolean key per message kind it serves
(`kind_winback: true`), so a filter on one kind is a plain equality test. The document's
topics are a list (`topics: ["delivery", "returns"]`), matched with Chroma's `$contains`.
The collection metadata records the embedding model and, per brand, the time of the last
ingest.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.errors import ChromaError, NotFoundError
from pydantic import BaseModel, Field

from agent.config import Settings
from agent.domain import MessageKind, Source
from agent.knowledge.documents import normalise_topic
from agent.knowledge.embeddings import ChromaOnnxEmbeddingFunction, OnnxEmbedder, default_embedder

logger = logging.getLogger(__name__)

COLLECTION_NAME = "aftercare-kb"
# Version of the chunk metadata layout. Changing it requires `aftercare kb ingest --rebuild`.
# Version 2 stores `topics` as a list instead of one comma-separated string.
INDEX_SCHEMA = 2
REBUILD_HINT = "run `aftercare kb ingest --rebuild`"
UPSERT_BATCH = 256
# Rows read per request when scanning the whole collection.
SCAN_BATCH = 1000
# Maximal marginal relevance picks `k` chunks from `MMR_FETCH_FACTOR * k` nearest candidates.
MMR_FETCH_FACTOR = 4
DEFAULT_MIN_SCORE: float = Settings.model_fields["retrieval_min_score"].default
DEFAULT_MMR_LAMBDA: float = Settings.model_fields["retrieval_mmr_lambda"].default
# Collection metadata key prefix for the time of a brand's last ingest, as ISO 8601 in UTC.
INGESTED_AT_PREFIX = "ingested_at:"
# Files that a Chroma PersistentClient creates in its folder. Rebuilding an unreadable index
# deletes only these and the segment folders named by UUID.
_CHROMA_FILES = (
    "chroma.sqlite3",
    "chroma.sqlite3-wal",
    "chroma.sqlite3-shm",
    "chroma.sqlite3-journal",
)

MetadataValue = str | int | float | bool | list[str]


class KnowledgeStoreError(RuntimeError):
    """Base class for knowledge-store failures."""


class KnowledgeBaseNotIngested(KnowledgeStoreError):
    """The index has no chunks, or none for the requested brand."""

    def __init__(self, location: str, brand: str | None = None) -> None:
        self.location = location
        self.brand = brand
        subject = f"the knowledge base for brand {brand!r}" if brand else "the knowledge base"
        super().__init__(f"{subject} has no documents in {location}; run `aftercare kb ingest`")


class EmbeddingModelMismatch(KnowledgeStoreError):
    """The index was built with another embedding model than the one this build uses."""

    def __init__(self, location: str, stored: str, current: str) -> None:
        self.location = location
        self.stored = stored
        self.current = current
        super().__init__(
            f"the knowledge-base index in {location} was built with the embedding model "
            f"{stored!r}, but this build embeds with {current!r}; {REBUILD_HINT}"
        )


class KnowledgeBaseCorrupt(KnowledgeStoreError):
    """The Chroma files exist but cannot be read."""

    def __init__(self, location: str, detail: str) -> None:
        self.location = location
        super().__init__(
            f"the knowledge-base index in {location} cannot be read ({detail}); {REBUILD_HINT}"
        )


class KnowledgeStoreUnavailable(KnowledgeStoreError):
    """The Chroma server at `chroma_url` cannot be reached."""

    def __init__(self, location: str, detail: str) -> None:
        self.location = location
        super().__init__(
            f"cannot reach the Chroma server at {location} ({detail}); start it or unset "
            "AFTERCARE_CHROMA_URL to use the local index"
        )


class InvalidChromaUrl(KnowledgeStoreError, ValueError):
    """`chroma_url` is not an http(s) URL with a host."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"AFTERCARE_CHROMA_URL {url!r} is not an http(s) URL; use a form such as "
            "http://127.0.0.1:8000, or unset it to use the local index"
        )


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


def kind_key(kind: MessageKind | str) -> str:
    """Return the boolean metadata key that marks chunks serving `kind`."""
    return f"kind_{MessageKind(kind).value}"


def build_where(
    *,
    brand: str,
    kind: MessageKind | None = None,
    doc_types: list[str] | None = None,
    families: list[str] | None = None,
    topics: list[str] | None = None,
) -> dict[str, Any]:
    """Compose a Chroma `where` filter; several conditions are joined with `$and`.

    A chunk matches `doc_types`, `families` or `topics` when it has any of the listed values.
    Topics are compared in their normalised form (see `normalise_topic`).
    """
    conditions: list[dict[str, Any]] = [{"brand": brand}]
    if kind is not None:
        conditions.append({kind_key(kind): True})
    if doc_types is not None:
        conditions.append({"doc_type": {"$in": list(doc_types)}})
    if families is not None:
        conditions.append({"family_id": {"$in": list(families)}})
    if topics is not None:
        conditions.append(_topics_condition(topics))
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _topics_condition(topics: list[str]) -> dict[str, Any]:
    keys = list(dict.fromkeys(normalise_topic(topic) for topic in topics))
    matches: list[dict[str, Any]] = [{"topics": {"$contains": key}} for key in keys]
    return matches[0] if len(matches) == 1 else {"$or": matches}


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
        with translate_errors(self.location, remote=_is_url(self.location)):
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


def mmr_select(query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Return the row indices of up to `k` candidates in maximal marginal relevance order.

    Each step picks the candidate that maximises
    `lambda_mult * sim(query, c) - (1 - lambda_mult) * max(sim(c, s) for s already picked)`,
    with cosine similarity. Ties go to the lower index, that is the nearer candidate.
    """
    vectors = _unit_rows(np.atleast_2d(np.asarray(candidates, dtype=np.float32)))
    target = _unit_rows(np.atleast_2d(np.asarray(query, dtype=np.float32)))[0]
    relevance = vectors @ target
    similarity = vectors @ vectors.T
    chosen = [int(np.argmax(relevance))]
    redundancy = similarity[chosen[0]].copy()
    while len(chosen) < min(k, len(vectors)):
        scores = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        scores[chosen] = -np.inf
        best = int(np.argmax(scores))
        chosen.append(best)
        redundancy = np.maximum(redundancy, similarity[best])
    return chosen


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)


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


# --- connecting -----------------------------------------------------------------------


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


@contextmanager
def translate_errors(location: str, *, remote: bool) -> Iterator[None]:
    """Turn Chroma and transport errors into the typed errors of this module."""
    try:
        yield
    except NotFoundError:
        raise
    except httpx.HTTPError as exc:
        raise KnowledgeStoreUnavailable(location, str(exc) or type(exc).__name__) from exc
    except ChromaError as exc:
        if remote:
            raise KnowledgeStoreError(
                f"the Chroma server at {location} reported an error ({exc}); check its logs"
            ) from exc
        raise KnowledgeBaseCorrupt(location, str(exc)) from exc


def chroma_location(settings: Settings) -> str:
    """Return the Chroma server URL, or the folder of the local index, as text."""
    if settings.chroma_url:
        return settings.chroma_url
    return str(settings.resolved_chroma_path.resolve())


def connect(settings: Settings) -> ClientAPI:
    """Return a Chroma client for the server at `chroma_url`, or for the local folder."""
    if settings.chroma_url:
        return _connect_http(settings.chroma_url)
    return _connect_local(settings.resolved_chroma_path.resolve())


def _chroma_settings() -> chromadb.config.Settings:
    return chromadb.config.Settings(anonymized_telemetry=False)


def _connect_http(url: str) -> ClientAPI:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidChromaUrl(url)
    ssl = parts.scheme == "https"
    port = parts.port or (443 if ssl else 8000)
    try:
        return chromadb.HttpClient(
            host=parts.hostname, port=port, ssl=ssl, settings=_chroma_settings()
        )
    except (ValueError, httpx.HTTPError) as exc:
        raise KnowledgeStoreUnavailable(url, str(exc)) from exc


def _connect_local(path: Path) -> ClientAPI:
    try:
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
    except ChromaError as exc:
        _forget_failed_system(path)
        raise KnowledgeBaseCorrupt(str(path), str(exc)) from exc


def _forget_failed_system(path: Path) -> None:
    # NOTE: chromadb 1.5.9 caches a client's System per folder before starting it, and
    # keeps the cached System when the start fails. Without removing it, the next client
    # for the same folder fails with an AttributeError instead of the real error.
    systems = getattr(SharedSystemClient, "_identifier_to_system", None)
    if isinstance(systems, dict):
        systems.pop(str(path), None)


def _collection_metadata(embedder: OnnxEmbedder) -> dict[str, MetadataValue]:
    return {
        "embedding_model": embedder.model_name,
        "embedding_dimension": embedder.dimension,
        "index_schema": INDEX_SCHEMA,
    }


def _check_model(collection: Collection, location: str, embedder: OnnxEmbedder) -> None:
    metadata = collection.metadata or {}
    stored_model = str(metadata.get("embedding_model", "unknown"))
    stored_dimension = metadata.get("embedding_dimension")
    if stored_model != embedder.model_name or stored_dimension != embedder.dimension:
        raise EmbeddingModelMismatch(
            location,
            f"{stored_model} ({stored_dimension} dimensions)",
            f"{embedder.model_name} ({embedder.dimension} dimensions)",
        )
    if metadata.get("index_schema") != INDEX_SCHEMA:
        stored_schema = metadata.get("index_schema")
        raise KnowledgeStoreError(
            f"the knowledge-base index in {location} uses chunk layout {stored_schema!r} "
            f"but this build expects {INDEX_SCHEMA}; {REBUILD_HINT}"
        )


def _get_collection(client: ClientAPI, location: str, embedder: OnnxEmbedder) -> Collection:
    """Return the existing collection after checking its model, or raise NotFoundError."""
    remote = _is_url(location)
    with translate_errors(location, remote=remote):
        # Read the metadata without an embedding function first, so that a collection made
        # with another function fails the model check below instead of inside Chroma.
        raw = client.get_collection(COLLECTION_NAME, embedding_function=None)
        _check_model(raw, location, embedder)
        function = ChromaOnnxEmbeddingFunction(embedder)
        try:
            return client.get_collection(COLLECTION_NAME, embedding_function=function)
        except ValueError as exc:
            # Chroma rejects a function whose name differs from the one stored with the
            # collection.
            persisted = raw.configuration_json.get("embedding_function") or {}
            stored = str(persisted.get("name", "unknown"))
            raise EmbeddingModelMismatch(location, stored, function.name()) from exc


def open_store(settings: Settings, *, embedder: OnnxEmbedder | None = None) -> KnowledgeStore:
    """Open the ingested knowledge base for searching.

    Raises KnowledgeBaseNotIngested when there is no index, EmbeddingModelMismatch,
    KnowledgeBaseCorrupt or KnowledgeStoreUnavailable.
    """
    location = chroma_location(settings)
    if not settings.chroma_url and not (Path(location) / _CHROMA_FILES[0]).is_file():
        raise KnowledgeBaseNotIngested(location)
    embedder = embedder or default_embedder()
    client = connect(settings)
    try:
        collection = _get_collection(client, location, embedder)
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
        collection = _get_or_create(client, location, embedder)
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


def _get_or_create(client: ClientAPI, location: str, embedder: OnnxEmbedder) -> Collection:
    try:
        return _get_collection(client, location, embedder)
    except NotFoundError:
        logger.info("creating the knowledge-base collection in %s", location)
    with translate_errors(location, remote=_is_url(location)):
        return client.create_collection(
            COLLECTION_NAME,
            embedding_function=ChromaOnnxEmbeddingFunction(embedder),
            configuration={"hnsw": {"space": "cosine"}},
            metadata=_collection_metadata(embedder),
        )


def drop_index(settings: Settings) -> None:
    """Delete the knowledge-base collection, for every brand.

    A local index whose files cannot be opened is removed file by file instead, deleting only
    the files and folders that Chroma creates.
    """
    location = chroma_location(settings)
    if not settings.chroma_url and not Path(location).exists():
        return
    try:
        client = connect(settings)
    except KnowledgeBaseCorrupt:
        _remove_chroma_files(Path(location))
        return
    try:
        with translate_errors(location, remote=bool(settings.chroma_url)):
            client.delete_collection(COLLECTION_NAME)
        logger.info("dropped the knowledge-base collection in %s", location)
    except NotFoundError:
        logger.debug("no knowledge-base collection to drop in %s", location)
    except KnowledgeBaseCorrupt:
        client.close()
        _remove_chroma_files(Path(location))
        return
    client.close()


def _remove_chroma_files(folder: Path) -> None:
    logger.warning("removing the unreadable Chroma files in %s", folder)
    _forget_failed_system(folder)
    for name in _CHROMA_FILES:
        (folder / name).unlink(missing_ok=True)
    for child in folder.iterdir():
        if child.is_dir() and _is_uuid(child.name):
            shutil.rmtree(child)


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True
