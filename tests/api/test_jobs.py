"""`/v1/jobs`, the bounded draft queue, shutdown and recovery of stored requests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.api.draft_requests import RequestStatus, RequestStore
from agent.api.event_writer import EventWriter
from agent.api.events import OrderEvent
from agent.api.runner import DraftRunner
from agent.api.tables import DraftRequestRecord
from agent.context.db import init_db, make_engine
from agent.domain import DraftRequest
from agent.drafting.pipeline import Drafter
from agent.drafting.services import Services
from tests.api.conftest import api_settings, served_api
from tests.api.support import Api, LoopingProvider, draft_payload, order_event, wait_for
from tests.api.test_drafts_api import assert_problem


def finished_job(api: Api, job_id: str) -> dict:
    def completed() -> dict | None:
        job = api.client.get(f"/v1/jobs/{job_id}").json()
        return job if job["status"] == "completed" else None

    return wait_for(completed)


def stored_requests(services: Services) -> int:
    with Session(services.engine) as session:
        return session.scalar(select(func.count(DraftRequestRecord.id)))


def test_job_drafts_every_item_and_reports_failures(api: Api) -> None:
    requests = [draft_payload(), draft_payload(customer_id="nobody"), draft_payload(channel="sms")]
    response = api.client.post("/v1/jobs", json={"requests": requests})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert response.headers["location"] == f"/v1/jobs/{accepted['id']}"
    assert accepted["total"] == 3
    job = finished_job(api, accepted["id"])
    assert job["counts"] == {"queued": 0, "running": 0, "done": 2, "failed": 1}
    statuses = [item["status"] for item in job["items"]]
    assert statuses == ["done", "failed", "done"]
    failed = job["items"][1]
    assert failed["draft_id"] is None
    assert failed["error"]["status"] == 404
    assert failed["error"]["type"] == "urn:aftercare:problem:customer-not-found"
    for item in (job["items"][0], job["items"][2]):
        assert api.client.get(f"/v1/drafts/{item['draft_id']}").status_code == 200


def test_unknown_job_is_404(api: Api) -> None:
    assert_problem(api.client.get("/v1/jobs/doesnotexist"), 404)


def test_empty_job_is_422(api: Api) -> None:
    response = api.client.post("/v1/jobs", json={"requests": []})
    assert_problem(response, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["requests"]


def test_naive_time_in_job_names_item(api: Api) -> None:
    requests = [draft_payload(), draft_payload(as_of="2026-11-04T10:00:00")]
    response = api.client.post("/v1/jobs", json={"requests": requests})
    assert_problem(response, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["requests[1].as_of"]


def test_same_idempotency_key_returns_same_job(api: Api) -> None:
    headers = {"Idempotency-Key": "nightly-2026-11-04"}
    body = {"requests": [draft_payload()]}
    first = api.client.post("/v1/jobs", json=body, headers=headers).json()
    second = api.client.post("/v1/jobs", json=body, headers=headers)
    assert second.json()["id"] == first["id"]
    assert second.headers["idempotent-replayed"] == "true"
    other = {"requests": [draft_payload(channel="sms")]}
    assert_problem(api.client.post("/v1/jobs", json=other, headers=headers), 422)
    finished_job(api, first["id"])


def test_job_over_max_items_is_422(prepared_data_dir, sqlite_url) -> None:
    settings = api_settings(prepared_data_dir, sqlite_url, api_job_max_items=2)
    with served_api(settings) as api:
        body = {"requests": [draft_payload()] * 3}
        problem = assert_problem(api.client.post("/v1/jobs", json=body), 422)
        assert "at most 2" in problem["detail"]


def test_full_queue_answers_503_and_stores_nothing(prepared_data_dir, sqlite_url) -> None:
    gate = threading.Event()
    settings = api_settings(
        prepared_data_dir, sqlite_url, api_workers=1, api_queue_depth=2, api_job_max_items=2
    )
    with served_api(settings, LoopingProvider(gate=gate)) as api:
        job = api.client.post("/v1/jobs", json={"requests": [draft_payload()] * 2}).json()
        rejected = api.client.post("/v1/drafts", json=draft_payload())
        problem = assert_problem(rejected, 503)
        assert int(rejected.headers["retry-after"]) >= 1
        assert problem["type"] == "urn:aftercare:problem:queue-full"
        assert stored_requests(api.services) == 2
        gate.set()
        assert finished_job(api, job["id"])["counts"]["done"] == 2


def test_shutdown_finishes_running_draft_and_resumes_rest(prepared_data_dir, sqlite_url) -> None:
    gate = threading.Event()
    provider = LoopingProvider(gate=gate)
    settings = api_settings(prepared_data_dir, sqlite_url, api_workers=1)
    with served_api(settings, provider) as api:
        job = api.client.post("/v1/jobs", json={"requests": [draft_payload()] * 3}).json()
        assert provider.started.wait(timeout=30)
        stopper = threading.Thread(target=api.server.stop)
        stopper.start()
        wait_for(lambda: api.runtime.queue.closed)
        gate.set()
        stopper.join(timeout=30)
        store = RequestStore(api.services.engine)
        statuses = [item.status for item in store.job(job["id"]).items]
        assert statuses == [RequestStatus.DONE, RequestStatus.QUEUED, RequestStatus.QUEUED]
    with served_api(settings, LoopingProvider()) as api:
        resumed = finished_job(api, job["id"])
        assert [item["status"] for item in resumed["items"]] == ["done"] * 3


def test_recovery_settles_unfinished_requests(prepared_data_dir, tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'recover.db'}")
    init_db(engine)
    settings = api_settings(prepared_data_dir, str(engine.url))
    services = Services(settings, engine=engine, provider=LoopingProvider())
    store = RequestStore(engine)
    runner = DraftRunner(services, store, max_attempts=2)
    request = DraftRequest.model_validate(draft_payload())

    def stored(status: RequestStatus, attempts: int, draft_id: str | None = None) -> str:
        row, _ = store.create(request, api_key_id=None, idempotency_key=None)
        with Session(engine) as session, session.begin():
            record = session.get(DraftRequestRecord, row.id)
            record.status, record.attempts, record.draft_id = status.value, attempts, draft_id
        return row.id

    queued = stored(RequestStatus.QUEUED, 0)
    interrupted_once = stored(RequestStatus.RUNNING, 1)
    interrupted_twice = stored(RequestStatus.RUNNING, 2)
    draft = api_draft(services)
    saved = stored(RequestStatus.RUNNING, 1, draft_id=draft)

    assert runner.recover() == [queued, interrupted_once]
    assert store.get(queued).status is RequestStatus.QUEUED
    assert store.get(interrupted_once).status is RequestStatus.QUEUED
    failed = store.get(interrupted_twice)
    assert failed.status is RequestStatus.FAILED
    assert failed.error["type"] == "urn:aftercare:problem:draft-interrupted"
    assert "interrupted 2 time(s)" in failed.error["detail"]
    assert store.get(saved).status is RequestStatus.DONE


def api_draft(services: Services) -> str:
    """Store one draft through the library and return its id."""
    EventWriter(services.engine).apply(OrderEvent.model_validate(order_event()))
    request = DraftRequest.model_validate(draft_payload())
    return Drafter(services).draft(request).id


def test_stored_request_keeps_payload(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'payload.db'}")
    init_db(engine)
    store = RequestStore(engine)
    request = DraftRequest.model_validate(draft_payload())
    row, created = store.create(request, api_key_id="k1", idempotency_key="a")
    again, created_again = store.create(request, api_key_id="k1", idempotency_key="a")
    other_key, created_other = store.create(request, api_key_id="k2", idempotency_key="a")
    assert created
    assert not created_again
    assert created_other
    assert again.id == row.id
    assert other_key.id != row.id
    assert DraftRequest.model_validate(row.payload) == request
    assert row.created_at <= datetime.now(UTC)
