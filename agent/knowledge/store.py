"""The Chroma collection that contains the brand knowledge base, and search over it.

All brands share one collection, `aftercare-kb`, in cosine space. Each chunk's metadata
names its brand, document and type, and carries one boolean key per message kind it serves
(`kind_winback: true`), so a filter on one kind is a plain equality test.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.errors import ChromaError, NotFoundError
from pydantic import BaseModel, Field

from agent.config import Settings
from agent.domain import MessageKind, Source
from agent.knowledge.embeddings import ChromaOnnxEmbeddingFunction, OnnxEmbedder, default_embedder

logger = logging.getLogger(__name__)

COLLECTION_NAME = "aftercare-kb"
# Version of the chunk metadata layout. Changing it requires `aftercare kb ingest --rebuild`.
INDEX_SCHEMA = 1
REBUILD_HINT = "run `aftercare kb ingest --rebuild`"
UPSERT_BATCH = 256
# Files that a Chroma PersistentClient creates in its folder. Rebuilding an unreadable index
# deletes only these and the segment folders named by UUID.
_CHROMA_FILES = (
    "chroma.sqlite3",
    "chroma.sqlite3-wal",
    "chroma.sqlite3-shm",
    "chroma.sqlite3-journal",
)

MetadataValue = str | int | float | bool


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
) -> dict[str, Any]:
    """Compose a Chroma `where` filter; several conditions are joined with `$and`."""
    conditions: list[dict[str, Any]] = [{"brand": brand}]
    if kind is not None:
        conditions.append({kind_key(kind): True})
    if doc_types is not None:
        conditions.append({"doc_type": {"$in": list(doc_types)}})
    if families is not None:
        conditions.append({"family_id": {"$in": list(families)}})
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


class KnowledgeStore:
    """Search and maintenance over the knowledge-base collection. Close it when done."""

    def __init__(
        self, client: ClientAPI, collection: Collection, location: str, embedder: OnnxEmbedder
    ) -> None:
        self._client = client
        self._collection = collection
        self.location = location
        self.embedder = embedder

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
        k: int = 4,
    ) -> list[RetrievedChunk]:
        """Return up to `k` chunks of `brand` most similar to `query`, best first.

        An empty `doc_types` or `families` list matches nothing. Raises
        KnowledgeBaseNotIngested when the brand has no chunks at all.
        """
        if not query.strip():
            raise ValueError("the search query is empty; pass the text to search for")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k!r}")
        if doc_types == [] or families == []:
            return self._checked_empty(brand)

        where = build_where(brand=brand, kind=kind, doc_types=doc_types, families=families)
        with self._errors():
            result = self._collection.query(
                query_texts=[query],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        chunks = _chunks_from(result)
        return chunks if chunks else self._checked_empty(brand)

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

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with translate_errors(self.location, remote=_is_url(self.location)):
            yield


def _chunks_from(result: Any) -> list[RetrievedChunk]:
    ids = result["ids"][0] if result["ids"] else []
    documents = result["documents"][0] if result["documents"] else []
    metadatas = result["metadatas"][0] if result["metadatas"] else []
    distances = result["distances"][0] if result["distances"] else []
    chunks = []
    for chunk_id, text, metadata, distance in zip(
        ids, documents, metadatas, distances, strict=True
    ):
        meta = dict(metadata or {})
        chunks.append(
            RetrievedChunk(
                doc_id=str(meta.get("doc_id", "")),
                chunk_id=chunk_id,
                title=str(meta.get("title", "")),
                doc_type=str(meta.get("doc_type", "")),
                text=text or "",
                score=1.0 - float(distance),
                metadata=meta,
            )
        )
    return sorted(chunks, key=lambda chunk: chunk.score, reverse=True)


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
    return KnowledgeStore(client, collection, location, embedder)


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
    return KnowledgeStore(client, collection, location, embedder)


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
