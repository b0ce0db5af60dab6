"""Load the HTTP API on loopback at 1, 4 and 16 concurrent clients, with the local model.

Usage: python -m bench.api_load [--quick] [--requests-per-client N]

Imports the shipped extract and ingests the knowledge base into a temporary folder, starts
`aftercare serve` as a separate process on a free loopback port, and sends
`POST /v1/drafts` order follow-ups for real customers from asyncio clients (httpx). Per
level it prints p50 and p95 latency, the error rate (any status but 201) and throughput.

The API's own overhead is the median HTTP time of a draft with one client, divided by the
median time of the same drafts through the library (`Drafter.draft`, storing each) in
this process, run after the server has stopped. Both use the same seeds, so they sample
the same copy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from agent.api.keys import create_api_key
from agent.config import Settings
from agent.context.importer import import_online_retail
from agent.demo import EXTRACT_PATH
from agent.domain import Channel, DraftRequest, MessageKind
from agent.drafting.pipeline import Drafter
from agent.drafting.services import Services
from agent.knowledge.ingest import ingest
from bench.draft_latency import percentile
from bench.machine import cpu_model

LEVELS = (1, 4, 16)


@dataclass
class LevelResult:
    clients: int
    latencies_s: list[float]
    errors: int
    wall_s: float

    @property
    def requests(self) -> int:
        return len(self.latencies_s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(folder: Path) -> Settings:
    settings = Settings(data_dir=folder)
    import_online_retail(EXTRACT_PATH, Services(settings).engine)
    ingest(settings)
    return settings


def request_bodies(services: Services, count: int) -> list[dict]:
    as_of = services.contexts.latest_order_time() + timedelta(hours=1)
    customers = services.contexts.recent_customers(as_of=as_of, max_days=30, limit=count)
    return [
        {
            "customer_id": customer,
            "kind": MessageKind.ORDER_FOLLOWUP.value,
            "channel": Channel.EMAIL.value,
            "as_of": as_of.isoformat(),
        }
        for customer in customers
    ]


def start_server(settings: Settings, port: int, log: Path) -> subprocess.Popen:
    env = os.environ | {
        "AFTERCARE_DATA_DIR": str(settings.data_dir),
        # The benchmark sends faster than the default per-key limit allows.
        "AFTERCARE_API_RATE_LIMIT_PER_MINUTE": "0",
    }
    command = [sys.executable, "-m", "agent.cli.app", "serve", "--port", str(port)]
    with log.open("w") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"aftercare serve did not start; see {log}")


async def run_level(
    client: httpx.AsyncClient, bodies: list[dict], clients: int, per_client: int
) -> LevelResult:
    latencies: list[float] = []
    errors = 0

    async def one_client(offset: int) -> None:
        nonlocal errors
        for n in range(per_client):
            body = bodies[(offset * per_client + n) % len(bodies)]
            started = time.perf_counter()
            response = await client.post("/v1/drafts", json=body)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 201

    started = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(clients)))
    return LevelResult(clients, latencies, errors, time.perf_counter() - started)


async def load(base_url: str, token: str, bodies: list[dict], per_client: int) -> list:
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(600)
    limits = httpx.Limits(max_connections=max(LEVELS))
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=timeout, limits=limits
    ) as client:
        await client.post("/v1/drafts", json=bodies[0])  # loads the model in the server
        return [await run_level(client, bodies, level, per_client) for level in LEVELS]


def library_seconds(settings: Settings, bodies: list[dict]) -> list[float]:
    drafter = Drafter(Services(settings))
    drafter.draft(DraftRequest.model_validate(bodies[0]))  # loads the model
    times = []
    for body in bodies:
        started = time.perf_counter()
        # Stored like the API stores it, so both sides do the same work.
        drafter.draft(DraftRequest.model_validate(body))
        times.append(time.perf_counter() - started)
    return times


def report(results: list[LevelResult], library: list[float]) -> None:
    print("clients  requests  p50 ms  p95 ms  errors  drafts/s")
    for result in results:
        ms = [s * 1000 for s in result.latencies_s]
        print(
            f"{result.clients:>7} {result.requests:>9} {percentile(ms, 0.5):>7.0f} "
            f"{percentile(ms, 0.95):>7.0f} {result.errors / result.requests:>7.1%} "
            f"{result.requests / result.wall_s:>9.2f}"
        )
    single = results[0].latencies_s
    http_median = statistics.median(single)
    library_median = statistics.median(library)
    print(
        f"API overhead: median HTTP draft {http_median * 1000:.0f} ms / median library draft "
        f"{library_median * 1000:.0f} ms = {http_median / library_median:.2f} "
        f"over {len(single)} and {len(library)} drafts"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="One request per client, for a smoke run."
    )
    parser.add_argument(
        "--requests-per-client", type=int, default=4, help="Requests each client sends per level."
    )
    args = parser.parse_args()
    per_client = 1 if args.quick else args.requests_per_client
    with tempfile.TemporaryDirectory() as folder:
        settings = prepare(Path(folder))
        services = Services(settings)
        bodies = request_bodies(services, max(LEVELS) * per_client)
        _, token = create_api_key(services.engine, "bench")
        services.engine.dispose()
        port = free_port()
        server = start_server(settings, port, Path(folder) / "serve.log")
        try:
            results = asyncio.run(load(f"http://127.0.0.1:{port}", token, bodies, per_client))
        finally:
            server.terminate()
            server.wait(timeout=60)
        library = library_seconds(settings, bodies[: results[0].requests])
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; model: local SmolLM2 via llama.cpp")
    report(results, library)


if __name__ == "__main__":
    main()
