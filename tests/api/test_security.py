"""API keys, rate limits, body limits, CORS, and what the logs leave out."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from agent.api.keys import create_api_key, parse_token, revoke_api_key, verify_api_key
from agent.api.ratelimit import RateLimiter
from agent.api.tables import ApiKeyRecord
from agent.cli.app import app as cli_app
from agent.config import Settings
from agent.context.db import init_db, make_engine
from tests.api.conftest import api_settings, served_api
from tests.api.support import PLACED_AT, Api, draft_payload, order_event
from tests.api.test_drafts_api import assert_problem


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    init_db(engine)
    return engine


def test_key_is_stored_as_digest_only(engine) -> None:
    key, token = create_api_key(engine, "crm")
    key_id, secret = parse_token(token)
    with Session(engine) as session:
        record = session.get(ApiKeyRecord, key.key_id)
    assert key_id == key.key_id
    assert record.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps([str(v) for v in vars(record).values()])


def test_verify_accepts_only_exact_active_token(engine) -> None:
    key, token = create_api_key(engine, "crm")
    assert verify_api_key(engine, token).key_id == key.key_id
    assert verify_api_key(engine, token + "x") is None
    assert verify_api_key(engine, token.replace(key.key_id, "000000000000")) is None
    assert verify_api_key(engine, "Bearer " + token) is None
    revoke_api_key(engine, key.key_id)
    assert verify_api_key(engine, token) is None


def test_every_v1_route_needs_a_key(sqlite_api: Api) -> None:
    document = sqlite_api.anonymous.get("/openapi.json").json()
    routes = [
        (method.upper(), path.replace("{", "").replace("}", ""))
        for path, operations in document["paths"].items()
        if path.startswith("/v1/")
        for method in operations
    ]
    assert ("POST", "/v1/drafts") in routes
    for method, path in routes:
        response = sqlite_api.anonymous.request(method, path, json={})
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "aftercare apikey create" in body["detail"], path


def test_wrong_and_revoked_keys_are_401(sqlite_api: Api) -> None:
    wrong = {"Authorization": "Bearer aftercare_000000000000.not-the-secret"}
    assert_problem(sqlite_api.anonymous.get("/v1/drafts", headers=wrong), 401)
    key_id, _ = parse_token(sqlite_api.token)
    assert sqlite_api.client.get("/v1/drafts").status_code == 200
    revoke_api_key(sqlite_api.services.engine, key_id)
    assert_problem(sqlite_api.client.get("/v1/drafts"), 401)


def test_wrong_method_lists_every_allowed_one(sqlite_api: Api) -> None:
    response = sqlite_api.client.put("/v1/drafts")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, POST"


def test_probes_and_openapi_need_no_key(sqlite_api: Api) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert sqlite_api.anonymous.get(path).status_code == 200, path


def test_openapi_marks_only_v1_routes_as_secured(sqlite_api: Api) -> None:
    document = sqlite_api.anonymous.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for operation in item.values():
            secured = operation.get("security") == [{"apiKey": []}]
            assert secured == path.startswith("/v1/"), path


def test_rate_limit_answers_429_with_retry_after(prepared_data_dir, sqlite_url) -> None:
    settings = api_settings(
        prepared_data_dir, sqlite_url, api_rate_limit_per_minute=6, api_rate_limit_burst=2
    )
    # Seeding the customer in served_api takes the first token.
    with served_api(settings) as api:
        assert api.client.get("/v1/drafts").status_code == 200
        limited = api.client.get("/v1/drafts")
        body = assert_problem(limited, 429)
        assert int(limited.headers["retry-after"]) >= 1
        assert body["type"] == "urn:aftercare:problem:rate-limited"
        assert api.anonymous.get("/healthz").status_code == 200


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0
    now[0] = 1.0
    assert limiter.acquire("a") == 0


def test_body_over_limit_is_413(prepared_data_dir, sqlite_url) -> None:
    settings = api_settings(prepared_data_dir, sqlite_url, api_max_body_bytes=2048)
    with served_api(settings) as api:
        padded = draft_payload(copywriter_note="x" * 4000)
        body = assert_problem(api.client.post("/v1/drafts", json=padded), 413)
        assert "2048 bytes" in body["detail"]

        def chunks():
            yield json.dumps(padded).encode()

        streamed = api.client.post(
            "/v1/drafts", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(streamed, 413)


def test_cors_is_off_by_default(sqlite_api: Api) -> None:
    response = sqlite_api.anonymous.options(
        "/v1/drafts",
        headers={"Origin": "https://crm.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_listed_origins(prepared_data_dir, sqlite_url) -> None:
    settings = api_settings(prepared_data_dir, sqlite_url, api_cors_origins=["https://crm.example"])
    with served_api(settings) as api:
        preflight = {"Access-Control-Request-Method": "POST"}
        allowed = api.anonymous.options(
            "/v1/drafts", headers=preflight | {"Origin": "https://crm.example"}
        )
        other = api.anonymous.options(
            "/v1/drafts", headers=preflight | {"Origin": "https://evil.example"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://crm.example"
        assert "access-control-allow-origin" not in other.headers


def test_default_bind_is_loopback() -> None:
    assert Settings().api_host == "127.0.0.1"


def test_logs_hold_no_key_or_customer_data(
    prepared_data_dir, sqlite_url, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = ["Grace", "grace@example.com", "+44 7700 900123", "cracked on arrival"]
    with served_api(api_settings(prepared_data_dir, sqlite_url)) as api:
        _, secret = parse_token(api.token)
        profile = {"first_name": "Grace", "country": "United Kingdom"}
        api.client.post("/v1/events", json=order_event("evt-pii", customer=profile))
        ticket = {
            "type": "ticket",
            "event_id": "evt-pii-ticket",
            "occurred_at": PLACED_AT.isoformat(),
            "customer_id": "C100",
            "ticket_id": "T-9",
            "subject": "cracked on arrival",
            "text": "Call me on +44 7700 900123 or grace@example.com",
            "opened_at": (PLACED_AT + timedelta(hours=1)).isoformat(),
        }
        assert api.client.post("/v1/events", json=ticket).status_code == 201
        api.client.post("/v1/drafts", json=draft_payload())
        api.client.post(
            "/v1/drafts", json=draft_payload(kind="bad", context={"first_name": "Grace"})
        )
        api.anonymous.get("/v1/drafts", headers={"Authorization": f"Bearer {api.token}x"})
    logged = caplog.text
    assert "POST /v1/events 201" in logged, "request lines were not captured"
    assert api.token not in logged
    assert secret not in logged
    for value in secrets:
        assert value not in logged, value


def test_apikey_cli_creates_lists_and_revokes(tmp_path, monkeypatch) -> None:
    from agent.config import get_settings

    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    created = runner.invoke(cli_app, ["apikey", "create", "crm", "--json"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["token"].startswith(f"aftercare_{key['key_id']}.")
    listed = json.loads(runner.invoke(cli_app, ["apikey", "list", "--json"]).stdout)
    assert [(k["key_id"], k["revoked_at"]) for k in listed] == [(key["key_id"], None)]
    assert "token" not in listed[0]
    assert runner.invoke(cli_app, ["apikey", "revoke", key["key_id"]]).exit_code == 0
    listed = json.loads(runner.invoke(cli_app, ["apikey", "list", "--json"]).stdout)
    assert listed[0]["revoked_at"] is not None
    missing = runner.invoke(cli_app, ["apikey", "revoke", "nope"])
    assert missing.exit_code == 2
    engine = make_engine(f"sqlite:///{tmp_path / 'aftercare.db'}")
    with Session(engine) as session:
        digests = list(session.scalars(select(ApiKeyRecord.secret_sha256)))
    assert key["token"].split(".", 1)[1] not in digests
    get_settings.cache_clear()
