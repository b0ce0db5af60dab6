"""The HTTP API over real loopback HTTP, with the real store and index."""

import json
import socket
import threading
import time
from datetime import timedelta

import httpx
import pytest
import uvicorn

from agent.api.app import create_app
from agent.drafting.services import Services
from tests.fakes import ScriptedProvider

GOOD = json.dumps(
    {
        "subject": "Your order is on its way to you",
        "body": "Thank you for shopping with us. We hope it brings you joy.",
    }
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def api(prepared_settings):
    services = Services(prepared_settings, provider=ScriptedProvider([GOOD] * 10))
    config = uvicorn.Config(
        create_app(prepared_settings, services),
        host="127.0.0.1",
        port=free_port(),
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=30) as client:
        yield client, services
    server.should_exit = True
    thread.join(timeout=10)


def payload(services: Services, **overrides) -> dict:
    as_of = services.contexts.latest_order_time() + timedelta(hours=1)
    customer = services.contexts.recent_customers(as_of=as_of, max_days=10, limit=1)[0]
    body = {
        "customer_id": customer,
        "kind": "order_followup",
        "channel": "email",
        "as_of": as_of.isoformat(),
    }
    body.update(overrides)
    return body


def test_create_then_get_draft(api) -> None:
    client, services = api
    created = client.post("/v1/drafts", json=payload(services))
    assert created.status_code == 201
    fetched = client.get(f"/v1/drafts/{created.json()['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


def test_invalid_kind_names_field(api) -> None:
    client, services = api
    response = client.post("/v1/drafts", json=payload(services, kind="newsletter"))
    assert response.status_code == 422
    assert ["body", "kind"] in [e["loc"] for e in response.json()["detail"]]


def test_invalid_channel_names_field(api) -> None:
    client, services = api
    response = client.post("/v1/drafts", json=payload(services, channel="fax"))
    assert response.status_code == 422
    assert ["body", "channel"] in [e["loc"] for e in response.json()["detail"]]


def test_unknown_customer_is_404(api) -> None:
    client, services = api
    response = client.post("/v1/drafts", json=payload(services, customer_id="no-such-customer"))
    assert response.status_code == 404
    assert "no-such-customer" in response.json()["detail"]


def test_ineligible_request_is_409(api) -> None:
    client, services = api
    response = client.post(
        "/v1/drafts", json=payload(services, kind="review_request", channel="sms")
    )
    assert response.status_code == 409
    assert response.json()["detail"]["check_id"] == "compliance.consent"


def test_unknown_draft_is_404(api) -> None:
    client, _ = api
    assert client.get("/v1/drafts/doesnotexist").status_code == 404
