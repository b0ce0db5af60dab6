"""OpenAICompatProvider and RetryingProvider against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest

from agent.llm.base import ChatMessage, LLMError, LLMFailed, LLMTimeout, LLMUnavailable
from agent.llm.grammar import max_tokens_for, slot_json_schema
from agent.llm.openai_compat import (
    LLMHTTPError,
    LLMRetryableHTTPError,
    OpenAICompatProvider,
    parse_retry_after,
)
from agent.llm.retry import RetryingProvider
from agent.llm.slots import OutputInvalid, SlotSchema
from tests.llm.helpers import Reply, ScriptedServer, chat_completion, error_body

VALID_OUTPUT = json.dumps({"subject": "Thank you for your cedar candle"})


def make_provider(
    server: ScriptedServer, *, timeout_s: float = 5.0, response_format: str = "json_schema"
) -> OpenAICompatProvider:
    return OpenAICompatProvider(
        base_url=server.base_url,
        model="test-model",
        api_key="test-key",
        timeout_s=timeout_s,
        response_format=response_format,  # type: ignore[arg-type]
    )


def retrying(
    provider: OpenAICompatProvider, waits: list[float], retries: int = 2
) -> RetryingProvider:
    return RetryingProvider(provider, max_retries=retries, sleep=waits.append)


def test_valid_completion_returns_text_and_usage(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(body=chat_completion(VALID_OUTPUT)))
    completion = make_provider(scripted_server).complete(
        messages, subject_schema, temperature=0.3, seed=9
    )
    assert subject_schema.parse(completion.text) == {"subject": "Thank you for your cedar candle"}
    assert completion.model == "test-model"
    assert completion.prompt_tokens == 42
    assert completion.completion_tokens == 17
    assert completion.latency_s > 0


def test_request_carries_limits_and_json_schema(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(body=chat_completion(VALID_OUTPUT)))
    make_provider(scripted_server).complete(messages, subject_schema, temperature=0.3, seed=9)
    request = scripted_server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == "test-model"
    assert request.body["messages"][0] == {"role": "system", "content": messages[0].content}  # type: ignore[index]
    assert request.body["max_tokens"] == max_tokens_for(subject_schema)
    assert "max_completion_tokens" not in request.body
    assert request.body["temperature"] == 0.3
    assert request.body["seed"] == 9
    assert request.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "subject_only", "schema": slot_json_schema(subject_schema)},
    }


def test_json_object_mode_sends_schema_inline(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(body=chat_completion(VALID_OUTPUT)))
    provider = make_provider(scripted_server, response_format="json_object")
    provider.complete(messages, subject_schema, temperature=0.3)
    body = scripted_server.requests[0].body
    assert body["response_format"] == {
        "type": "json_object",
        "schema": slot_json_schema(subject_schema),
    }
    assert "seed" not in body


def test_missing_api_key_sends_placeholder(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(body=chat_completion(VALID_OUTPUT)))
    provider = OpenAICompatProvider(
        base_url=scripted_server.base_url, model="m", api_key=None, timeout_s=5.0
    )
    provider.complete(messages, subject_schema, temperature=0.3)
    assert scripted_server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_missing_usage_counts_zero_tokens(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(body=chat_completion(VALID_OUTPUT, usage=False)))
    completion = make_provider(scripted_server).complete(messages, subject_schema, temperature=0)
    assert completion.prompt_tokens == 0
    assert completion.completion_tokens == 0


def test_server_errors_are_retried_until_success(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(
        Reply(500, error_body("overloaded")),
        Reply(500, error_body("overloaded")),
        Reply(body=chat_completion(VALID_OUTPUT)),
    )
    waits: list[float] = []
    provider = retrying(make_provider(scripted_server), waits)
    completion = provider.complete(messages, subject_schema, temperature=0.3)
    assert completion.text == VALID_OUTPUT
    assert len(scripted_server.requests) == 3
    assert len(waits) == 2


def test_server_errors_exhaust_retries(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(*[Reply(503, error_body("down"))] * 3)
    provider = retrying(make_provider(scripted_server), [])
    with pytest.raises(LLMFailed) as caught:
        provider.complete(messages, subject_schema, temperature=0.3)
    assert caught.value.attempts == 3
    assert isinstance(caught.value.last_error, LLMRetryableHTTPError)
    assert caught.value.last_error.status_code == 503
    assert "test-model" in str(caught.value)
    assert len(scripted_server.requests) == 3


def test_rate_limit_waits_for_retry_after(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(
        Reply(429, error_body("slow down"), headers={"Retry-After": "7"}),
        Reply(body=chat_completion(VALID_OUTPUT)),
    )
    waits: list[float] = []
    retrying(make_provider(scripted_server), waits).complete(
        messages, subject_schema, temperature=0.3
    )
    assert waits == [7.0]


def test_long_retry_after_is_capped(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(
        Reply(429, error_body("slow down"), headers={"Retry-After": "3600"}),
        Reply(body=chat_completion(VALID_OUTPUT)),
    )
    waits: list[float] = []
    provider = RetryingProvider(make_provider(scripted_server), max_wait_s=10.0, sleep=waits.append)
    provider.complete(messages, subject_schema, temperature=0.3)
    assert waits == [10.0]


def test_unauthorized_is_not_retried(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(401, error_body("invalid api key")))
    waits: list[float] = []
    with pytest.raises(LLMHTTPError) as caught:
        retrying(make_provider(scripted_server), waits).complete(
            messages, subject_schema, temperature=0.3
        )
    assert not isinstance(caught.value, LLMRetryableHTTPError)
    assert caught.value.status_code == 401
    assert "AFTERCARE_LLM_API_KEY" in str(caught.value)
    assert "test-key" not in str(caught.value)
    assert len(scripted_server.requests) == 1
    assert waits == []


def test_bad_request_is_not_retried(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(400, error_body("unknown field")))
    with pytest.raises(LLMHTTPError) as caught:
        retrying(make_provider(scripted_server), []).complete(
            messages, subject_schema, temperature=0.3
        )
    assert caught.value.status_code == 400
    assert len(scripted_server.requests) == 1


def test_hang_raises_timeout(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(hang=True))
    with pytest.raises(LLMTimeout):
        make_provider(scripted_server, timeout_s=0.2).complete(
            messages, subject_schema, temperature=0.3
        )


def test_repeated_hangs_end_in_failed(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(hang=True), Reply(hang=True))
    provider = retrying(make_provider(scripted_server, timeout_s=0.2), [], retries=1)
    with pytest.raises(LLMFailed) as caught:
        provider.complete(messages, subject_schema, temperature=0.3)
    assert caught.value.attempts == 2
    assert isinstance(caught.value.last_error, LLMTimeout)


def test_garbage_content_is_returned_and_fails_parse(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    garbage = "Sure! Here is your subject line: Thanks 4 shopping"
    scripted_server.script(Reply(body=chat_completion(garbage)))
    completion = retrying(make_provider(scripted_server), []).complete(
        messages, subject_schema, temperature=0.3
    )
    assert completion.text == garbage
    with pytest.raises(OutputInvalid):
        subject_schema.parse(completion.text)


def test_empty_content_raises_llm_error(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    scripted_server.script(Reply(body=chat_completion(None)))
    with pytest.raises(LLMError, match="empty message content"):
        retrying(make_provider(scripted_server), []).complete(
            messages, subject_schema, temperature=0.3
        )
    assert len(scripted_server.requests) == 1


def test_missing_choices_raises_llm_error(
    scripted_server: ScriptedServer, messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    body = chat_completion(VALID_OUTPUT)
    body["choices"] = []
    scripted_server.script(Reply(body=body))
    with pytest.raises(LLMError, match="no choices"):
        make_provider(scripted_server).complete(messages, subject_schema, temperature=0.3)


def test_closed_port_raises_unavailable(
    messages: list[ChatMessage], subject_schema: SlotSchema
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAICompatProvider(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", api_key=None, timeout_s=2.0
    )
    with pytest.raises(LLMUnavailable, match=f"127.0.0.1:{port}"):
        provider.complete(messages, subject_schema, temperature=0.3)


def test_invalid_response_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="response_format"):
        OpenAICompatProvider(
            base_url="http://127.0.0.1:1/v1",
            model="m",
            api_key=None,
            timeout_s=1.0,
            response_format="text",  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(headers, now=now) == expected
