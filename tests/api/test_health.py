"""`/healthz`, `/readyz` and `/metrics`."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import api_settings, served_api
from tests.api.support import Api, draft_payload
from tests.api.test_drafts_api import assert_problem


def samples(api: Api) -> dict[tuple[str, tuple], float]:
    response = api.anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_healthz_is_ok(sqlite_api: Api) -> None:
    assert sqlite_api.anonymous.get("/healthz").json() == {"status": "ok"}


def test_readyz_names_each_check(api: Api) -> None:
    response = api.anonymous.get("/readyz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert sorted(checks) == ["database", "knowledge_base", "model"]
    assert all(check["ok"] for check in checks.values())
    assert "chunks ingested" in checks["knowledge_base"]["detail"]


def test_readyz_without_knowledge_base_is_503(tmp_path: Path, sqlite_url) -> None:
    settings = api_settings(tmp_path, sqlite_url)
    with served_api(settings) as api:
        response = api.anonymous.get("/readyz")
        body = assert_problem(response, 503)
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["knowledge_base"]["ok"] is False
        assert "aftercare kb ingest" in body["checks"]["knowledge_base"]["detail"]
        assert "knowledge_base" in body["detail"]


def test_readyz_with_missing_model_file_is_503(prepared_data_dir, sqlite_url, tmp_path) -> None:
    missing = tmp_path / "missing.gguf"
    settings = api_settings(prepared_data_dir, sqlite_url, llm_model_path=missing)
    with served_api(settings) as api:
        body = assert_problem(api.anonymous.get("/readyz"), 503)
        assert body["checks"]["model"]["ok"] is False
        assert "missing.gguf" in body["checks"]["model"]["detail"]


def test_metrics_count_requests_queue_and_drafts(api: Api) -> None:
    draft = api.client.post("/v1/drafts", json=draft_payload()).json()
    api.client.get("/v1/drafts/nosuchdraft")
    found = samples(api)
    created = ("method", "POST"), ("route", "/v1/drafts"), ("status", "201")
    missing = ("method", "GET"), ("route", "/v1/drafts/{draft_id}"), ("status", "404")
    assert found[("aftercare_http_requests_total", created)] == 1
    assert found[("aftercare_http_requests_total", missing)] == 1
    latency = ("aftercare_http_request_duration_seconds_count", (created[0], created[1]))
    assert found[latency] == 1
    assert found[("aftercare_draft_queue_waiting", ())] == 0
    assert found[("aftercare_draft_queue_running", ())] == 0
    assert found[("aftercare_drafts", (("status", draft["status"]),))] == 1
    assert not any("nosuchdraft" in str(labels) for _, labels in found)
