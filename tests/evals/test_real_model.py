"""Eval runs with the real embedded model, and the judge against a real llama_cpp.server."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings
from agent.evals.runner import RunOptions, run_golden
from tests.llm.test_llama_server import running_llama_server

runner = CliRunner()

PROBE_CASE = "rr-hh-email-tlight"
# The facts loop of the shared prompt layout; the edit below drops the product from it.
FACTS_LOOP = "{% for name, value in facts.items() -%}"
FACTS_LOOP_WITHOUT_PRODUCT = '{% for name, value in facts.items() if name != "Product" -%}'


def run_eval(*args: str):
    return runner.invoke(app, ["eval", "run", "--no-ingest", "--json", *args])


def summary(result) -> dict:
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_real_run_writes_three_reports(eval_settings, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = run_eval("--tag", "smoke", "--limit", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = summary(result)
    assert data["cases"] == 3
    assert data["status"] == "completed"

    markdown = Path(data["reports"]["markdown"]).read_text(encoding="utf-8")
    assert f"# Eval run {data['run_id']}" in markdown
    assert "| model | `SmolLM2-135M-Instruct.Q4_1` |" in markdown

    root = ET.parse(data["reports"]["junit"]).getroot()
    assert root.tag == "testsuites"
    assert root.get("tests") == "3"
    assert len(list(root.iter("testcase"))) == 3

    html = Path(data["reports"]["html"]).read_text(encoding="utf-8")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3
    assert all(len(image) > 1000 for image in images)


@pytest.mark.slow
def test_prompt_change_regresses_probe_case(
    eval_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = summary(run_eval("--tag", "regression-probe", "--out", str(tmp_path / "a")))
    assert baseline["failing"] == [], f"{PROBE_CASE} must pass with the shipped prompts"

    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    layout = prompts / "_base.j2"
    text = layout.read_text(encoding="utf-8")
    assert FACTS_LOOP in text, "the prompt layout changed; update the edit this test makes"
    layout.write_text(text.replace(FACTS_LOOP, FACTS_LOOP_WITHOUT_PRODUCT), encoding="utf-8")
    monkeypatch.setenv("AFTERCARE_PROMPTS_DIR", str(prompts))
    get_settings.cache_clear()

    result = run_eval(
        "--tag", "regression-probe", "--baseline", baseline["run_id"], "--out", str(tmp_path / "b")
    )
    assert result.exit_code == 1, result.output
    candidate = summary(result)
    assert candidate["failing"] == [PROBE_CASE]
    assert candidate["comparison"]["changed_inputs"] == ["prompts"]

    compared = runner.invoke(app, ["eval", "compare", baseline["run_id"], candidate["run_id"]])
    assert compared.exit_code == 1
    output = " ".join(compared.output.split())
    assert re.search(rf"{PROBE_CASE} .*regression", output)
    as_json = runner.invoke(
        app, ["eval", "compare", baseline["run_id"], candidate["run_id"], "--json"]
    )
    (change,) = json.loads(as_json.stdout)["changes"]
    assert change["case_id"] == PROBE_CASE
    assert change["change"] == "regression"
    assert any(
        line.startswith("fact: t-light holder (in subject)") for line in change["failing_now"]
    )


@pytest.fixture(scope="module")
def judge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start llama_cpp.server with SmolLM2 on a free loopback port, as the judge endpoint."""
    with running_llama_server(tmp_path_factory.mktemp("judge_server") / "server.log") as url:
        yield url


@pytest.mark.slow
def test_judge_scores_case_with_real_server(eval_settings, judge_server: str) -> None:
    # SmolLM2 is no capable judge; this checks the wiring and the output contract only.
    settings = eval_settings.model_copy(
        update={
            "judge_base_url": judge_server,
            "judge_model": "smollm2",
            "judge_response_format": "json_object",
            "judge_samples": 2,
        }
    )
    options = RunOptions(tags=["no-offer", "smoke"], ingest=False, judge=True)
    record = run_golden(settings, options)
    judged = record.cases[0].judge
    assert judged is not None
    assert judged.error is None, judged.error
    assert len(judged.scores) + judged.invalid_samples == 2
    assert judged.scores
    assert all(1 <= score <= 5 for score in judged.scores)
    assert judged.spread is not None
