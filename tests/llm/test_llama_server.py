"""OpenAICompatProvider against a real `python -m llama_cpp.server` running SmolLM2 on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.llm.base import ChatMessage
from agent.llm.local import default_model_path
from agent.llm.openai_compat import LLMHTTPError, OpenAICompatProvider
from agent.llm.slots import Slot, SlotSchema
from tests.llm.helpers import OFFER_SUFFIX

STARTUP_TIMEOUT_S = 90.0

# llama-cpp-python 0.3.36 turns a pattern into GBNF without JSON-escaping `"` or `\`, so this
# schema keeps those characters out of its literals.
SERVER_SCHEMA = SlotSchema(
    "server_email",
    (
        Slot("subject", max_chars=60, min_chars=12, prefix="Your order", sentences=0),
        Slot("body", max_chars=220, min_chars=60, prefix="Hi Anna, ", suffix=OFFER_SUFFIX),
    ),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    pytest.fail(f"llama_cpp.server did not answer {url} in {STARTUP_TIMEOUT_S} s")


@contextmanager
def running_llama_server(log: Path) -> Iterator[str]:
    """Run llama_cpp.server with SmolLM2 on a free loopback port; yield its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(default_model_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}/v1/models", log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start llama_cpp.server on a free loopback port and return its base URL."""
    with running_llama_server(tmp_path_factory.mktemp("llama_server") / "server.log") as url:
        yield url


@pytest.mark.slow
def test_llama_server_drafts_schema_output(llama_server: str, messages: list[ChatMessage]) -> None:
    provider = OpenAICompatProvider(
        base_url=llama_server,
        model="smollm2",
        api_key=None,
        timeout_s=120.0,
        response_format="json_object",
    )
    completion = provider.complete(messages, SERVER_SCHEMA, temperature=0.3, seed=3)
    fields = SERVER_SCHEMA.parse(completion.text)
    assert fields["subject"].startswith("Your order ")
    assert fields["body"].startswith("Hi Anna, ")
    assert fields["body"].endswith(OFFER_SUFFIX)
    assert completion.completion_tokens > 0


@pytest.mark.slow
def test_llama_server_rejects_json_schema_mode(
    llama_server: str, messages: list[ChatMessage]
) -> None:
    provider = OpenAICompatProvider(
        base_url=llama_server, model="smollm2", api_key=None, timeout_s=120.0
    )
    # llama_cpp.server 0.3.36 accepts only "text" and "json_object" and returns HTTP 500.
    with pytest.raises(LLMHTTPError) as caught:
        provider.complete(messages, SERVER_SCHEMA, temperature=0.3, seed=3)
    assert caught.value.status_code == 500
