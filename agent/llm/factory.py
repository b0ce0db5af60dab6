"""Build the configured LLM provider from Settings."""

from __future__ import annotations

import os

from agent.config import Settings
from agent.llm.base import LLMProvider
from agent.llm.local import LocalLlamaProvider
from agent.llm.openai_compat import OpenAICompatProvider
from agent.llm.retry import RetryingProvider


class ProviderConfigError(ValueError):
    """The settings do not describe a usable provider."""


def build_provider(settings: Settings) -> LLMProvider:
    """Build the provider that `settings.llm_provider` names, wrapped in RetryingProvider.

    The local model loads on its first call, not here. Raises ProviderConfigError when the
    `openai` provider lacks AFTERCARE_LLM_BASE_URL or AFTERCARE_LLM_MODEL.
    """
    if settings.llm_provider == "openai":
        provider: LLMProvider = _openai_provider(settings)
    else:
        provider = LocalLlamaProvider(
            settings.llm_model_path,
            n_threads=settings.llm_threads or os.cpu_count(),
            timeout_s=settings.llm_timeout_s,
        )
    return RetryingProvider(provider, max_retries=settings.llm_max_retries)


def _openai_provider(settings: Settings) -> OpenAICompatProvider:
    missing = [
        variable
        for variable, value in (
            ("AFTERCARE_LLM_BASE_URL", settings.llm_base_url),
            ("AFTERCARE_LLM_MODEL", settings.llm_model),
        )
        if not value
    ]
    if missing or settings.llm_base_url is None or settings.llm_model is None:
        raise ProviderConfigError(
            f"AFTERCARE_LLM_PROVIDER=openai needs {' and '.join(missing)}; set them in the "
            "environment or .env, or set AFTERCARE_LLM_PROVIDER=local"
        )
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAICompatProvider(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=api_key,
        timeout_s=settings.llm_timeout_s,
        response_format=settings.llm_response_format,
    )
