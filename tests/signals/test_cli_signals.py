"""`aftercare signals`, `aftercare plan` and `aftercare report` on the stored extract."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from tests.signals.conftest import ExtractDatabase

runner = CliRunner()


@pytest.fixture
def cli_env(extract_copy: ExtractDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", extract_copy.url)
    get_settings.cache_clear()
    yield extract_copy
    get_settings.cache_clear()


@pytest.fixture
def empty_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _flat(text: str) -> str:
    """Collapse whitespace, because Rich wraps long messages at the console width."""
    return " ".join(text.split())


def _as_of(db: ExtractDatabase) -> str:
    return db.as_of.isoformat()


def _some_customer(db: ExtractDatabase) -> str:
    result = runner.invoke(
        app, ["plan", "--as-of", _as_of(db), "--limit", "1", "--format", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.splitlines()[0])["customer_id"]


def test_refresh_json(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["signals", "refresh", "--as-of", "2011-12-09", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["customers"] == 304
    assert report["as_of"].startswith("2011-12-09T23:59:59")
    assert sum(report["clv_methods"].values()) == 304


def test_refresh_rejects_bad_date(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["signals", "refresh", "--as-of", "09/12/2011"])
    assert result.exit_code == 2
    assert "invalid --as-of '09/12/2011'" in _flat(result.output)


def test_plan_rejects_future_date(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["plan", "--as-of", "2031-01-01"])
    assert result.exit_code == 2
    assert "in the future" in _flat(result.output)


def test_refresh_rejects_future_date(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["signals", "refresh", "--as-of", "2099-01-01T00:00:00Z"])
    assert result.exit_code == 2
    assert "in the future" in _flat(result.output)


def test_refresh_rejects_unknown_brand(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["signals", "refresh", "--brand", "no-such-brand"])
    assert result.exit_code == 2
    assert "brand 'no-such-brand' not found" in _flat(result.output)


def test_show_json(cli_env: ExtractDatabase) -> None:
    customer = _some_customer(cli_env)
    result = runner.invoke(app, ["signals", "show", customer, "--json"])
    assert result.exit_code == 0, result.output
    signals = json.loads(result.stdout)
    assert signals["customer_id"] == customer
    assert signals["clv"]["method"] in {"bg_nbd+gamma_gamma", "rfm_rules"}
    assert signals["advocacy"]["inputs"]["referrals"]["status"] == "absent"


def test_show_table_names_method(cli_env: ExtractDatabase) -> None:
    customer = _some_customer(cli_env)
    result = runner.invoke(app, ["signals", "show", customer])
    assert result.exit_code == 0, result.output
    assert "CLV and churn, scored by" in result.stdout
    assert "Advocate score" in result.stdout


def test_show_unknown_customer(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["signals", "show", "no-such-id"])
    assert result.exit_code == 2
    assert "customer 'no-such-id' not found" in _flat(result.output)


def test_show_before_refresh(cli_env: ExtractDatabase) -> None:
    customer = _some_customer(cli_env)
    result = runner.invoke(app, ["signals", "show", customer, "--brand", "linen-and-lark"])
    assert result.exit_code == 1
    assert "aftercare signals refresh --brand linen-and-lark" in _flat(result.output)


def test_plan_csv(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["plan", "--as-of", _as_of(cli_env), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 304
    for row in rows:
        assert row["kind"] or row["reason"], row
    assert {row["kind"] for row in rows} >= {"order_followup", "usage_tip", "winback"}
    assert "customers/s" in result.stderr


def test_plan_table(cli_env: ExtractDatabase) -> None:
    result = runner.invoke(app, ["plan", "--as-of", _as_of(cli_env), "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "send at" in result.stdout


def test_plan_sms_shows_consent_block(cli_env: ExtractDatabase) -> None:
    args = ["plan", "--as-of", _as_of(cli_env), "--channel", "sms", "--format", "jsonl"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    blocked = [row for row in rows if "compliance.consent" in row["reason"]]
    assert blocked
    assert all(row["kind"] is None for row in blocked)


def test_plan_before_refresh(empty_env: Path) -> None:
    result = runner.invoke(app, ["plan", "--as-of", "2011-12-09"])
    assert result.exit_code == 1
    assert "aftercare signals refresh --as-of 2011-12-09 --brand hearth-and-holly" in _flat(
        result.output
    )


def test_report_writes_files(cli_env: ExtractDatabase, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["report", "--as-of", _as_of(cli_env), "--out", str(out), "--json", "--no-community"]
    result = runner.invoke(app, [*args, "--goals", "evals/goals.yaml"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert Path(payload["report"]).is_file()
    assert len(payload["charts"]) == 4
    assert {goal["metric"] for goal in payload["goals"]} >= {"churn_rate", "nps"}


@pytest.mark.slow
def test_report_adds_community_and_fairness(
    cli_env: ExtractDatabase, tmp_path: Path, shared_data_dir: Path
) -> None:
    out = tmp_path / "report"
    reviews = shared_data_dir / "womens_clothing_ecommerce_reviews.csv.gz"
    args = ["report", "--as-of", _as_of(cli_env), "--out", str(out), "--json"]
    result = runner.invoke(app, [*args, "--reviews", str(reviews), "--community-sample", "150"])
    assert result.exit_code == 0, result.output
    text = Path(json.loads(result.stdout)["report"]).read_text()
    assert "Fairness of offers and challenges" in text
    assert "topic" in text.lower()
    assert "no dates" in text.lower()


def test_report_missing_reviews_file(cli_env: ExtractDatabase, tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"
    result = runner.invoke(app, ["report", "--reviews", str(missing)])
    assert result.exit_code == 2
    assert "absent.csv" in _flat(result.output)


def test_report_bad_goals(cli_env: ExtractDatabase, tmp_path: Path) -> None:
    goals = tmp_path / "goals.yaml"
    goals.write_text("goals:\n  - {metric: churn, target: 2, deadline: 2012-01-01}\n")
    result = runner.invoke(app, ["report", "--goals", str(goals)])
    assert result.exit_code == 2
    assert "goal 1, field `metric`" in _flat(result.output)
