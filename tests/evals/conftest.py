"""Factories for eval tests: golden cases and files, drafts, case results and a fake model."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.domain import Channel, Draft, DraftStatus, Finding, MessageKind, Severity
from agent.evals.results import CaseResult, CheckResult, Outcome, RunRecord, RunStatus
from agent.llm.base import ChatMessage, Completion
from agent.llm.slots import SlotSchema

AS_OF = "2011-12-09T12:00:00+00:00"

BASE_CASE: dict[str, Any] = {
    "id": "of-email-basic",
    "brand": "hearth-and-holly",
    "kind": "order_followup",
    "channel": "email",
    "tags": ["basic"],
    "as_of": AS_OF,
    "context": {
        "first_name": "Sam",
        "country": "United Kingdom",
        "orders": [
            {
                "order_id": "581001",
                "placed_at": "2011-11-28T10:15:00+00:00",
                "status": "delivered",
                "delivered_at": "2011-12-01T14:00:00+00:00",
                "lines": [
                    {
                        "stock_code": "85123A",
                        "description": "WHITE HANGING HEART T-LIGHT HOLDER",
                        "quantity": 6,
                        "unit_price": "2.95",
                    }
                ],
            }
        ],
    },
    "expect": {"status": ["ready"], "facts": ["Order 581001"]},
}


def case_data(**overrides: Any) -> dict[str, Any]:
    """Return a valid golden case as plain data, with top-level keys replaced."""
    data = copy.deepcopy(BASE_CASE)
    data.update(copy.deepcopy(overrides))
    return data


def write_golden(
    path: Path, cases: list[dict[str, Any]], defaults: dict[str, Any] | None = None
) -> Path:
    document: dict[str, Any] = {"defaults": defaults} if defaults else {}
    document["cases"] = cases
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    return path


def make_draft(**overrides: Any) -> Draft:
    values: dict[str, Any] = {
        "id": "d1",
        "created_at": datetime(2011, 12, 9, 12, tzinfo=UTC),
        "customer_id": "of-email-basic",
        "brand": "hearth-and-holly",
        "kind": MessageKind.ORDER_FOLLOWUP,
        "channel": Channel.EMAIL,
        "status": DraftStatus.READY,
        "subject": "Your order is on its way",
        "text": "Hi Sam,\n\nThank you for your order.\n\nOrder 581001, placed 28 November 2011\n",
        "fields": {
            "call_to_action": "View your order",
            "subject": "Your order is on its way",
            "body": "Thank you for your order.",
        },
        "model": "scripted",
        "attempts": 1,
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "latency_ms": 1200,
    }
    return Draft(**(values | overrides))


def finding(check_id: str, severity: Severity = Severity.WARN) -> Finding:
    return Finding(check_id=check_id, severity=severity, message=f"{check_id} found")


def case_result(case_id: str, passed: bool, **overrides: Any) -> CaseResult:
    values: dict[str, Any] = {
        "case_id": case_id,
        "brand": "hearth-and-holly",
        "kind": "order_followup",
        "channel": "email",
        "outcome": Outcome.READY if passed else Outcome.NEEDS_REVIEW,
        "passed": passed,
        "checks": [
            CheckResult(
                name="status",
                passed=passed,
                detail="" if passed else "expected ready, got needs_review",
            )
        ],
        "metrics": {"model_text_kept": passed, "latency_ms": 1000, "voice_similarity": 0.5},
    }
    return CaseResult(**(values | overrides))


def run_record(run_id: str, cases: list[CaseResult], **overrides: Any) -> RunRecord:
    values: dict[str, Any] = {
        "id": run_id,
        "started_at": datetime(2011, 12, 9, 12, tzinfo=UTC),
        "status": RunStatus.COMPLETED,
        "golden_path": "evals/golden",
        "golden_hash": "g" * 64,
        "versions": {
            "provider": "local",
            "model": "SmolLM2",
            "model_hash": "m" * 64,
            "prompts_hash": "p" * 64,
            "templates_hash": "t" * 64,
            "kb_hashes": {"hearth-and-holly": "k" * 64},
        },
        "cases": cases,
    }
    return RunRecord(**(values | overrides))


# Model-written field values that pass every check, per kind and field. The slot's fixed
# prefix and suffix are added around them, as the grammar would.
GOOD_FIELDS: dict[str, dict[str, str]] = {
    "order_followup": {
        "subject": " and a thank you",
        "body": " your order. We hope you enjoy it at home.",
    },
    "review_request": {
        "subject": " your order",
        "body": " order and that it is proving useful. A short honest review would help others.",
    },
    "usage_tip": {"subject": " your order", "body": " order, so here is a simple tip."},
    "winback": {
        "subject": " and hope you are well",
        "body": " and we would love to welcome you back.",
    },
}
# A banned phrase of both brands, so every sample fails `voice.banned_phrases`.
BAD_BODY = " your order. Hurry, do not miss out on what is new."


class SlotModel:
    """A fake model that fills each slot with a fixed value: good copy, or banned copy.

    It fills any schema, including the reask schemas with only the failing fields, so the
    number of calls the pipeline makes does not matter.
    """

    model_name = "slot-model"

    def __init__(self, *, bad_body: bool = False) -> None:
        self.bad_body = bad_body
        self.calls = 0

    def complete(
        self,
        messages: list[ChatMessage],
        schema: SlotSchema,
        *,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        self.calls += 1
        kind = next(name for name in GOOD_FIELDS if schema.name.startswith(name))
        fields = {}
        for slot in schema.slots:
            middle = GOOD_FIELDS[kind][slot.name]
            if self.bad_body and slot.name == "body":
                middle = BAD_BODY
            fields[slot.name] = f"{slot.prefix}{middle}{slot.suffix}"
        return Completion(json.dumps(fields), self.model_name, 100, 20, 0.01)


@pytest.fixture
def eval_settings(prepared_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings over the prepared knowledge base, with a database of this test's own."""
    from agent.config import Settings, get_settings

    database_url = f"sqlite:///{tmp_path / 'evals.db'}"
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(prepared_data_dir))
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield Settings(data_dir=prepared_data_dir, database_url=database_url)
    get_settings.cache_clear()


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlotModel]:
    """Make every Services in this test draft with a SlotModel instead of the configured model."""
    model = SlotModel()
    monkeypatch.setattr("agent.drafting.services.build_provider", lambda settings: model)
    yield model
