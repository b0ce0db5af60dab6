"""`aftercare import online-retail` through Typer's test runner."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from agent.cli import imports
from agent.cli.common import EXIT_BAD_INPUT
from agent.config import get_settings
from agent.context import importer
from agent.context.db import make_engine
from agent.context.tables import OrderLineRecord
from tests.context.conftest import CsvWriter, row


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "var"
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(folder))
    monkeypatch.delenv("AFTERCARE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def cli() -> typer.Typer:
    """A root app with the import sub-app registered as the `aftercare` command does."""
    root = typer.Typer()
    root.add_typer(imports.app, name="import")

    @root.callback()
    def main() -> None:
        pass

    return root


def _stored_lines(data_dir: Path) -> int:
    engine = make_engine(f"sqlite:///{data_dir / 'aftercare.db'}")
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(OrderLineRecord))
    finally:
        engine.dispose()


def test_cli_import_prints_counts(cli: typer.Typer, data_dir: Path, write_csv: CsvWriter) -> None:
    path = write_csv([row(), row(invoice="536366"), row(customer="")])

    result = CliRunner().invoke(cli, ["import", "online-retail", str(path)])

    assert result.exit_code == 0, result.output
    assert "lines imported" in result.stdout
    assert "rows without customer (skipped)" in result.stdout
    assert _stored_lines(data_dir) == 2


def test_cli_import_json(cli: typer.Typer, data_dir: Path, write_csv: CsvWriter) -> None:
    path = write_csv([row(), row(quantity="zero"), row(customer="")])

    result = CliRunner().invoke(cli, ["import", "online-retail", str(path), "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows_read"] == 3
    assert report["lines_imported"] == 1
    assert report["rows_without_customer"] == 1
    assert report["malformed"] == 1
    assert report["malformed_examples"][0]["line_number"] == 3


def test_cli_prints_malformed_examples(
    cli: typer.Typer, data_dir: Path, write_csv: CsvWriter
) -> None:
    rows = [row()] + [row(quantity="x")] * 12
    path = write_csv(rows)

    result = CliRunner().invoke(cli, ["import", "online-retail", str(path)])

    assert result.exit_code == 0, result.output
    assert "First 10 of 12 malformed rows" in result.stdout
    assert "line 3: Quantity 'x' is not a whole number" in result.stdout
    assert "line 12:" in result.stdout
    assert "line 13:" not in result.stdout


def test_cli_missing_file_exits_2(cli: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "absent.csv.gz"

    result = CliRunner().invoke(cli, ["import", "online-retail", str(path)])

    assert result.exit_code == EXIT_BAD_INPUT
    assert EXIT_BAD_INPUT == 2
    assert "file not found" in result.stderr
    assert "absent.csv.gz" in result.stderr


def test_cli_wrong_header_exits_2(cli: typer.Typer, data_dir: Path, write_csv: CsvWriter) -> None:
    path = write_csv([["1", "2"]], header=["id", "amount"])

    result = CliRunner().invoke(cli, ["import", "online-retail", str(path)])

    assert result.exit_code == EXIT_BAD_INPUT
    assert "lacks the columns" in result.stderr
    assert path.name in result.stderr


def test_cli_logs_progress_off_terminal(
    cli: typer.Typer,
    data_dir: Path,
    write_csv: CsvWriter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(importer, "PROGRESS_EVERY_ROWS", 2)
    monkeypatch.setattr(imports, "LOG_EVERY_ROWS", 4)
    path = write_csv([row(invoice=str(536365 + i)) for i in range(9)])

    with caplog.at_level(logging.INFO, logger="agent.cli.imports"):
        result = CliRunner().invoke(cli, ["import", "online-retail", str(path)])

    assert result.exit_code == 0, result.output
    progress = [r.getMessage() for r in caplog.records if r.name == "agent.cli.imports"]
    assert progress == ["read 4 rows", "read 8 rows"]
