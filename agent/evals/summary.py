"""Aggregate case results: pass rates, fallback use, latency and scores, overall and per group."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agent.evals.results import CaseResult, Outcome

DRAFT_OUTCOMES = frozenset({Outcome.READY, Outcome.NEEDS_REVIEW, Outcome.BLOCKED})


@dataclass
class GroupStats:
    """Statistics over a group of cases. Skipped cases count in `skipped` alone."""

    name: str
    cases: int = 0
    passed: int = 0
    skipped: int = 0
    drafts: int = 0
    ineligible: int = 0
    errors: int = 0
    model_text_kept: int = 0
    judge_flagged: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    voice: list[float] = field(default_factory=list)
    reading_ease: list[float] = field(default_factory=list)
    judge_scores: list[float] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        """Percentage of scored cases whose expectations all passed."""
        return percent(self.passed, self.cases)

    @property
    def kept_share(self) -> float | None:
        """Percentage of drafts whose model-written fields passed without fallback copy."""
        return percent(self.model_text_kept, self.drafts)

    @property
    def latency_median_ms(self) -> float | None:
        return statistics.median(self.latencies_ms) if self.latencies_ms else None

    @property
    def latency_p90_ms(self) -> float | None:
        return quantile(self.latencies_ms, 0.9)

    @property
    def tokens_mean(self) -> float | None:
        return mean(self.tokens)

    @property
    def voice_mean(self) -> float | None:
        return mean(self.voice)

    @property
    def reading_ease_mean(self) -> float | None:
        return mean(self.reading_ease)

    @property
    def judge_mean(self) -> float | None:
        return mean(self.judge_scores)

    def add(self, case: CaseResult) -> None:
        if case.outcome is Outcome.SKIPPED:
            self.skipped += 1
            return
        self.cases += 1
        self.passed += case.passed
        self.ineligible += case.outcome is Outcome.INELIGIBLE
        self.errors += case.outcome is Outcome.ERROR
        if case.outcome in DRAFT_OUTCOMES:
            self._add_draft(case)
        if case.judge is not None and case.judge.mean is not None:
            self.judge_scores.append(case.judge.mean)
            self.judge_flagged += case.judge.disagreement

    def _add_draft(self, case: CaseResult) -> None:
        metrics = case.metrics
        self.drafts += 1
        self.model_text_kept += case.model_text_kept()
        _append_number(self.latencies_ms, metrics.get("latency_ms"))
        prompt, completion = metrics.get("prompt_tokens"), metrics.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int):
            self.tokens.append(prompt + completion)
        _append_number(self.voice, metrics.get("voice_similarity"))
        _append_number(self.reading_ease, metrics.get("reading_ease"))


@dataclass
class RunSummary:
    overall: GroupStats
    by_kind: list[GroupStats]
    by_channel: list[GroupStats]
    by_brand: list[GroupStats]
    outcomes: dict[str, int]


def summarise(cases: Iterable[CaseResult]) -> RunSummary:
    cases = list(cases)
    overall = GroupStats("all")
    for case in cases:
        overall.add(case)
    outcomes: dict[str, int] = {}
    for case in cases:
        outcomes[case.outcome.value] = outcomes.get(case.outcome.value, 0) + 1
    return RunSummary(
        overall=overall,
        by_kind=_grouped(cases, lambda case: case.kind),
        by_channel=_grouped(cases, lambda case: case.channel),
        by_brand=_grouped(cases, lambda case: case.brand),
        outcomes=dict(sorted(outcomes.items())),
    )


def _grouped(cases: list[CaseResult], key: Callable[[CaseResult], str]) -> list[GroupStats]:
    groups: dict[str, GroupStats] = {}
    for case in cases:
        name = key(case)
        groups.setdefault(name, GroupStats(name)).add(case)
    return [groups[name] for name in sorted(groups)]


def _append_number(values: list[float], value: object) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        values.append(float(value))


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def quantile(values: list[float], share: float) -> float | None:
    """Return the nearest-rank quantile of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
