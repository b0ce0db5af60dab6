"""One writer at a time: ingest holds a file lock, searches keep working meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from agent.config import Settings
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.errors import KnowledgeBaseCorrupt
from agent.knowledge.ingest import IngestLocked, IngestReport, ingest, ingest_lock_path
from agent.knowledge.store import open_store
from tests.knowledge.conftest import BRAND, make_settings

# Seconds a test waits for the other thread before it fails; never a timing assertion.
THREAD_WAIT_S = 60.0


class BlockingEmbedder(OnnxEmbedder):
    """Another embedder's vectors, embedding only after `release` is set."""

    def __init__(self, inner: OnnxEmbedder) -> None:
        self._inner = inner
        self.threads = inner.threads
        self.batch_size = inner.batch_size
        self.started = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.started.set()
        if not self.release.wait(THREAD_WAIT_S):
            raise TimeoutError("the test never released the blocked ingest")
        return self._inner.embed(texts)


class IngestThread(threading.Thread):
    def __init__(self, settings: Settings, embedder: BlockingEmbedder) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.embedder = embedder
        self.report: IngestReport | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.report = ingest(self.settings, embedder=self.embedder)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc


@pytest.fixture
def blocked_ingest(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> Iterator[tuple[Settings, IngestThread]]:
    """An ingest in another thread that holds the lock, stopped at its first embedding."""
    settings, _ = small_ingested
    path = settings.kb_dir / BRAND / "delivery-returns.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n## Gifts\n\nGift notes.\n", "utf-8")
    embedder = BlockingEmbedder(index_embedder)
    thread = IngestThread(settings, embedder)
    thread.start()
    if not embedder.started.wait(THREAD_WAIT_S):
        embedder.release.set()
        pytest.fail(f"the ingest thread did not start embedding: {thread.error!r}")
    yield settings, thread
    embedder.release.set()
    thread.join(THREAD_WAIT_S)


def test_second_ingest_names_lock_file(
    blocked_ingest: tuple[Settings, IngestThread], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = blocked_ingest
    with pytest.raises(IngestLocked) as caught:
        ingest(settings, embedder=index_embedder, lock_timeout=0.2)
    message = str(caught.value)
    assert caught.value.lock_file == ingest_lock_path(settings)
    assert str(ingest_lock_path(settings)) in message
    assert "another ingest is running" in message


def test_search_works_during_ingest(
    blocked_ingest: tuple[Settings, IngestThread], index_embedder: OnnxEmbedder
) -> None:
    settings, thread = blocked_ingest
    found: list[str] = []

    def search() -> None:
        with open_store(settings, embedder=index_embedder) as store:
            chunks = store.search("how full should I fill a hot water bottle", brand=BRAND, k=2)
        found.extend(chunk.doc_id for chunk in chunks)

    reader = threading.Thread(target=search, daemon=True)
    reader.start()
    reader.join(THREAD_WAIT_S)
    assert not reader.is_alive()
    assert thread.is_alive()
    assert found[0] == "guide-textiles-and-warmers"


def test_blocked_ingest_finishes_after_release(
    blocked_ingest: tuple[Settings, IngestThread],
) -> None:
    settings, thread = blocked_ingest
    thread.embedder.release.set()
    thread.join(THREAD_WAIT_S)
    assert thread.error is None
    assert thread.report is not None
    assert thread.report.documents_embedded == 1


def test_lock_released_after_ingest(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    lock = FileLock(ingest_lock_path(settings))
    lock.acquire(timeout=0)
    lock.release()
    assert ingest(settings, embedder=index_embedder, lock_timeout=0).documents_embedded == 0


def test_lock_released_after_failed_ingest(
    small_kb: Settings, index_embedder: OnnxEmbedder
) -> None:
    small_kb.resolved_chroma_path.mkdir(parents=True)
    (small_kb.resolved_chroma_path / "chroma.sqlite3").write_bytes(b"not sqlite" * 1000)
    with pytest.raises(KnowledgeBaseCorrupt):
        ingest(small_kb, embedder=index_embedder)
    lock = FileLock(ingest_lock_path(small_kb))
    lock.acquire(timeout=0)
    lock.release()


def test_local_lock_beside_index(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")
    assert ingest_lock_path(settings) == (tmp_path / "var" / "chroma.ingest.lock").resolve()


def test_server_lock_under_data_dir(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var").model_copy(
        update={"chroma_url": "http://127.0.0.1:8123"}
    )
    path = ingest_lock_path(settings)
    assert path.parent == (tmp_path / "var").resolve()
    assert path.name == "chroma-127.0.0.1-8123.ingest.lock"


def test_server_ingest_locked_before_connecting(
    small_kb: Settings, index_embedder: OnnxEmbedder
) -> None:
    # Nothing listens on this URL: the lock is checked before any connection is made.
    settings = small_kb.model_copy(update={"chroma_url": "http://127.0.0.1:9"})
    path = ingest_lock_path(settings)
    path.parent.mkdir(parents=True)
    with FileLock(path, timeout=0), pytest.raises(IngestLocked) as caught:
        ingest(settings, embedder=index_embedder, lock_timeout=0.1)
    assert str(path) in str(caught.value)
