"""Chroma client creation, error translation, and access to the knowledge-base collection.

Opening the collection checks that it was built with the current embedding model and chunk
layout. Dropping a local index that Chroma cannot read removes its files one by one.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.errors import ChromaError, NotFoundError

from agent.config import Settings
from agent.knowledge.embeddings import ChromaOnnxEmbeddingFunction, OnnxEmbedder
from agent.knowledge.errors import (
    REBUILD_HINT,
    EmbeddingModelMismatch,
    InvalidChromaUrl,
    KnowledgeBaseCorrupt,
    KnowledgeStoreError,
    KnowledgeStoreUnavailable,
)
from agent.knowledge.metadata import INDEX_SCHEMA, MetadataValue

logger = logging.getLogger(__name__)

COLLECTION_NAME = "aftercare-kb"
# Files that a Chroma PersistentClient creates in its folder. Rebuilding an unreadable index
# deletes only these and the segment folders named by UUID.
CHROMA_FILES = (
    "chroma.sqlite3",
    "chroma.sqlite3-wal",
    "chroma.sqlite3-shm",
    "chroma.sqlite3-journal",
)


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


@contextmanager
def translate_errors(location: str, *, remote: bool) -> Iterator[None]:
    """Turn Chroma and transport errors into the typed errors of `agent.knowledge.errors`."""
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


def get_collection(client: ClientAPI, location: str, embedder: OnnxEmbedder) -> Collection:
    """Return the existing collection after checking its model, or raise NotFoundError."""
    remote = is_url(location)
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


def get_or_create_collection(
    client: ClientAPI, location: str, embedder: OnnxEmbedder
) -> Collection:
    """Open the collection after checking its model, creating it for `embedder` if missing."""
    try:
        return get_collection(client, location, embedder)
    except NotFoundError:
        logger.info("creating the knowledge-base collection in %s", location)
    with translate_errors(location, remote=is_url(location)):
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
    for name in CHROMA_FILES:
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
