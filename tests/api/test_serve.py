"""`aftercare serve` as a real process on loopback: a crash mid-batch, and the real model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agent.api.draft_requests import RequestStatus, RequestStore
from agent.api.keys import create_api_key
from agent.context.db import init_db, make_engine
from agent.drafting.services import Services
from tests.api.support import SlowModelServer, draft_payload, free_port, order_event, wait_for

pytestmark = pytest.mark.slow

BATCH_SIZE = 8


@contextmanager
def serve_process(env: dict[str, str], log_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start `aftercare serve` on a free loopback port and wait until /healthz responds."""
    port = free_port()
    command = [sys.executable, "-m", "agent.cli.app", "serve", "--port", str(port)]
    with log_path.open("a") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"aftercare serve did not answer /healthz; see {log_path}")
        yield process, base_url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def job_items(engine, job_id: str) -> list[RequestStatus]:
    return [item.status for item in RequestStore(engine).job(job_id).items]


def test_killed_server_loses_no_request_of_a_batch(prepared_data_dir, tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path / 'crash.db'}"
    engine = make_engine(database_url)
    init_db(engine)
    _, token = create_api_key(engine, "crash-test")
    headers = {"Authorization": f"Bearer {token}"}
    log_path = tmp_path / "serve.log"
    with SlowModelServer(delay_s=0.5) as model:
        env = os.environ | {
            "AFTERCARE_DATA_DIR": str(prepared_data_dir),
            "AFTERCARE_DATABASE_URL": database_url,
            "AFTERCARE_LLM_PROVIDER": "openai",
            "AFTERCARE_LLM_BASE_URL": model.base_url,
            "AFTERCARE_LLM_MODEL": "scripted",
            "AFTERCARE_LLM_MAX_RETRIES": "0",
            "AFTERCARE_API_WORKERS": "1",
            # The test polls the job faster than the default rate limit allows.
            "AFTERCARE_API_RATE_LIMIT_PER_MINUTE": "0",
        }
        with serve_process(env, log_path) as (process, base_url):
            client = httpx.Client(base_url=base_url, headers=headers, timeout=30)
            assert client.post("/v1/events", json=order_event()).status_code == 201
            batch = {"requests": [draft_payload() for _ in range(BATCH_SIZE)]}
            accepted = client.post("/v1/jobs", json=batch)
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["id"]
            wait_for(lambda: job_items(engine, job_id).count(RequestStatus.DONE) >= 2)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            client.close()

        at_kill = job_items(engine, job_id)
        assert len(at_kill) == BATCH_SIZE
        assert at_kill.count(RequestStatus.DONE) < BATCH_SIZE, "the batch finished before the kill"

        with serve_process(env, log_path) as (_, base_url):
            client = httpx.Client(base_url=base_url, headers=headers, timeout=30)

            def completed() -> dict | None:
                job = client.get(f"/v1/jobs/{job_id}").json()
                return job if job["status"] == "completed" else None

            job = wait_for(completed, timeout_s=120)
            assert job["total"] == BATCH_SIZE
            for item in job["items"]:
                assert item["status"] in ("done", "failed"), item
                if item["status"] == "done":
                    draft = client.get(f"/v1/drafts/{item['draft_id']}")
                    assert draft.status_code == 200
                else:
                    assert item["error"]["detail"], item
            drafts = client.get("/v1/drafts", params={"limit": 200}).json()
            client.close()

    done_before = {i for i, status in enumerate(at_kill) if status is RequestStatus.DONE}
    done_after = {i for i, item in enumerate(job["items"]) if item["status"] == "done"}
    assert done_before <= done_after
    # A request stopped while drafting is drafted again; none is drafted twice.
    assert drafts["count"] == len(done_after)


def test_served_draft_round_trip_with_real_model(prepared_settings, tmp_path) -> None:
    services = Services(prepared_settings)
    _, token = create_api_key(services.engine, "real-model-test")
    env = os.environ | {"AFTERCARE_DATA_DIR": str(prepared_settings.data_dir)}
    as_of = services.contexts.latest_order_time() + timedelta(hours=1)
    customer = services.contexts.recent_customers(as_of=as_of, max_days=10, limit=1)[0]
    with serve_process(env, tmp_path / "serve.log") as (_, base_url):
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        body = draft_payload(customer_id=customer, kind="usage_tip", as_of=as_of.isoformat())
        created = client.post("/v1/drafts", json=body)
        assert created.status_code == 201, created.text
        draft = created.json()
        assert draft["model"].startswith("SmolLM2")
        fetched = client.get(f"/v1/drafts/{draft['id']}")
        assert fetched.json()["text"] == draft["text"]
        client.close()
