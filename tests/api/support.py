"""Helpers for the API tests: a looping scripted model, a uvicorn thread, events and payloads."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from agent.api.runtime import ApiRuntime
from agent.drafting.services import Services
from agent.llm.base import ChatMessage, Completion
from agent.llm.slots import SlotSchema
from tests.llm.helpers import chat_completion

GOOD = json.dumps(
    {
        "subject": "Your order is on its way to you",
        "body": "Thank you for shopping with us. We hope it brings you joy.",
    }
)
# A product the hearth-and-holly brand classifies as candles and lighting.
PRODUCT = {"stock_code": "85123A", "description": "WHITE HANGING HEART T-LIGHT HOLDER"}
PLACED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
AS_OF = PLACED_AT + timedelta(days=2)


class LoopingProvider:
    """A scripted model that returns one output forever, optionally waiting on a gate first.

    Only for testing the code around the model: drafting quality is tested with the real one.
    """

    model_name = "scripted"

    def __init__(self, output: str = GOOD, *, gate: threading.Event | None = None) -> None:
        self.output = output
        self.gate = gate
        self.calls = 0
        self.started = threading.Event()
        self._lock = threading.Lock()

    def complete(
        self,
        messages: list[ChatMessage],
        schema: SlotSchema,
        *,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        with self._lock:
            self.calls += 1
        self.started.set()
        if self.gate is not None:
            self.gate.wait(timeout=30)
        return Completion(self.output, self.model_name, 100, 20, 0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerThread:
    """Runs an app with uvicorn on a free loopback port in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start within 30 s"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class Api:
    client: httpx.Client
    anonymous: httpx.Client
    services: Services
    runtime: ApiRuntime
    provider: LoopingProvider
    token: str
    server: ServerThread


def order_event(
    event_id: str = "evt-order-1",
    *,
    customer_id: str = "C100",
    order_id: str = "A1001",
    placed_at: datetime = PLACED_AT,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "order",
        "event_id": event_id,
        "occurred_at": placed_at.isoformat(),
        "customer_id": customer_id,
        "order_id": order_id,
        "placed_at": placed_at.isoformat(),
        "lines": [PRODUCT | {"quantity": 2, "unit_price": "2.55"}],
        "customer": {"first_name": "Ada", "country": "United Kingdom"},
    }
    body.update(overrides)
    return body


def draft_payload(customer_id: str = "C100", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "kind": "order_followup",
        "channel": "email",
        "as_of": AS_OF.isoformat(),
    }
    body.update(overrides)
    return body


def wait_for(condition: Any, timeout_s: float = 30, interval_s: float = 0.05) -> Any:
    """Poll `condition` until it returns a true value, and return that value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


class SlowModelServer:
    """An OpenAI-compatible endpoint on loopback that returns GOOD after `delay_s` seconds.

    A server process started by a test reaches it through AFTERCARE_LLM_PROVIDER=openai,
    so the process runs unchanged production code with a scripted model.
    """

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> SlowModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.calls += 1
                time.sleep(server.delay_s)
                payload = json.dumps(chat_completion(GOOD)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
