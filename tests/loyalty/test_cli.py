"""`aftercare loyalty ...` through Typer's test runner on a temporary data folder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agent.cli import loyalty
from agent.cli.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED
from agent.config import get_settings
from tests.loyalty.conftest import LedgerWriter, entry


@pytest.fixture
def data_dir(extract_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder whose database holds the Online Retail extract."""
    folder = tmp_path / "var"
    folder.mkdir()
    shutil.copyfile(extract_file, folder / "aftercare.db")
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(folder))
    monkeypatch.delenv("AFTERCARE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(loyalty.app, name="loyalty")

    @root.callback()
    def main() -> None:
        pass

    return root


def run(cli: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["loyalty", *args])
    return result.exit_code, result.output


def test_derive_then_show(cli: typer.Typer, data_dir: Path) -> None:
    code, output = run(cli, "derive", "--as-of", "2011-12-09", "--json")
    assert code == 0, output
    derived = json.loads(output)
    assert derived["customers"] == 304

    code, output = run(cli, "show", "12680", "--as-of", "2011-12-09", "--json")

    assert code == 0, output
    account = json.loads(output)
    assert account["derived"] is True
    assert account["balance"] > 0
    assert account["points_to_next_tier"] > 0


def test_show_without_ledger_fails_check(cli: typer.Typer, data_dir: Path) -> None:
    code, output = run(cli, "show", "12680", "--as-of", "2011-12-09")

    assert code == EXIT_CHECK_FAILED
    assert "has no loyalty ledger" in output


def test_show_unknown_customer(cli: typer.Typer, data_dir: Path) -> None:
    code, output = run(cli, "show", "99999999", "--as-of", "2011-12-09")

    assert code == EXIT_BAD_INPUT
    assert "not found" in output


def test_import_twice_is_idempotent(
    cli: typer.Typer, data_dir: Path, write_ledger: LedgerWriter
) -> None:
    path = write_ledger([entry("12680", "earned", 75, "2011-11-01T10:00:00+00:00", "pos:1")])

    first_code, first = run(cli, "import", str(path), "--json")
    second_code, second = run(cli, "import", str(path), "--json")

    assert first_code == 0, first
    assert second_code == 0, second
    assert json.loads(first)["new"] == 1
    assert json.loads(second)["unchanged"] == 1
    code, output = run(cli, "show", "12680", "--as-of", "2011-12-09", "--json")
    assert json.loads(output)["balance"] == 75


def test_import_bad_file_exits_2(
    cli: typer.Typer, data_dir: Path, write_ledger: LedgerWriter
) -> None:
    path = write_ledger([entry("12680", "earned", -3, "2011-11-01T10:00:00+00:00", "pos:1")])

    code, output = run(cli, "import", str(path))

    assert code == EXIT_BAD_INPUT
    assert "line 2" in output


def test_program_prints_tiers(cli: typer.Typer, data_dir: Path) -> None:
    code, output = run(cli, "program", "--brand", "linen-and-lark", "--json")

    assert code == 0, output
    program = json.loads(output)
    assert [tier["tier_id"] for tier in program["tiers"]] == ["member", "insider", "studio"]
