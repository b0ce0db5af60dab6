"""A provider for any server that speaks the OpenAI chat completions API."""

from __future__ import annotations

import email.utils
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

import openai

from agent.llm.base import ChatMessage, Completion, LLMError, LLMTimeout, LLMUnavailable
from agent.llm.grammar import max_tokens_for, slot_json_schema
from agent.llm.slots import SlotSchema

logger = logging.getLogger(__name__)

ResponseFormatMode = Literal["json_schema", "json_object"]

# Maximum number of characters of a server's error message copied into an exception.
MAX_ERROR_DETAIL_CHARS = 300


class LLMHTTPError(LLMError):
    """An HTTP error status from the endpoint that a retry would not fix (400, 401)."""

    def __init__(self, message: str, *, status_code: int, model: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.model = model


class LLMRetryableHTTPError(LLMHTTPError):
    """An HTTP 429 or 5xx status, with the Retry-After delay in `retry_after_s` when sent."""

    def __init__(
        self, message: str, *, status_code: int, model: str, retry_after_s: float | None
    ) -> None:
        super().__init__(message, status_code=status_code, model=model)
        self.retry_after_s = retry_after_s


def is_retryable_status(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def parse_retry_after(headers: Any, now: datetime | None = None) -> float | None:
    """Return the delay in seconds from `retry-after-ms` or `retry-after`, or None if absent.

    `retry-after` may be a number of seconds or an HTTP date. Invalid values count as absent,
    and a date in the past gives 0.
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


class OpenAICompatProvider:
    """An LLMProvider backed by an OpenAI-compatible `/chat/completions` endpoint.

    The client never retries by itself; wrap this provider in RetryingProvider. The slot
    schema goes out as a JSON Schema, and how closely the output follows it depends on the
    server, so callers must still run `schema.parse`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_s: float,
        response_format: ResponseFormatMode = "json_schema",
    ) -> None:
        if response_format not in ("json_schema", "json_object"):
            raise ValueError(
                f"response_format must be 'json_schema' or 'json_object', got {response_format!r}"
            )
        self.base_url = base_url
        self.model_name = model
        self.timeout_s = timeout_s
        self.response_format = response_format
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,
        )

    def complete(
        self,
        messages: list[ChatMessage],
        schema: SlotSchema,
        *,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        """Send one chat completion request and return the message content unparsed.

        Raises LLMTimeout, LLMUnavailable, LLMRetryableHTTPError (429, 5xx), LLMHTTPError
        (other error statuses) or LLMError (a response without message content).
        """
        request: dict[str, Any] = {
            "model": self.model_name,
            "messages": [
                {"role": message.role, "content": message.content} for message in messages
            ],
            "temperature": temperature,
            # Sent as max_tokens because llama_cpp.server 0.3 ignores max_completion_tokens.
            "max_tokens": max_tokens_for(schema),
            "response_format": self._response_format(schema),
        }
        if seed is not None:
            request["seed"] = seed
        started = time.perf_counter()
        response = self._send(request)
        latency_s = time.perf_counter() - started
        text = self._content(response)
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage and usage.prompt_tokens else 0
        completion_tokens = usage.completion_tokens if usage and usage.completion_tokens else 0
        logger.debug(
            "model %s completed %s: %d prompt tokens, %d completion tokens, %.3f s",
            self.model_name,
            schema.name,
            prompt_tokens,
            completion_tokens,
            latency_s,
        )
        return Completion(text, self.model_name, prompt_tokens, completion_tokens, latency_s)

    def _response_format(self, schema: SlotSchema) -> dict[str, Any]:
        json_schema = slot_json_schema(schema)
        if self.response_format == "json_object":
            # llama_cpp.server 0.3.36 builds its decoding grammar from this key.
            return {"type": "json_object", "schema": json_schema}
        # NOTE: "strict" is left off because the OpenAI API reference allows only a subset of
        # JSON Schema in strict mode, and Azure's reference names maxLength as a keyword it
        # rejects there. Without it, whether the schema constrains decoding depends on the server.
        name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.name)[:64] or "slots"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": json_schema}}

    def _send(self, request: dict[str, Any]) -> Any:
        """Call the endpoint, turning openai's exceptions into this package's typed errors."""
        try:
            return self._client.chat.completions.create(**request)
        except openai.APITimeoutError as error:
            raise LLMTimeout(
                f"model {self.model_name!r} at {self.base_url} did not respond within "
                f"{self.timeout_s} s"
            ) from error
        except openai.APIConnectionError as error:
            raise LLMUnavailable(
                f"cannot connect to {self.base_url} for model {self.model_name!r}: {error}; "
                "check AFTERCARE_LLM_BASE_URL and that the server is running"
            ) from error
        except openai.APIStatusError as error:
            raise self._status_error(error) from error
        except openai.APIResponseValidationError as error:
            raise LLMError(
                f"model {self.model_name!r} at {self.base_url} returned a malformed response: "
                f"{error}"
            ) from error

    def _status_error(self, error: openai.APIStatusError) -> LLMHTTPError:
        status = error.status_code
        detail = str(error.message)[:MAX_ERROR_DETAIL_CHARS]
        message = f"model {self.model_name!r} at {self.base_url} returned HTTP {status}: {detail}"
        if is_retryable_status(status):
            retry_after_s = parse_retry_after(error.response.headers)
            return LLMRetryableHTTPError(
                message, status_code=status, model=self.model_name, retry_after_s=retry_after_s
            )
        if status in (401, 403):
            message += "; check AFTERCARE_LLM_API_KEY"
        return LLMHTTPError(message, status_code=status, model=self.model_name)

    def _content(self, response: Any) -> str:
        choices = getattr(response, "choices", None)
        if not choices:
            raise LLMError(f"model {self.model_name!r} at {self.base_url} returned no choices")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if not content:
            reason = getattr(choices[0], "finish_reason", None)
            raise LLMError(
                f"model {self.model_name!r} at {self.base_url} returned empty message content "
                f"(finish_reason={reason!r})"
            )
        return content
