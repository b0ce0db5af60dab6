"""The results of an eval run: one record per case, and the run with its inputs and summary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from agent.domain import Draft


class Outcome(StrEnum):
    """The result of drafting a case: a draft status, no draft, or no result at all."""

    READY = "ready"
    NEEDS_REVIEW = "needs_review"
    BLOCKED = "blocked"
    INELIGIBLE = "ineligible"
    # The kind is valid but the pipeline does not draft it yet.
    SKIPPED = "skipped"
    # An unexpected exception while drafting; the run goes on with the next case.
    ERROR = "error"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CheckResult(_Record):
    """One expectation of a case and whether the draft met it."""

    name: str
    passed: bool
    detail: str = ""


class DraftSnapshot(_Record):
    """The parts of a draft that reports and comparisons show."""

    status: str
    subject: str | None = None
    text: str
    fields: dict[str, str]
    fallback_fields: list[str] = Field(default_factory=list)
    finding_ids: list[str] = Field(default_factory=list)
    finding_messages: list[str] = Field(default_factory=list)
    model: str
    attempts: int = 0
    send_after: datetime | None = None

    @classmethod
    def of(cls, draft: Draft) -> DraftSnapshot:
        return cls(
            status=draft.status.value,
            subject=draft.subject,
            text=draft.text,
            fields=draft.fields,
            fallback_fields=draft.fallback_fields,
            finding_ids=[finding.check_id for finding in draft.findings],
            finding_messages=[
                f"{finding.severity.value} {finding.check_id}: {finding.message}"
                for finding in draft.findings
            ],
            model=draft.model,
            attempts=draft.attempts,
            send_after=draft.send_after,
        )


class JudgeResult(_Record):
    """An LLM judge's scores for one case, from 1 (poor) to 5 (excellent), one per sample."""

    scores: list[int] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    invalid_samples: int = 0
    mean: float | None = None
    spread: int | None = None
    disagreement: bool = False
    error: str | None = None


class CaseResult(_Record):
    case_id: str
    brand: str
    kind: str
    channel: str
    tags: list[str] = Field(default_factory=list)
    outcome: Outcome
    # The finding id that made the request ineligible.
    ineligible_id: str | None = None
    passed: bool
    checks: list[CheckResult] = Field(default_factory=list)
    metrics: dict[str, float | int | bool | str | None] = Field(default_factory=dict)
    draft: DraftSnapshot | None = None
    judge: JudgeResult | None = None
    error: str | None = None

    def failed_checks(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def model_text_kept(self) -> bool:
        return bool(self.metrics.get("model_text_kept"))


class RunRecord(_Record):
    """A stored run: its inputs, filters, status and the results of every case it scored."""

    id: str
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus
    golden_path: str
    golden_hash: str
    tags: list[str] = Field(default_factory=list)
    limit: int | None = None
    versions: dict[str, object] = Field(default_factory=dict)
    settings: dict[str, object] = Field(default_factory=dict)
    error: str | None = None
    cases: list[CaseResult] = Field(default_factory=list)

    def case(self, case_id: str) -> CaseResult | None:
        return next((case for case in self.cases if case.case_id == case_id), None)
