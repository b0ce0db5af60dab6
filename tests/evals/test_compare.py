"""Comparing a run with its baseline: per-case changes and the regression thresholds."""

from __future__ import annotations

from agent.evals.compare import Change, Thresholds, compare_runs
from agent.evals.results import Outcome
from tests.evals.conftest import case_result, run_record

LOOSE = Thresholds(max_pass_rate_drop=100, max_model_text_drop=100)


def changes(comparison) -> dict[str, Change]:
    return {item.case_id: item.change for item in comparison.changes}


def test_case_that_starts_failing_is_regression() -> None:
    before = run_record("base", [case_result("a", True), case_result("b", True)])
    after = run_record("cand", [case_result("a", False), case_result("b", True)])
    comparison = compare_runs(before, after, LOOSE)
    assert changes(comparison) == {"a": Change.REGRESSION, "b": Change.UNCHANGED}
    assert comparison.regressed
    assert comparison.reasons == ["1 case(s) passed in the baseline and fail now: a"]
    assert comparison.regressions[0].failed_now() == ["status: expected ready, got needs_review"]


def test_case_that_starts_passing_is_improvement() -> None:
    before = run_record("base", [case_result("a", False)])
    after = run_record("cand", [case_result("a", True)])
    comparison = compare_runs(before, after, LOOSE)
    assert changes(comparison) == {"a": Change.IMPROVEMENT}
    assert not comparison.regressed


def test_still_failing_with_new_reason_is_changed() -> None:
    before = run_record("base", [case_result("a", False)])
    failing_differently = case_result("a", False, outcome=Outcome.BLOCKED)
    comparison = compare_runs(before, run_record("cand", [failing_differently]), LOOSE)
    assert changes(comparison) == {"a": Change.CHANGED}
    assert not comparison.regressed


def test_added_and_removed_cases_do_not_regress() -> None:
    before = run_record("base", [case_result("old", True)])
    after = run_record("cand", [case_result("new", False)])
    comparison = compare_runs(before, after, Thresholds())
    assert changes(comparison) == {"new": Change.ADDED, "old": Change.REMOVED}
    assert comparison.shared == 0
    assert not comparison.regressed


def test_skipped_cases_are_left_out() -> None:
    skipped = case_result("a", False, outcome=Outcome.SKIPPED)
    comparison = compare_runs(
        run_record("base", [case_result("a", True)]), run_record("cand", [skipped]), Thresholds()
    )
    assert changes(comparison) == {"a": Change.REMOVED}
    assert not comparison.regressed


def test_pass_rate_drop_beyond_threshold() -> None:
    # Two failing cases swap: no case regresses on its own terms, but one more fails overall.
    before = run_record(
        "base", [case_result("a", False), case_result("b", True), case_result("c", False)]
    )
    after = run_record(
        "cand",
        [
            case_result("a", False),
            case_result("b", False, outcome=Outcome.READY),
            case_result("c", False),
        ],
    )
    strict = Thresholds(max_pass_rate_drop=10, max_model_text_drop=100)
    comparison = compare_runs(before, after, strict)
    assert comparison.pass_rate_before == 33.3
    assert comparison.pass_rate_after == 0.0
    assert "the expectation pass rate dropped 33.3 points (limit 10)" in comparison.reasons


def test_pass_rate_drop_within_threshold() -> None:
    before = run_record("base", [case_result(str(i), i != 0) for i in range(20)])
    after = run_record("cand", [case_result(str(i), i != 0) for i in range(20)])
    assert not compare_runs(before, after, Thresholds(max_pass_rate_drop=0)).regressed


def test_model_text_share_drop_beyond_threshold() -> None:
    model_text = {"model_text_kept": True}
    fallback = {"model_text_kept": False}
    before = run_record("base", [case_result(str(i), True, metrics=model_text) for i in range(4)])
    after = run_record(
        "cand",
        [case_result(str(i), True, metrics=fallback if i < 2 else model_text) for i in range(4)],
    )
    comparison = compare_runs(before, after, Thresholds(max_model_text_drop=25))
    assert comparison.kept_before == 100.0
    assert comparison.kept_after == 50.0
    assert comparison.reasons == [
        "the share of drafts keeping model-written text dropped 50.0 points (limit 25)"
    ]


def test_input_changes_are_named() -> None:
    before = run_record("base", [case_result("a", True)])
    after = run_record("cand", [case_result("a", True)], golden_hash="h" * 64)
    after.versions = {**before.versions, "prompts_hash": "q" * 64}
    after.versions["kb_hashes"] = {"hearth-and-holly": "z" * 64}
    assert compare_runs(before, after, LOOSE).input_changes == [
        "golden set",
        "prompts",
        "kb/hearth-and-holly",
    ]
