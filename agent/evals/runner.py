"""Run the golden set: draft every selected case, score it, and store the run as it goes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import Settings
from agent.domain import SUPPORTED_KINDS, Draft, DraftRequest
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.services import Services
from agent.evals.golden import DEFAULT_GOLDEN_DIR, GoldenCase, GoldenSet, load_golden
from agent.evals.judge import Judge, JudgeConfig
from agent.evals.results import CaseResult, DraftSnapshot, Outcome, RunRecord, RunStatus
from agent.evals.scorers import (
    check_expectations,
    cost_metrics,
    grounding_metrics,
    length_metrics,
    readability_metrics,
)
from agent.evals.store import EvalStore, Selection, new_run_id
from agent.evals.versions import collect_versions
from agent.evals.voice import VoiceScorer, reference_similarity
from agent.knowledge.brand import list_brands
from agent.knowledge.embeddings import default_embedder
from agent.knowledge.ingest import ingest

log = logging.getLogger(__name__)

# The finding the pipeline adds when the model call itself failed. The eval counts such a case
# as an error, because its fallback copy shows nothing about the model.
MODEL_FAILED_ID = "llm.failed"


class EvalRunFailed(RuntimeError):
    """The run could not produce results: no case matched, or every case failed to draft."""


@dataclass
class RunOptions:
    golden: Path = DEFAULT_GOLDEN_DIR
    tags: list[str] = field(default_factory=list)
    limit: int | None = None
    judge: bool = True
    ingest: bool = True

    def selection(self) -> Selection:
        return Selection(str(self.golden.resolve()), tuple(sorted(self.tags)), self.limit)


class EvalServices(Services):
    """Services whose product catalogue also contains every product named in the golden set.

    The grounding check for products only flags catalogue products, so an empty database
    would let a draft name another customer's product unnoticed.
    """

    def __init__(self, settings: Settings, extra_catalogue: frozenset[str], **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.extra_catalogue = extra_catalogue

    def catalogue(self) -> frozenset[str]:
        return super().catalogue() | self.extra_catalogue


def golden_catalogue(golden: GoldenSet) -> frozenset[str]:
    return frozenset(
        line.description.upper()
        for _, case in golden.cases
        for order in case.context.orders
        for line in order.lines
    )


class CaseScorer:
    """Drafts one golden case with the real pipeline and scores what comes out."""

    def __init__(self, services: Services, voice: VoiceScorer, judge: Judge | None) -> None:
        self.services = services
        self.drafter = Drafter(services)
        self.voice = voice
        self.judge = judge

    def score(self, case: GoldenCase) -> CaseResult:
        if case.kind not in SUPPORTED_KINDS:
            return self._result(
                case, Outcome.SKIPPED, None, error=f"{case.kind} is not drafted yet"
            )
        request = DraftRequest(
            context=case.context,
            kind=case.kind,
            channel=case.channel,
            brand=case.brand,
            as_of=case.as_of,
            copywriter_note=case.copywriter_note,
        )
        try:
            draft = self.drafter.draft(request, save=False)
        except Ineligible as error:
            return self._result(
                case,
                Outcome.INELIGIBLE,
                None,
                ineligible_id=error.finding.check_id,
                ineligible_reason=error.finding.message,
            )
        except Exception as error:  # noqa: BLE001 - one broken case must not end the run
            log.error(
                "drafting failed for eval case %s: %s",
                case.id,
                error,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return self._result(case, Outcome.ERROR, None, error=f"{type(error).__name__}: {error}")
        failed = [f for f in draft.findings if f.check_id == MODEL_FAILED_ID]
        if failed:
            return self._result(case, Outcome.ERROR, draft, error=failed[0].message)
        return self._result(case, Outcome(draft.status.value), draft)

    def _result(
        self,
        case: GoldenCase,
        outcome: Outcome,
        draft: Draft | None,
        *,
        ineligible_id: str | None = None,
        ineligible_reason: str | None = None,
        error: str | None = None,
    ) -> CaseResult:
        checks = check_expectations(
            case,
            outcome,
            None if outcome is Outcome.ERROR else draft,
            ineligible_id=ineligible_id,
            ineligible_reason=ineligible_reason,
            error=error,
        )
        passed = outcome not in (Outcome.ERROR, Outcome.SKIPPED) and all(c.passed for c in checks)
        result = CaseResult(
            case_id=case.id,
            brand=case.brand,
            kind=case.kind.value,
            channel=case.channel.value,
            tags=case.tags,
            outcome=outcome,
            ineligible_id=ineligible_id,
            passed=passed,
            checks=checks,
            error=error,
        )
        if draft is not None:
            result.draft = DraftSnapshot.of(draft)
            result.metrics = self._metrics(case, draft)
            if self.judge is not None and outcome is not Outcome.ERROR:
                result.judge = self.judge.score(case, draft, self.services.brand(case.brand))
        return result

    def _metrics(self, case: GoldenCase, draft: Draft) -> dict:
        brand = self.services.brand(case.brand)
        metrics = cost_metrics(draft) | length_metrics(draft) | readability_metrics(draft)
        metrics |= grounding_metrics(case, draft, brand, self.services.catalogue())
        copy = " ".join(
            draft.fields[name] for name in ("subject", "body") if draft.fields.get(name)
        )
        score = self.voice.score(case.brand, copy)
        metrics["voice_similarity"] = score.similarity if score else None
        metrics["voice_margin"] = score.margin if score else None
        if case.reference and copy:
            metrics["reference_similarity"] = reference_similarity(
                self.voice.embedder, copy, case.reference
            )
        return metrics


CaseCallback = Callable[[int, int, CaseResult], None]


def run_golden(
    settings: Settings,
    options: RunOptions,
    *,
    services: Services | None = None,
    on_start: Callable[[RunRecord, int], None] | None = None,
    on_case: CaseCallback | None = None,
) -> RunRecord:
    """Run the selected golden cases and return the stored run with every case result.

    Raises GoldenSetError for an invalid golden file, ModelFileError when the local model is
    missing, EvalRunFailed when no case matches or every case failed, and the knowledge
    base's errors when it cannot be ingested. Ctrl-C marks the stored run `interrupted`.
    """
    golden = load_golden(options.golden, brands=list_brands(settings.kb_dir))
    cases = golden.select(tags=options.tags, limit=options.limit)
    if not cases:
        tags = ", ".join(options.tags) or "none"
        raise EvalRunFailed(
            f"no golden case under {options.golden} matches the tags ({tags}); "
            f"known tags: {', '.join(golden.tags()) or 'none'}"
        )
    if options.ingest:
        ingest(settings)
    services = services or EvalServices(settings, golden_catalogue(golden))
    versions = collect_versions(settings, [c.brand for c in cases], services.provider.model_name)
    run = RunRecord(
        id=new_run_id(),
        started_at=datetime.now(UTC),
        status=RunStatus.RUNNING,
        golden_path=str(options.golden.resolve()),
        golden_hash=golden.content_hash,
        tags=options.tags,
        limit=options.limit,
        versions=versions.to_dict(),
        settings=run_settings(settings, options),
    )
    store = EvalStore(services.engine)
    store.start(run)
    if on_start is not None:
        on_start(run, len(cases))
    _score_all(store, run, cases, _case_scorer(services, settings, options), on_case)
    return store.get(run.id)


def _case_scorer(services: Services, settings: Settings, options: RunOptions) -> CaseScorer:
    config = JudgeConfig.from_settings(settings) if options.judge else None
    judge = Judge(config) if config is not None else None
    voice = VoiceScorer(settings.kb_dir, default_embedder())
    return CaseScorer(services, voice, judge)


def _score_all(
    store: EvalStore,
    run: RunRecord,
    cases: list[GoldenCase],
    scorer: CaseScorer,
    on_case: CaseCallback | None,
) -> None:
    errors = 0
    try:
        for position, case in enumerate(cases, start=1):
            result = scorer.score(case)
            errors += result.outcome is Outcome.ERROR
            store.add_case(run.id, position, result)
            if on_case is not None:
                on_case(position, len(cases), result)
    except KeyboardInterrupt:
        store.finish(run.id, RunStatus.INTERRUPTED, error="interrupted by the user")
        raise
    if errors == len(cases):
        message = f"all {errors} case(s) failed to draft; see the case errors in run {run.id}"
        store.finish(run.id, RunStatus.FAILED, error=message)
        raise EvalRunFailed(message)
    store.finish(run.id, RunStatus.COMPLETED)


def run_settings(settings: Settings, options: RunOptions) -> dict[str, object]:
    """Return the settings that change what a run drafts or how it is scored."""
    return {
        "llm_provider": settings.llm_provider,
        "llm_model": settings.llm_model,
        "llm_samples": settings.llm_samples,
        "llm_temperature": settings.llm_temperature,
        "retrieval_k": settings.retrieval_k,
        "retrieval_min_score": settings.retrieval_min_score,
        "reask_attempts": settings.reask_attempts,
        "judge_model": settings.judge_model if options.judge else None,
    }
