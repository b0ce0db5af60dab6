"""`POST /v1/plan` and `GET /v1/customers/{id}/signals` over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agent.api.app import create_app
from agent.api.keys import create_api_key
from agent.config import Settings
from agent.drafting.services import Services
from tests.api.support import LoopingProvider, ServerThread
from tests.signals.conftest import ExtractDatabase


@pytest.fixture
def client(extract_copy: ExtractDatabase, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(
        data_dir=tmp_path, database_url=extract_copy.url, api_rate_limit_per_minute=0
    )
    services = Services(settings, provider=LoopingProvider())
    server = ServerThread(create_app(settings, services)).start()
    _, token = create_api_key(services.engine, "signals-tests")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as http:
        try:
            yield http
        finally:
            server.stop()
            services.engine.dispose()


def _plan(client: httpx.Client, db: ExtractDatabase, **body) -> httpx.Response:
    return client.post("/v1/plan", json={"as_of": db.as_of.isoformat()} | body)


def test_plan_rows(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    response = _plan(client, extract_copy, limit=40)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert len(plan["rows"]) == 40
    assert plan["channel"] == "email"
    assert plan["warnings"] == []
    assert sum(plan["counts"].values()) == 40
    for row in plan["rows"]:
        assert row["kind"] is not None or row["reason"]
        assert row["kind"] is None or row["zone"]


def test_plan_sms_channel(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    response = _plan(client, extract_copy, limit=60, channel="sms")
    assert response.status_code == 200, response.text
    kinds = {row["kind"] for row in response.json()["rows"]}
    assert "review_request" not in kinds
    assert "winback" not in kinds


def test_plan_chosen_customers(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    first = _plan(client, extract_copy, limit=2).json()["rows"]
    ids = [row["customer_id"] for row in first]
    response = _plan(client, extract_copy, customer_ids=ids[::-1])
    assert [row["customer_id"] for row in response.json()["rows"]] == ids[::-1]


def test_plan_unknown_customer(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    response = _plan(client, extract_copy, customer_ids=["no-such-id"])
    assert response.status_code == 404
    assert "no-such-id" in response.json()["detail"]


def test_plan_rejects_bad_body(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    response = _plan(client, extract_copy, limit=0, channel="fax")
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"limit", "channel"}


def test_plan_rejects_future(client: httpx.Client) -> None:
    response = client.post("/v1/plan", json={"as_of": "2199-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert "in the future" in response.json()["detail"]


def test_plan_without_signals(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    response = _plan(client, extract_copy, brand="linen-and-lark")
    assert response.status_code == 409
    problem = response.json()
    assert problem["command"].startswith("aftercare signals refresh --as-of")
    assert "--brand linen-and-lark" in problem["command"]


def test_plan_unknown_brand(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    response = _plan(client, extract_copy, brand="no-such-brand")
    assert response.status_code == 422


def test_plan_stale_signals_warn(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    later = (extract_copy.as_of + timedelta(days=20)).isoformat()
    response = client.post("/v1/plan", json={"as_of": later, "limit": 2})
    assert response.status_code == 200
    assert len(response.json()["warnings"]) == 1


def test_signals_of_customer(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    customer = _plan(client, extract_copy, limit=1).json()["rows"][0]["customer_id"]
    response = client.get(f"/v1/customers/{customer}/signals")
    assert response.status_code == 200, response.text
    signals = response.json()
    assert signals["customer_id"] == customer
    assert signals["clv"]["method"] in {"bg_nbd+gamma_gamma", "rfm_rules"}
    assert set(signals) >= {"rfm", "sentiment", "advocacy", "review"}


def test_signals_unknown_customer(client: httpx.Client) -> None:
    response = client.get("/v1/customers/no-such-id/signals")
    assert response.status_code == 404
    assert "no-such-id" in response.json()["detail"]


def test_signals_not_computed(client: httpx.Client, extract_copy: ExtractDatabase) -> None:
    customer = _plan(client, extract_copy, limit=1).json()["rows"][0]["customer_id"]
    response = client.get(f"/v1/customers/{customer}/signals", params={"brand": "linen-and-lark"})
    assert response.status_code == 409
    assert response.json()["command"] == "aftercare signals refresh --brand linen-and-lark"


def test_signals_need_api_key(client: httpx.Client) -> None:
    response = httpx.get(f"{client.base_url}/v1/customers/12347/signals")
    assert response.status_code == 401
