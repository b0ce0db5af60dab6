"""Markdown, HTML and JUnit reports of a hand-built run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from agent.evals.compare import Thresholds, compare_runs
from agent.evals.report import write_reports
from agent.evals.results import DraftSnapshot, Outcome
from tests.evals.conftest import case_result, run_record


def sample_runs():
    draft = DraftSnapshot(
        status="ready", subject="Your order", text="Hi Sam, <thanks> & more", fields={}, model="m"
    )
    baseline = run_record(
        "base",
        [case_result("of-a", True), case_result("wb-b", True, kind="winback", draft=draft)],
    )
    run = run_record(
        "cand",
        [
            case_result("of-a", False),
            case_result("wb-b", True, kind="winback", draft=draft),
            case_result("ut-c", False, kind="usage_tip", outcome=Outcome.ERROR, error="boom"),
            case_result("rr-d", False, kind="review_request", outcome=Outcome.SKIPPED, error="no"),
        ],
    )
    return baseline, run


def test_reports_written(tmp_path: Path) -> None:
    baseline, run = sample_runs()
    comparison = compare_runs(baseline, run, Thresholds())
    paths = write_reports(run, tmp_path / "out", comparison=comparison, baseline=baseline)
    assert paths.markdown.is_file()
    assert paths.html.is_file()
    assert paths.junit.is_file()


def test_markdown_lists_regression_and_failures(tmp_path: Path) -> None:
    baseline, run = sample_runs()
    comparison = compare_runs(baseline, run, Thresholds())
    text = write_reports(run, tmp_path, comparison=comparison).markdown.read_text()
    assert "# Eval run cand" in text
    assert "## Compared with base: regressed" in text
    assert "| `of-a` | order_followup | email | status: expected ready, got needs_review |" in text
    assert "- `ut-c` (usage_tip, email, error)" in text
    assert "| prompts sha256 | `pppppppppppp` |" in text


def test_junit_counts_and_parses(tmp_path: Path) -> None:
    _, run = sample_runs()
    root = ET.parse(write_reports(run, tmp_path).junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "4",
        "1",
        "1",
        "1",
    )
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert cases["of-a"].find("failure") is not None
    assert cases["ut-c"].find("error").get("message") == "boom"
    assert cases["rr-d"].find("skipped") is not None
    assert cases["wb-b"].find("system-out").text.endswith("Hi Sam, <thanks> & more")


def test_html_embeds_charts_and_escapes_text(tmp_path: Path) -> None:
    baseline, run = sample_runs()
    comparison = compare_runs(baseline, run, Thresholds())
    html = write_reports(run, tmp_path, comparison=comparison, baseline=baseline).html.read_text()
    assert html.count('src="data:image/png;base64,') == 3
    assert "Hi Sam, &lt;thanks&gt; &amp; more" in html
    assert "<thanks>" not in html
    assert "regressed" in html
