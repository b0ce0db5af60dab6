"""Expectation checks and draft metrics on hand-built drafts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agent.config import PROJECT_ROOT
from agent.domain import Attempt, Channel, DraftStatus, Severity
from agent.drafting.pipeline import APPROVED_COPY_MODEL
from agent.evals.golden import GoldenCase
from agent.evals.results import Outcome
from agent.evals.scorers import (
    check_expectations,
    cost_metrics,
    grounding_metrics,
    length_metrics,
    model_written_fields,
    readability_metrics,
)
from agent.knowledge.brand import load_brand
from tests.evals.conftest import case_data, finding, make_draft


def golden_case(**expect: Any) -> GoldenCase:
    return GoldenCase.model_validate(case_data(expect={"status": "ready"} | expect))


def results(case: GoldenCase, draft=None, outcome: Outcome = Outcome.READY, **kwargs):
    draft = make_draft() if draft is None and outcome in (Outcome.READY,) else draft
    return {c.name: c for c in check_expectations(case, outcome, draft, **kwargs)}


def test_status_passes_when_allowed() -> None:
    assert results(golden_case())["status"].passed


def test_status_failure_lists_findings() -> None:
    draft = make_draft(status=DraftStatus.NEEDS_REVIEW, findings=[finding("voice.length")])
    check = results(golden_case(), draft, Outcome.NEEDS_REVIEW)["status"]
    assert not check.passed
    assert check.detail == "expected ready, got needs_review (voice.length)"


def test_fact_found_ignoring_case_and_punctuation() -> None:
    draft = make_draft(text="Hi Zoë,\n\nYour t\u2011light holder’s on its way.")
    checks = results(golden_case(facts=["T-LIGHT HOLDER'S", "hi zoë"]), draft)
    assert checks["fact: T-LIGHT HOLDER'S"].passed
    assert checks["fact: hi zoë"].passed


def test_fact_in_decomposed_text_matches_composed() -> None:
    draft = make_draft(text="Hi Zoe\u0308,")
    assert results(golden_case(facts=["Hi Zoë,"]), draft)["fact: Hi Zoë,"].passed


def test_fact_missing_fails_with_detail() -> None:
    check = results(golden_case(facts=["Order 999"]))["fact: Order 999"]
    assert not check.passed
    assert check.detail == "'Order 999' not found in the message"


def test_fact_area_subject_and_body() -> None:
    draft = make_draft(subject="Your order", fields={"body": "Your t-light holder"})
    facts = [{"text": "t-light", "where": "subject"}, {"text": "t-light", "where": "body"}]
    checks = results(golden_case(facts=facts), draft)
    assert not checks["fact: t-light (in subject)"].passed
    assert checks["fact: t-light (in body)"].passed


def test_must_not_contain() -> None:
    draft = make_draft(text="Enjoy 10% off")
    checks = results(golden_case(must_not_contain=["%", "code"]), draft)
    assert not checks["excludes: %"].passed
    assert checks["excludes: code"].passed


def test_findings_expected_and_forbidden() -> None:
    draft = make_draft(findings=[finding("compliance.quiet_hours")])
    checks = results(
        golden_case(
            findings_expected=["compliance.quiet_hours", "privacy.injection"],
            findings_forbidden=["grounding.products"],
        ),
        draft,
    )
    assert checks["finding expected: compliance.quiet_hours"].passed
    assert not checks["finding expected: privacy.injection"].passed
    assert checks["finding forbidden: grounding.products"].passed


def test_forbidden_finding_reported_fails() -> None:
    draft = make_draft(findings=[finding("grounding.products", Severity.BLOCK)])
    checks = results(golden_case(findings_forbidden=["grounding.products"]), draft)
    assert not checks["finding forbidden: grounding.products"].passed


@pytest.mark.parametrize(
    ("wanted", "send_after", "passed"),
    [
        (True, datetime(2011, 12, 9, 13, tzinfo=UTC), True),
        (True, None, False),
        (True, datetime(2011, 12, 9, 12, tzinfo=UTC), False),
        (False, None, True),
        (False, datetime(2011, 12, 10, 8, tzinfo=UTC), False),
    ],
)
def test_send_after(wanted: bool, send_after: datetime | None, passed: bool) -> None:
    draft = make_draft(send_after=send_after)
    assert results(golden_case(send_after=wanted), draft)["send_after"].passed is passed


def test_length_bounds() -> None:
    draft = make_draft(text="one two three four five")
    bounds = {"min_words": 6, "max_words": 10, "max_chars": 10}
    checks = results(golden_case(length=bounds), draft)
    assert not checks["length.min_words"].passed
    assert checks["length.min_words"].detail == "5 < 6"
    assert checks["length.max_words"].passed
    assert not checks["length.max_chars"].passed


def test_sms_segment_bound_counts_ucs2() -> None:
    draft = make_draft(channel=Channel.SMS, text="Hi 美咲, " + "a" * 70)
    check = results(golden_case(length={"max_sms_segments": 1}), draft)["length.max_sms_segments"]
    assert not check.passed
    assert check.detail == "2 > 1"


def test_ineligible_expected_and_found() -> None:
    case = golden_case(status=None, ineligible="compliance.consent")
    checks = results(case, None, Outcome.INELIGIBLE, ineligible_id="compliance.consent")
    assert list(checks) == ["ineligible"]
    assert checks["ineligible"].passed


def test_ineligible_by_other_finding_fails() -> None:
    case = golden_case(status=None, ineligible="appropriateness.open_ticket")
    checks = results(case, None, Outcome.INELIGIBLE, ineligible_id="compliance.consent")
    assert not checks["ineligible"].passed


def test_draft_when_ineligible_expected_fails() -> None:
    case = golden_case(status=None, ineligible="compliance.consent")
    check = results(case)["ineligible"]
    assert not check.passed
    assert "a draft was made" in check.detail


def test_not_drafted_when_draft_expected_fails() -> None:
    checks = results(
        golden_case(),
        None,
        Outcome.INELIGIBLE,
        ineligible_id="compliance.consent",
        ineligible_reason="no consent",
    )
    assert not checks["status"].passed
    assert "compliance.consent: no consent" in checks["status"].detail


def test_error_outcome_is_one_failed_check() -> None:
    checks = results(golden_case(facts=["x"]), None, Outcome.ERROR, error="boom")
    assert list(checks) == ["draft"]
    assert checks["draft"].detail == "boom"


def test_model_written_fields_skip_fallback_and_button() -> None:
    draft = make_draft(fallback_fields=["subject"])
    assert model_written_fields(draft) == {"body": "Thank you for your order."}
    assert model_written_fields(make_draft(model=APPROVED_COPY_MODEL)) == {}


def test_cost_metrics_mark_fallback() -> None:
    metrics = cost_metrics(make_draft())
    assert metrics["model_text_kept"] is True
    assert metrics["latency_ms"] == 1200
    assert cost_metrics(make_draft(fallback_fields=["body"]))["model_text_kept"] is False
    assert cost_metrics(make_draft(model=APPROVED_COPY_MODEL))["model_text_kept"] is False


def test_length_metrics_for_sms() -> None:
    metrics = length_metrics(make_draft(channel=Channel.SMS, text="HearthHolly: Hello, thanks."))
    assert metrics["words"] == 3
    assert metrics["sms_segments"] == 1
    assert metrics["sms_encoding"] == "GSM-7"


def test_readability_scores_body() -> None:
    plain = readability_metrics(make_draft(fields={"body": "We hope you like it. It is warm."}))
    dense = readability_metrics(
        make_draft(
            fields={
                "body": "Notwithstanding considerable organisational complexity, "
                "administrative responsibilities necessitate comprehensive documentation."
            }
        )
    )
    assert plain["reading_ease"] > dense["reading_ease"]
    assert plain["reading_grade"] < dense["reading_grade"]
    assert readability_metrics(make_draft(fields={}))["reading_ease"] is None


@pytest.fixture
def brand():
    return load_brand(PROJECT_ROOT / "kb", "hearth-and-holly")


def test_grounding_counts_invented_name_and_product(brand) -> None:
    case = golden_case(facts=["Order 581001", "Order 2"])
    draft = make_draft(
        fields={
            "subject": "Your order",
            "body": "Thank you, Gerald, for the REGENCY CAKESTAND 3 TIER.",
        }
    )
    catalogue = frozenset({"REGENCY CAKESTAND 3 TIER", "WHITE HANGING HEART T-LIGHT HOLDER"})
    metrics = grounding_metrics(case, draft, brand, catalogue)
    assert metrics["facts_covered"] == 0.5
    assert metrics["unknown_entities"] >= 2
    assert "Gerald" in str(metrics["unknown_entity_spans"])


def test_grounding_clean_draft(brand) -> None:
    case = golden_case(facts=["Order 581001"])
    metrics = grounding_metrics(case, make_draft(), brand, frozenset())
    assert metrics["unknown_entities"] == 0
    assert metrics["facts_covered"] == 1.0
    assert "attempt_grounding_findings" not in metrics


def test_grounding_counts_attempt_findings(brand) -> None:
    attempts = [
        Attempt(number=1, findings=[finding("grounding.names"), finding("voice.length")]),
        Attempt(number=2, findings=[finding("grounding.numbers")]),
    ]
    metrics = grounding_metrics(golden_case(), make_draft(attempt_log=attempts), brand, frozenset())
    assert metrics["attempt_grounding_findings"] == 2
