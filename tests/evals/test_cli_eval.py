"""`aftercare eval` commands and their exit codes, with a fake model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from tests.evals.conftest import case_data, write_golden

runner = CliRunner()


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    winback = case_data(id="wb-new", kind="winback", expect={"status": "ready"})
    winback["context"]["consent"] = {"email_marketing": True}
    return write_golden(tmp_path / "golden.yaml", [case_data(), winback])


def eval_run(golden: Path, out: Path, *extra: str):
    args = ["eval", "run", "--golden", str(golden), "--out", str(out), "--no-ingest", "--json"]
    return runner.invoke(app, [*args, *extra])


def output(result) -> str:
    """Return the command's output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


def run_id(result) -> str:
    return json.loads(result.stdout)["run_id"]


def test_run_without_baseline_exits_zero(eval_settings, fake_model, golden, tmp_path) -> None:
    result = eval_run(golden, tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["pass_rate"] == 100.0
    assert summary["comparison"] is None
    assert Path(summary["reports"]["junit"]).is_file()


def test_unchanged_run_has_no_regression(eval_settings, fake_model, golden, tmp_path) -> None:
    first = run_id(eval_run(golden, tmp_path / "a"))
    result = eval_run(golden, tmp_path / "b", "--baseline", first)
    assert result.exit_code == 0, result.output
    comparison = json.loads(result.stdout)["comparison"]
    assert comparison["baseline"] == first
    assert comparison["regressed"] is False


def test_regression_exits_one(eval_settings, fake_model, golden, tmp_path) -> None:
    first = run_id(eval_run(golden, tmp_path / "a"))
    fake_model.bad_body = True
    result = eval_run(golden, tmp_path / "b", "--baseline", "latest")
    assert result.exit_code == 1, result.output
    comparison = json.loads(result.stdout)["comparison"]
    assert comparison["baseline"] == first
    assert [c["case_id"] for c in comparison["changes"]] == ["of-email-basic"]
    assert comparison["changes"][0]["change"] == "regression"


def test_compare_names_regressed_case(eval_settings, fake_model, golden, tmp_path) -> None:
    first = run_id(eval_run(golden, tmp_path / "a"))
    fake_model.bad_body = True
    second = run_id(eval_run(golden, tmp_path / "b"))
    result = runner.invoke(app, ["eval", "compare", first, second])
    assert result.exit_code == 1, result.output
    assert re.search(r"of-email-basic\s.*regression", result.output)
    assert "passed in the baseline and fail now: of-email-basic" in output(result)
    improved = runner.invoke(app, ["eval", "compare", second, first, "--json"])
    assert improved.exit_code == 0
    assert json.loads(improved.stdout)["changes"][0]["change"] == "improvement"


def test_pass_rate_threshold_flag(eval_settings, fake_model, golden, tmp_path) -> None:
    first = run_id(eval_run(golden, tmp_path / "a"))
    fake_model.bad_body = True
    second = run_id(eval_run(golden, tmp_path / "b"))
    result = runner.invoke(
        app, ["eval", "compare", first, second, "--max-pass-rate-drop", "10", "--json"]
    )
    reasons = json.loads(result.stdout)["reasons"]
    assert "the expectation pass rate dropped 50.0 points (limit 10)" in reasons


def test_bad_golden_file_exits_two(eval_settings, fake_model, tmp_path) -> None:
    bad = write_golden(tmp_path / "bad.yaml", [case_data(expect={"status": "sent"})])
    result = eval_run(bad, tmp_path / "out")
    assert result.exit_code == 2
    assert "case `of-email-basic`, field `expect.status`: Value error, 'sent' is not" in output(
        result
    )


def test_missing_model_exits_two(eval_settings, golden, tmp_path, monkeypatch) -> None:
    from agent.config import get_settings

    monkeypatch.setenv("AFTERCARE_LLM_MODEL_PATH", str(tmp_path / "absent.gguf"))
    get_settings.cache_clear()
    result = eval_run(golden, tmp_path / "out")
    assert result.exit_code == 2
    assert "absent.gguf" in output(result)


def test_unknown_baseline_exits_two(eval_settings, fake_model, golden, tmp_path) -> None:
    result = eval_run(golden, tmp_path / "out", "--baseline", "20000101-000000-dead")
    assert result.exit_code == 2
    assert "not found" in output(result)


def test_latest_baseline_without_runs_continues(eval_settings, fake_model, golden, tmp_path):
    result = runner.invoke(
        app,
        [
            "eval",
            "run",
            "--golden",
            str(golden),
            "--out",
            str(tmp_path),
            "--no-ingest",
            "--baseline",
            "latest",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "no completed run of the same golden set, tags and limit" in output(result)


def test_latest_baseline_matches_selection(eval_settings, fake_model, golden, tmp_path):
    full = run_id(eval_run(golden, tmp_path / "a"))
    run_id(eval_run(golden, tmp_path / "b", "--tag", "basic"))
    result = eval_run(golden, tmp_path / "c", "--baseline", "latest")
    assert json.loads(result.stdout)["comparison"]["baseline"] == full


def test_list_shows_runs(eval_settings, fake_model, golden, tmp_path) -> None:
    first = run_id(eval_run(golden, tmp_path / "a"))
    result = runner.invoke(app, ["eval", "list", "--json"])
    assert result.exit_code == 0
    line = json.loads(result.stdout.splitlines()[0])
    assert line["run_id"] == first
    assert (line["cases"], line["passed"]) == (2, 2)


def test_validate_counts_cases(eval_settings, golden) -> None:
    result = runner.invoke(app, ["eval", "validate", str(golden)])
    assert result.exit_code == 0
    assert "2 valid case(s)" in output(result)


def test_validate_bad_file_exits_two(eval_settings, tmp_path) -> None:
    bad = write_golden(tmp_path / "bad.yaml", [case_data(brand="acme")])
    result = runner.invoke(app, ["eval", "validate", str(bad)])
    assert result.exit_code == 2
    assert "unknown brand 'acme'" in output(result)
