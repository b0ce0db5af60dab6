"""Server mode: ingest and retrieval against a real `chroma run` server on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import Settings, get_settings
from agent.domain import MessageKind
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.ingest import IngestReport, ingest
from agent.knowledge.retrieval import retrieve_guidelines
from agent.knowledge.store import open_store
from tests.knowledge.conftest import BRAND, SMALL_KB_FILES, copy_small_kb, make_settings

pytestmark = pytest.mark.slow

# Limits for waiting on the server process; the tests never assert how long anything takes.
STARTUP_LIMIT_S = 60.0
SHUTDOWN_LIMIT_S = 10.0
START_ATTEMPTS = 3


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment() -> dict[str, str]:
    """The test's environment without Chroma or OpenTelemetry settings, telemetry off."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CHROMA_", "OTEL_", "AFTERCARE_"))
    }
    env["ANONYMIZED_TELEMETRY"] = "False"
    return env


def wait_for_heartbeat(url: str, process: subprocess.Popen[bytes]) -> bool:
    """Poll the server's heartbeat; return False when the process exits or the limit passes."""
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(SHUTDOWN_LIMIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a `chroma run` server on 127.0.0.1, stopped when the module's tests end."""
    executable = Path(sys.executable).with_name("chroma")
    if not executable.is_file():
        pytest.fail(f"the Chroma CLI {executable} is missing; reinstall chromadb in the venv")
    root = tmp_path_factory.mktemp("chroma-server")
    log_path = root / "server.log"
    for _ in range(START_ATTEMPTS):
        # Another process may take the free port before the server binds it, so retry.
        url, process = start_server(executable, root / "data", log_path)
        if wait_for_heartbeat(url, process):
            break
        stop(process)
    else:
        log = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        pytest.fail(f"the Chroma server did not answer its heartbeat; its log ends:\n{log}")
    try:
        yield url
    finally:
        stop(process)


def start_server(
    executable: Path, data: Path, log_path: Path
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_loopback_port()
    command = [str(executable), "run", "--path", str(data), "--host", "127.0.0.1"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_environment(),
        )
    return f"http://127.0.0.1:{port}", process


@pytest.fixture(scope="module")
def server_ingested(
    chroma_url: str, tmp_path_factory: pytest.TempPathFactory, index_embedder: OnnxEmbedder
) -> tuple[Settings, IngestReport]:
    root = tmp_path_factory.mktemp("server-client")
    settings = make_settings(root / "var", copy_small_kb(root / "kb"))
    settings = settings.model_copy(update={"chroma_url": chroma_url})
    return settings, ingest(settings, embedder=index_embedder)


def test_server_ingest_embeds_every_chunk(
    server_ingested: tuple[Settings, IngestReport],
) -> None:
    _, report = server_ingested
    assert report.documents == len(SMALL_KB_FILES)
    assert report.chunks > report.documents
    assert report.embedded == report.chunks


def test_server_mode_writes_no_local_index(
    server_ingested: tuple[Settings, IngestReport],
) -> None:
    settings, _ = server_ingested
    assert not settings.resolved_chroma_path.exists()


def test_server_search_finds_guide(
    server_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = server_ingested
    with open_store(settings, embedder=index_embedder) as store:
        chunks = store.search("how full should I fill a hot water bottle", brand=BRAND, k=3)
        assert store.location == settings.chroma_url
    assert chunks[0].doc_id == "guide-textiles-and-warmers"


def test_server_retrieval_recipe(
    server_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = server_ingested
    with open_store(settings, embedder=index_embedder) as store:
        chunks = retrieve_guidelines(
            store,
            brand=BRAND,
            kind=MessageKind.USAGE_TIP,
            families=["candles-and-lighting"],
            query="care tips for tea-light holders",
            k=4,
        )
    assert {chunk.doc_type for chunk in chunks} == {"voice", "product_guide"}


def test_server_topic_filter(
    server_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = server_ingested
    with open_store(settings, embedder=index_embedder) as store:
        chunks = store.search("returns", brand=BRAND, topics=["refunds"], k=10, min_score=-1)
    assert {chunk.doc_id for chunk in chunks} == {"delivery-returns"}


def test_server_reingest_embeds_nothing(
    server_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, first = server_ingested
    report = ingest(settings, embedder=index_embedder)
    assert report.embedded == 0
    assert report.unchanged == first.chunks


def test_server_stats_through_cli(server_ingested: tuple[Settings, IngestReport]) -> None:
    settings, report = server_ingested
    env = {
        "AFTERCARE_DATA_DIR": str(settings.data_dir),
        "AFTERCARE_KB_DIR": str(settings.kb_dir),
        "AFTERCARE_CHROMA_URL": settings.chroma_url,
        "AFTERCARE_CHROMA_PATH": None,
    }
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["kb", "stats", "--json"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["location"] == settings.chroma_url
    assert payload["brands"][0]["brand"] == BRAND
    assert payload["brands"][0]["chunks"] == report.chunks
