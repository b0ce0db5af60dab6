"""The runner with a fake model over the real pipeline, knowledge base and database."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.evals.golden import load_golden
from agent.evals.results import Outcome, RunStatus
from agent.evals.runner import EvalRunFailed, EvalServices, RunOptions, golden_catalogue, run_golden
from agent.evals.store import EvalStore
from agent.llm.base import LLMError
from agent.llm.local import ModelFileError
from tests.evals.conftest import case_data, write_golden
from tests.fakes import ScriptedProvider

CONSENTED = {"email_marketing": True}


def cases() -> list[dict]:
    winback = case_data(
        id="wb-new",
        kind="winback",
        tags=["basic", "marketing"],
        expect={"status": "ready", "must_not_contain": ["%"]},
    )
    winback["context"]["consent"] = CONSENTED
    no_consent = case_data(
        id="rr-opted-out",
        kind="review_request",
        tags=["marketing"],
        expect={"ineligible": "compliance.consent"},
    )
    no_consent["context"]["consent"] = {"email_marketing": False}
    return [case_data(), winback, no_consent]


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return write_golden(tmp_path / "golden" / "cases.yaml", cases())


def options(golden: Path, **overrides) -> RunOptions:
    return RunOptions(golden=golden, ingest=False, judge=False, **overrides)


def test_run_scores_every_case(eval_settings, fake_model, golden: Path) -> None:
    record = run_golden(eval_settings, options(golden))
    assert record.status is RunStatus.COMPLETED
    results = {case.case_id: case for case in record.cases}
    assert results["of-email-basic"].outcome is Outcome.READY
    assert results["of-email-basic"].passed
    assert results["of-email-basic"].metrics["model_text_kept"] is True
    assert results["of-email-basic"].metrics["voice_similarity"] is not None
    assert results["wb-new"].metrics["approved_copy"] is True
    assert results["rr-opted-out"].outcome is Outcome.INELIGIBLE
    assert results["rr-opted-out"].ineligible_id == "compliance.consent"
    assert results["rr-opted-out"].passed


def test_run_records_versions(eval_settings, fake_model, golden: Path) -> None:
    record = run_golden(eval_settings, options(golden))
    assert record.versions["model"] == "slot-model"
    assert len(str(record.versions["model_hash"])) == 64
    assert set(record.versions["kb_hashes"]) == {"hearth-and-holly"}
    assert record.golden_hash == load_golden(golden).content_hash


def test_run_is_stored(eval_settings, fake_model, golden: Path) -> None:
    record = run_golden(eval_settings, options(golden, tags=["marketing"]))
    stored = EvalStore(EvalServices(eval_settings, frozenset()).engine).get(record.id)
    assert [case.case_id for case in stored.cases] == ["wb-new", "rr-opted-out"]
    assert stored.tags == ["marketing"]


def test_fallback_draft_fails_ready_case(eval_settings, fake_model, golden: Path) -> None:
    fake_model.bad_body = True
    record = run_golden(eval_settings, options(golden, limit=1))
    result = record.cases[0]
    assert result.outcome is Outcome.NEEDS_REVIEW
    assert not result.passed
    assert result.metrics["model_text_kept"] is False
    assert result.draft is not None
    assert "drafting.fallback" in result.draft.finding_ids


def test_model_failure_is_case_error(eval_settings, golden: Path) -> None:
    failing = ScriptedProvider([LLMError("connection refused")] * 10)
    services = EvalServices(eval_settings, frozenset(), provider=failing)
    with pytest.raises(EvalRunFailed, match="all 1 case"):
        run_golden(eval_settings, options(golden, limit=1), services=services)
    stored = EvalStore(services.engine).list(limit=1)[0][0]
    assert stored.status is RunStatus.FAILED


def test_no_matching_tag_fails(eval_settings, fake_model, golden: Path) -> None:
    with pytest.raises(EvalRunFailed, match="known tags: basic, marketing"):
        run_golden(eval_settings, options(golden, tags=["absent"]))


def test_missing_model_file_fails(eval_settings, fake_model, golden: Path, tmp_path) -> None:
    settings = eval_settings.model_copy(update={"llm_model_path": tmp_path / "absent.gguf"})
    with pytest.raises(ModelFileError, match="not found"):
        run_golden(settings, options(golden))


def test_golden_catalogue_is_upper_case(golden: Path) -> None:
    catalogue = golden_catalogue(load_golden(golden))
    assert catalogue == frozenset({"WHITE HANGING HEART T-LIGHT HOLDER"})
