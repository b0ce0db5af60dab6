"""Retries for any LLMProvider: transient failures only, with capped backoff and jitter."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from agent.llm.base import (
    ChatMessage,
    Completion,
    LLMFailed,
    LLMProvider,
    LLMTimeout,
    LLMUnavailable,
)
from agent.llm.openai_compat import LLMRetryableHTTPError
from agent.llm.slots import SlotSchema

logger = logging.getLogger(__name__)

# Errors that a later attempt can fix, unless the error sets `retryable = False` (a missing
# model file). LLMHTTPError for 400 or 401, OutputInvalid and every other exception go
# straight to the caller.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    LLMTimeout,
    LLMUnavailable,
    LLMRetryableHTTPError,
)


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, RETRYABLE_ERRORS) and getattr(error, "retryable", True)


class RetryingProvider:
    """Wrap an LLMProvider so that timeouts, unreachable endpoints, 429 and 5xx are retried.

    The wait before retry n is `initial_wait_s * 2 ** (n - 1)` plus up to `jitter_s` of random
    jitter, capped at `max_wait_s`. A Retry-After delay from the server replaces that wait,
    also capped at `max_wait_s`. `sleep` performs the wait; tests pass a function that
    records the delay and returns at once.
    """

    def __init__(
        self,
        provider: LLMProvider,
        *,
        max_retries: int = 2,
        initial_wait_s: float = 0.5,
        max_wait_s: float = 10.0,
        jitter_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries!r}")
        self.provider = provider
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self._backoff = wait_exponential_jitter(
            multiplier=initial_wait_s, max=max_wait_s, jitter=jitter_s
        )
        self._sleep = sleep

    @property
    def model_name(self) -> str:
        return self.provider.model_name

    def complete(
        self,
        messages: list[ChatMessage],
        schema: SlotSchema,
        *,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        """Call the wrapped provider, retrying transient errors up to `max_retries` times.

        Raises LLMFailed when every attempt failed with a retryable error, and re-raises any
        other error from the first attempt that hit it.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            sleep=self._sleep,
            before_sleep=self._log_retry,
        )
        try:
            return retrying(
                self.provider.complete, messages, schema, temperature=temperature, seed=seed
            )
        except RetryError as error:
            attempts = error.last_attempt.attempt_number
            # RetryError follows a failed attempt, so the fallback to `error` is never used.
            last_error = error.last_attempt.exception() or error
            raise LLMFailed(
                f"model {self.model_name!r} failed after {attempts} attempt(s); last error: "
                f"{type(last_error).__name__}: {last_error}",
                attempts=attempts,
                last_error=last_error,
            ) from last_error

    def _wait(self, retry_state: RetryCallState) -> float:
        """Return the server's Retry-After delay when it sent one, else exponential backoff."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after_s = getattr(error, "retry_after_s", None)
        if retry_after_s is not None:
            return min(float(retry_after_s), self.max_wait_s)
        return self._backoff(retry_state)

    def _log_retry(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        status_code = getattr(error, "status_code", None)
        wait_s = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning(
            "model %s attempt %d of %d failed with %s%s; retrying in %.2f s",
            self.model_name,
            retry_state.attempt_number,
            self.max_retries + 1,
            type(error).__name__,
            f" (HTTP {status_code})" if status_code is not None else "",
            wait_s,
        )
