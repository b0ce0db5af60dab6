"""The provider interface every LLM backend implements, and its typed errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent.llm.slots import SlotSchema


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Completion:
    """One model response with its token usage. `latency_s` times the model call alone."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


class LLMError(Exception):
    """Base class for provider failures."""


class LLMTimeout(LLMError):
    """One model call ran past the configured timeout."""


class LLMUnavailable(LLMError):
    """The model could not be loaded or the endpoint could not be reached."""


class LLMFailed(LLMError):
    """Every attempt failed; `last_error` is the final attempt's error."""

    def __init__(self, message: str, attempts: int, last_error: BaseException) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


class LLMProvider(Protocol):
    model_name: str

    def complete(
        self,
        messages: list[ChatMessage],
        schema: SlotSchema,
        *,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        """Return the model's JSON output, constrained to `schema` where the backend can."""
        ...
