"""Fixtures for provider tests: slot schemas, the real local model and a scripted HTTP server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from agent.llm.base import ChatMessage
from agent.llm.local import LocalLlamaProvider
from agent.llm.slots import Slot, SlotSchema
from tests.llm.helpers import OFFER_SUFFIX, ScriptedServer


@pytest.fixture
def thank_you_schema() -> SlotSchema:
    """A schema with a phrase, a quoted prefix with a backslash, and two sentences plus an offer."""
    return SlotSchema(
        "thank_you_email",
        (
            Slot("subject", max_chars=60, min_chars=12, sentences=0),
            Slot("greeting", max_chars=90, prefix='Dear "Anna" \\ ', sentences=1),
            Slot("body", max_chars=240, min_chars=60, suffix=OFFER_SUFFIX, sentences=2),
        ),
    )


@pytest.fixture
def subject_schema() -> SlotSchema:
    return SlotSchema("subject_only", (Slot("subject", max_chars=50, min_chars=12, sentences=0),))


@pytest.fixture
def messages() -> list[ChatMessage]:
    return [
        ChatMessage(
            "system",
            "You write short, warm emails for Hearth and Holly, a candle shop. "
            "Answer with JSON only.",
        ),
        ChatMessage("user", "Anna bought a cedar candle. Thank her for the order."),
    ]


@pytest.fixture(scope="session")
def local_provider() -> LocalLlamaProvider:
    """The real SmolLM2 model, loaded once for the whole session, on up to 4 CPU threads."""
    return LocalLlamaProvider(n_threads=min(os.cpu_count() or 1, 4), timeout_s=60.0)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    yield server
    server.stop()
