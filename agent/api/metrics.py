"""Prometheus metrics of one app: requests by route and status, latency, queue, drafts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Drafting takes seconds, so the buckets reach further than prometheus-client's defaults.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _DraftsByStatus:
    """Reads the stored drafts per status at each scrape."""

    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily("aftercare_drafts", "Stored drafts by status.", labels=["status"])

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        try:
            counts = self._count()
        except Exception as error:  # noqa: BLE001 - a scrape must not fail on a busy database
            log.warning("could not count drafts for /metrics: %s", error)
            return []
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        return [family]


class ApiMetrics:
    """The metrics of one app, in a registry of their own so that apps never share series."""

    def __init__(
        self,
        *,
        waiting: Callable[[], float],
        running: Callable[[], float],
        drafts_by_status: Callable[[], dict[str, int]],
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aftercare_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aftercare_http_request_duration_seconds",
            "Time from receiving a request to sending its response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        queue_waiting = Gauge(
            "aftercare_draft_queue_waiting",
            "Draft requests queued and not started.",
            registry=self.registry,
        )
        queue_waiting.set_function(waiting)
        queue_running = Gauge(
            "aftercare_draft_queue_running",
            "Draft requests being drafted now.",
            registry=self.registry,
        )
        queue_running.set_function(running)
        self.registry.register(_DraftsByStatus(drafts_by_status))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class ObserveMiddleware:
    """Counts and times every HTTP request and logs one line per request.

    Routes are labelled by their template (`/v1/drafts/{draft_id}`), so ids never become
    labels, and the log line names the method, route, status, duration and API key id only.
    """

    def __init__(self, app: ASGIApp, metrics: Callable[[], ApiMetrics | None]) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        metrics = self._metrics()
        if metrics is not None:
            metrics.observe(scope["method"], template, status, seconds)
        key_id = scope.get("state", {}).get("api_key_id", "-")
        log.info(
            "%s %s %d %.1f ms key=%s", scope["method"], template, status, seconds * 1000, key_id
        )
