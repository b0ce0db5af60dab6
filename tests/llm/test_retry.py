"""RetryingProvider: which errors are retried, how long it waits and what it logs."""

from __future__ import annotations

import logging

import pytest

from agent.llm.base import ChatMessage, Completion, LLMError, LLMFailed, LLMTimeout, LLMUnavailable
from agent.llm.local import ModelFileError
from agent.llm.retry import RetryingProvider
from agent.llm.slots import OutputInvalid, SlotSchema

SECRET_PROMPT = "Customer Anna Example lives at 1 Secret Lane"
COMPLETION = Completion('{"subject": "Thanks"}', "fake-model", 10, 5, 0.01)


class ScriptedProvider:
    """A provider that raises or returns the scripted outcomes in order."""

    model_name = "fake-model"

    def __init__(self, *outcomes: Completion | Exception) -> None:
        self.outcomes = list(outcomes)
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
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def call(provider: RetryingProvider, schema: SlotSchema) -> Completion:
    return provider.complete([ChatMessage("user", SECRET_PROMPT)], schema, temperature=0.2)


def test_timeouts_then_success_returns_completion(subject_schema: SlotSchema) -> None:
    inner = ScriptedProvider(LLMTimeout("slow"), LLMUnavailable("down"), COMPLETION)
    waits: list[float] = []
    result = call(RetryingProvider(inner, max_retries=2, sleep=waits.append), subject_schema)
    assert result is COMPLETION
    assert inner.calls == 3
    assert len(waits) == 2


def test_backoff_doubles_up_to_cap(subject_schema: SlotSchema) -> None:
    inner = ScriptedProvider(*[LLMTimeout("slow")] * 5)
    waits: list[float] = []
    provider = RetryingProvider(
        inner, max_retries=4, initial_wait_s=1.0, max_wait_s=3.0, jitter_s=0.0, sleep=waits.append
    )
    with pytest.raises(LLMFailed):
        call(provider, subject_schema)
    assert waits == [1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_within_bound(subject_schema: SlotSchema) -> None:
    inner = ScriptedProvider(*[LLMTimeout("slow")] * 4)
    waits: list[float] = []
    provider = RetryingProvider(
        inner, max_retries=3, initial_wait_s=1.0, max_wait_s=30.0, jitter_s=0.5, sleep=waits.append
    )
    with pytest.raises(LLMFailed):
        call(provider, subject_schema)
    for base, wait in zip([1.0, 2.0, 4.0], waits, strict=True):
        assert base <= wait <= base + 0.5


def test_output_invalid_is_not_retried(subject_schema: SlotSchema) -> None:
    inner = ScriptedProvider(OutputInvalid("not JSON", "garbage"), COMPLETION)
    with pytest.raises(OutputInvalid):
        call(RetryingProvider(inner, sleep=lambda _: None), subject_schema)
    assert inner.calls == 1


def test_plain_llm_error_is_not_retried(subject_schema: SlotSchema) -> None:
    inner = ScriptedProvider(LLMError("empty content"), COMPLETION)
    with pytest.raises(LLMError, match="empty content"):
        call(RetryingProvider(inner, sleep=lambda _: None), subject_schema)
    assert inner.calls == 1


def test_missing_model_file_is_not_retried(subject_schema: SlotSchema) -> None:
    inner = ScriptedProvider(ModelFileError("model file not found"), COMPLETION)
    with pytest.raises(ModelFileError):
        call(RetryingProvider(inner, sleep=lambda _: None), subject_schema)
    assert inner.calls == 1


def test_failed_names_model_attempts_and_last_error(subject_schema: SlotSchema) -> None:
    last = LLMUnavailable("connection refused")
    inner = ScriptedProvider(LLMTimeout("slow"), last)
    with pytest.raises(LLMFailed) as caught:
        call(RetryingProvider(inner, max_retries=1, sleep=lambda _: None), subject_schema)
    assert caught.value.attempts == 2
    assert caught.value.last_error is last
    assert caught.value.__cause__ is last
    assert "'fake-model'" in str(caught.value)
    assert "2 attempt(s)" in str(caught.value)
    assert "connection refused" in str(caught.value)


def test_zero_retries_makes_one_attempt(subject_schema: SlotSchema) -> None:
    inner = ScriptedProvider(LLMTimeout("slow"))
    with pytest.raises(LLMFailed) as caught:
        call(RetryingProvider(inner, max_retries=0, sleep=lambda _: None), subject_schema)
    assert caught.value.attempts == 1


def test_each_retry_is_logged_without_prompt(
    subject_schema: SlotSchema, caplog: pytest.LogCaptureFixture
) -> None:
    inner = ScriptedProvider(LLMTimeout("slow"), LLMTimeout("slow"), COMPLETION)
    with caplog.at_level(logging.WARNING, logger="agent.llm.retry"):
        call(RetryingProvider(inner, max_retries=2, sleep=lambda _: None), subject_schema)
    records = [record for record in caplog.records if record.name == "agent.llm.retry"]
    assert len(records) == 2
    assert all(record.levelno == logging.WARNING for record in records)
    assert "fake-model attempt 1 of 3 failed with LLMTimeout" in records[0].getMessage()
    assert SECRET_PROMPT not in caplog.text


def test_model_name_comes_from_wrapped_provider() -> None:
    assert RetryingProvider(ScriptedProvider()).model_name == "fake-model"


def test_negative_max_retries_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryingProvider(ScriptedProvider(), max_retries=-1)
