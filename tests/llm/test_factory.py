"""build_provider: the provider each setting selects, and the errors for missing settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import Settings
from agent.llm.factory import ProviderConfigError, build_provider
from agent.llm.local import LocalLlamaProvider
from agent.llm.openai_compat import OpenAICompatProvider
from agent.llm.retry import RetryingProvider


@pytest.fixture(autouse=True)
def clear_aftercare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove AFTERCARE_* variables so that only the values each test passes apply."""
    for name in list(os.environ):
        if name.startswith("AFTERCARE_"):
            monkeypatch.delenv(name)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_local_provider_is_the_default() -> None:
    provider = build_provider(settings(llm_max_retries=4, llm_timeout_s=12.0, llm_threads=2))
    assert isinstance(provider, RetryingProvider)
    assert provider.max_retries == 4
    inner = provider.provider
    assert isinstance(inner, LocalLlamaProvider)
    assert inner.model_name == "SmolLM2-135M-Instruct.Q4_1"
    assert inner.timeout_s == 12.0
    assert inner.n_threads == 2


def test_local_provider_uses_configured_model_path(tmp_path: Path) -> None:
    path = tmp_path / "custom-model.Q8_0.gguf"
    provider = build_provider(settings(llm_model_path=path))
    assert provider.model_name == "custom-model.Q8_0"


def test_openai_provider_uses_endpoint_settings() -> None:
    provider = build_provider(
        settings(
            llm_provider="openai",
            llm_base_url="http://127.0.0.1:9/v1",
            llm_model="served-model",
            llm_api_key="test-key",
            llm_timeout_s=7.0,
        )
    )
    assert isinstance(provider, RetryingProvider)
    inner = provider.provider
    assert isinstance(inner, OpenAICompatProvider)
    assert inner.model_name == "served-model"
    assert inner.base_url == "http://127.0.0.1:9/v1"
    assert inner.timeout_s == 7.0


def test_openai_provider_without_base_url_names_variable() -> None:
    with pytest.raises(ProviderConfigError, match="AFTERCARE_LLM_BASE_URL") as caught:
        build_provider(settings(llm_provider="openai", llm_model="served-model"))
    assert "AFTERCARE_LLM_MODEL" not in str(caught.value)


def test_openai_provider_without_settings_names_both_variables() -> None:
    with pytest.raises(ValueError) as caught:
        build_provider(settings(llm_provider="openai"))
    assert "AFTERCARE_LLM_BASE_URL" in str(caught.value)
    assert "AFTERCARE_LLM_MODEL" in str(caught.value)
