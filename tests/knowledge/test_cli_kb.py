"""`aftercare kb ingest` and `aftercare kb search` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from filelock import FileLock
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import Settings, get_settings
from agent.knowledge.ingest import IngestReport
from tests.knowledge.conftest import BRAND, KB_DIR, SMALL_KB_FILES, copy_small_kb

WINBACK_DOCS = {"brand", "voice", "incentives", "compliance", "approved-copy"}


def run_cli(args: list[str], data_dir: Path, kb_dir: Path = KB_DIR) -> Result:
    env = {
        "AFTERCARE_DATA_DIR": str(data_dir),
        "AFTERCARE_KB_DIR": str(kb_dir),
        "AFTERCARE_CHROMA_PATH": None,
        "AFTERCARE_CHROMA_URL": None,
        "AFTERCARE_DEFAULT_BRAND": None,
        "AFTERCARE_RETRIEVAL_K": None,
    }
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["kb", *args], env=env)
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def cli_ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Result]:
    """A small kb ingested once through the CLI: (data folder, kb folder, ingest result)."""
    root = tmp_path_factory.mktemp("cli")
    kb_dir = copy_small_kb(root / "kb")
    result = run_cli(["ingest", "--json"], root / "var", kb_dir)
    return root / "var", kb_dir, result


def test_ingest_json_report(cli_ingested: tuple[Path, Path, Result]) -> None:
    _, _, result = cli_ingested
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert report["documents"] == len(SMALL_KB_FILES)
    assert report["brands"] == [BRAND]
    assert report["embedded"] == report["chunks"]
    assert report["seconds"] > 0


def test_ingest_text_summary(cli_ingested: tuple[Path, Path, Result]) -> None:
    data_dir, kb_dir, _ = cli_ingested
    result = run_cli(["ingest"], data_dir, kb_dir)
    assert result.exit_code == 0, result.output
    assert f"Ingested {len(SMALL_KB_FILES)} documents" in result.stdout
    assert "embedded:  0 documents, 0 chunks" in result.stdout
    assert f"unchanged: {len(SMALL_KB_FILES)} documents" in result.stdout


def test_search_prints_table(cli_ingested: tuple[Path, Path, Result]) -> None:
    data_dir, kb_dir, _ = cli_ingested
    result = run_cli(["search", "hot water bottle care", "-k", "2"], data_dir, kb_dir)
    assert result.exit_code == 0, result.output
    assert "guide-textiles-and-warmers" in result.stdout
    assert "score" in result.stdout


def test_search_json_with_kind(cli_ingested: tuple[Path, Path, Result]) -> None:
    data_dir, kb_dir, _ = cli_ingested
    result = run_cli(
        ["search", "discount", "--kind", "winback", "-k", "10", "--json"], data_dir, kb_dir
    )
    chunks = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert 0 < len(chunks) <= 10
    assert {chunk["doc_id"] for chunk in chunks} <= WINBACK_DOCS
    assert {"score", "doc_id", "doc_type", "chunk_id", "text"} <= set(chunks[0])


def test_search_before_ingest_fails(tmp_path: Path) -> None:
    result = run_cli(["search", "anything"], tmp_path / "var")
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert "brand 'hearth-and-holly' has no documents" in message
    assert "aftercare kb ingest" in message
    assert "Traceback" not in result.output


def test_search_unknown_brand_fails(cli_ingested: tuple[Path, Path, Result]) -> None:
    data_dir, kb_dir, _ = cli_ingested
    result = run_cli(["search", "anything", "--brand", "nope"], data_dir, kb_dir)
    assert result.exit_code == 2
    assert "available brands: hearth-and-holly" in " ".join(result.stderr.split())


def test_search_rejects_zero_k(cli_ingested: tuple[Path, Path, Result]) -> None:
    data_dir, kb_dir, _ = cli_ingested
    result = run_cli(["search", "anything", "-k", "0"], data_dir, kb_dir)
    assert result.exit_code == 2


def test_search_rejects_unknown_kind(cli_ingested: tuple[Path, Path, Result]) -> None:
    data_dir, kb_dir, _ = cli_ingested
    result = run_cli(["search", "anything", "--kind", "newsletter"], data_dir, kb_dir)
    assert result.exit_code == 2


def test_search_corrupt_index_fails_cleanly(
    small_ingested: tuple[Settings, IngestReport],
) -> None:
    settings, _ = small_ingested
    (settings.resolved_chroma_path / "chroma.sqlite3").write_bytes(b"garbage" * 4096)
    result = run_cli(["search", "anything"], settings.data_dir, settings.kb_dir)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert "aftercare kb ingest --rebuild" in message
    # The console wraps long lines, possibly inside the path.
    assert str(settings.resolved_chroma_path.resolve()) in "".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_ingest_invalid_document_fails(tmp_path: Path) -> None:
    kb_dir = copy_small_kb(tmp_path / "kb")
    path = kb_dir / BRAND / "voice.md"
    path.write_text(path.read_text(encoding="utf-8").replace("doc_type: voice", "doc_type: memo"))
    result = run_cli(["ingest"], tmp_path / "var", kb_dir)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert "voice.md" in message
    assert "doc_type" in message


def test_ingest_invalid_chroma_url_fails(tmp_path: Path) -> None:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            ["kb", "ingest"],
            env={
                "AFTERCARE_DATA_DIR": str(tmp_path / "var"),
                "AFTERCARE_KB_DIR": str(copy_small_kb(tmp_path / "kb")),
                "AFTERCARE_CHROMA_URL": "ftp://127.0.0.1",
            },
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "AFTERCARE_CHROMA_URL" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("create_folder", "expected"),
    [(True, "contains no Markdown documents"), (False, "'empty-shop' not found")],
)
def test_ingest_brand_without_documents_fails(
    tmp_path: Path, create_folder: bool, expected: str
) -> None:
    kb_dir = copy_small_kb(tmp_path / "kb")
    if create_folder:
        (kb_dir / "empty-shop").mkdir()
    result = run_cli(["ingest", "--brand", "empty-shop"], tmp_path / "var", kb_dir)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert "'empty-shop'" in message
    assert expected in message
    assert "Traceback" not in result.output


def test_ingest_summary_lists_skipped_document(tmp_path: Path) -> None:
    kb_dir = copy_small_kb(tmp_path / "kb")
    (kb_dir / BRAND / "notes.md").write_text(
        "---\ndoc_id: notes\ntitle: Notes\ndoc_type: policy\nkinds: all\n---\n", "utf-8"
    )
    result = run_cli(["ingest"], tmp_path / "var", kb_dir)
    assert result.exit_code == 0, result.output
    assert f"skipped:   1 documents without body text: {BRAND}/notes.md" in result.stdout


def test_ingest_while_locked_fails(tmp_path: Path) -> None:
    kb_dir = copy_small_kb(tmp_path / "kb")
    lock_path = (tmp_path / "var" / "chroma.ingest.lock").resolve()
    lock_path.parent.mkdir(parents=True)
    with FileLock(lock_path, timeout=0):
        result = run_cli(["ingest", "--lock-timeout", "0.1"], tmp_path / "var", kb_dir)
    assert result.exit_code == 2
    assert "another ingest is running" in " ".join(result.stderr.split())
    assert str(lock_path) in "".join(result.stderr.split())
