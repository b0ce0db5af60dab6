"""Compare a run with a baseline: per-case regressions and improvements, and the verdict.

A run regresses against its baseline when any of these holds, over the cases both runs scored:
- a case whose expectations all passed in the baseline fails now;
- the expectation pass rate dropped by more than `max_pass_rate_drop` percentage points;
- the share of drafts that kept model-written text dropped by more than
  `max_model_text_drop` percentage points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from agent.config import Settings
from agent.evals.results import CaseResult, Outcome, RunRecord
from agent.evals.summary import DRAFT_OUTCOMES, percent
from agent.evals.versions import Versions


class Change(StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    # Still failing, or still passing, but with a different outcome or different failed checks.
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class Thresholds:
    max_pass_rate_drop: float = 5.0
    max_model_text_drop: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(settings.eval_max_pass_rate_drop, settings.eval_max_model_text_drop)


@dataclass(frozen=True)
class CaseChange:
    case_id: str
    kind: str
    channel: str
    change: Change
    before: CaseResult | None
    after: CaseResult | None

    def failed_now(self) -> list[str]:
        return _failed(self.after)

    def failed_before(self) -> list[str]:
        return _failed(self.before)


def _failed(result: CaseResult | None) -> list[str]:
    if result is None:
        return []
    return [
        f"{check.name}: {check.detail}" if check.detail else check.name
        for check in result.failed_checks()
    ]


@dataclass
class Comparison:
    baseline_id: str
    candidate_id: str
    changes: list[CaseChange]
    shared: int
    pass_rate_before: float | None
    pass_rate_after: float | None
    kept_before: float | None
    kept_after: float | None
    input_changes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.reasons)

    def of(self, change: Change) -> list[CaseChange]:
        return [item for item in self.changes if item.change is change]

    @property
    def regressions(self) -> list[CaseChange]:
        return self.of(Change.REGRESSION)

    @property
    def improvements(self) -> list[CaseChange]:
        return self.of(Change.IMPROVEMENT)


def compare_runs(baseline: RunRecord, candidate: RunRecord, thresholds: Thresholds) -> Comparison:
    """Compare `candidate` with `baseline` case by case and apply the regression thresholds."""
    changes = _case_changes(baseline, candidate)
    shared = [c for c in changes if c.before is not None and c.after is not None]
    before = [c.before for c in shared if c.before is not None]
    after = [c.after for c in shared if c.after is not None]
    comparison = Comparison(
        baseline_id=baseline.id,
        candidate_id=candidate.id,
        changes=changes,
        shared=len(shared),
        pass_rate_before=_pass_rate(before),
        pass_rate_after=_pass_rate(after),
        kept_before=_kept_share(before),
        kept_after=_kept_share(after),
        input_changes=_input_changes(baseline, candidate),
    )
    comparison.reasons = _reasons(comparison, thresholds)
    return comparison


def _case_changes(baseline: RunRecord, candidate: RunRecord) -> list[CaseChange]:
    before = {case.case_id: case for case in baseline.cases if case.outcome is not Outcome.SKIPPED}
    after = {case.case_id: case for case in candidate.cases if case.outcome is not Outcome.SKIPPED}
    order = [case.case_id for case in candidate.cases if case.case_id in after]
    order += [case_id for case_id in before if case_id not in after]
    changes = []
    for case_id in order:
        old, new = before.get(case_id), after.get(case_id)
        sample = new or old
        assert sample is not None  # every id comes from one of the two runs
        changes.append(
            CaseChange(case_id, sample.kind, sample.channel, _classify(old, new), old, new)
        )
    return changes


def _classify(before: CaseResult | None, after: CaseResult | None) -> Change:
    if before is None:
        return Change.ADDED
    if after is None:
        return Change.REMOVED
    if before.passed and not after.passed:
        return Change.REGRESSION
    if after.passed and not before.passed:
        return Change.IMPROVEMENT
    same_outcome = before.outcome == after.outcome
    same_failures = _failed(before) == _failed(after)
    return Change.UNCHANGED if same_outcome and same_failures else Change.CHANGED


def _pass_rate(cases: list[CaseResult]) -> float | None:
    return percent(sum(case.passed for case in cases), len(cases))


def _kept_share(cases: list[CaseResult]) -> float | None:
    drafts = [case for case in cases if case.outcome in DRAFT_OUTCOMES]
    return percent(sum(case.model_text_kept() for case in drafts), len(drafts))


def _input_changes(baseline: RunRecord, candidate: RunRecord) -> list[str]:
    changed = []
    if baseline.golden_hash != candidate.golden_hash:
        changed.append("golden set")
    if baseline.versions and candidate.versions:
        old = Versions.from_dict(baseline.versions)
        new = Versions.from_dict(candidate.versions)
        changed += old.differences(new)
    return changed


def _reasons(comparison: Comparison, thresholds: Thresholds) -> list[str]:
    reasons = []
    regressions = comparison.regressions
    if regressions:
        names = ", ".join(item.case_id for item in regressions)
        reasons.append(f"{len(regressions)} case(s) passed in the baseline and fail now: {names}")
    drop = _drop(comparison.pass_rate_before, comparison.pass_rate_after)
    if drop is not None and drop > thresholds.max_pass_rate_drop:
        reasons.append(
            f"the expectation pass rate dropped {drop:.1f} points "
            f"(limit {thresholds.max_pass_rate_drop:g})"
        )
    drop = _drop(comparison.kept_before, comparison.kept_after)
    if drop is not None and drop > thresholds.max_model_text_drop:
        reasons.append(
            f"the share of drafts keeping model-written text dropped {drop:.1f} points "
            f"(limit {thresholds.max_model_text_drop:g})"
        )
    return reasons


def _drop(before: float | None, after: float | None) -> float | None:
    if before is None or after is None:
        return None
    return round(before - after, 1)
