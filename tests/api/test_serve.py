"""`aftercare serve` as a real process on loopback, drafting with the real local model."""

import os
import subprocess
import sys
import time

import httpx
import pytest

from agent.drafting.services import Services
from tests.api.test_drafts_api import free_port, payload

pytestmark = pytest.mark.slow


@pytest.fixture
def server(prepared_settings, tmp_path):
    port = free_port()
    env = os.environ | {"AFTERCARE_DATA_DIR": str(prepared_settings.data_dir)}
    command = [sys.executable, "-m", "agent.cli.app", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("aftercare serve did not answer /healthz")
        yield base_url, Services(prepared_settings)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_served_draft_round_trip(server) -> None:
    base_url, services = server
    body = payload(services, kind="usage_tip")
    created = httpx.post(f"{base_url}/v1/drafts", json=body, timeout=120)
    assert created.status_code == 201
    draft = created.json()
    assert draft["model"].startswith("SmolLM2")
    fetched = httpx.get(f"{base_url}/v1/drafts/{draft['id']}", timeout=10)
    assert fetched.json()["text"] == draft["text"]
