"""The full Online Retail file through the CLI: import, signals refresh and plan."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings

pytestmark = pytest.mark.slow

runner = CliRunner()
CUSTOMERS = 4_372


@pytest.fixture
def full_env(shared_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AFTERCARE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield shared_data_dir / "online_retail_2010_2011.csv.gz"
    get_settings.cache_clear()


def test_plan_all_online_retail(full_env: Path) -> None:
    imported = runner.invoke(app, ["import", "online-retail", str(full_env), "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["customers"] == CUSTOMERS

    refreshed = runner.invoke(app, ["signals", "refresh", "--as-of", "2011-12-09", "--json"])
    assert refreshed.exit_code == 0, refreshed.output
    report = json.loads(refreshed.stdout)
    assert report["customers"] == CUSTOMERS
    assert report["clv_methods"].get("bg_nbd+gamma_gamma", 0) > 1000

    planned = runner.invoke(app, ["plan", "--as-of", "2011-12-09", "--format", "csv"])
    assert planned.exit_code == 0, planned.output
    rows = list(csv.DictReader(io.StringIO(planned.stdout)))
    assert len(rows) == CUSTOMERS
    assert all(row["kind"] or row["reason"] for row in rows)
    kinds = {row["kind"] for row in rows}
    assert {"order_followup", "usage_tip", "review_request", "winback"} <= kinds
    holdout = sum(row["reason"] == "holdout" for row in rows)
    assert 0.07 < holdout / CUSTOMERS < 0.13
