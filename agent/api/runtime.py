"""The long-lived parts of one API process, started and stopped by the app's lifespan."""

from __future__ import annotations

import logging
from functools import cached_property

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.api.draft_requests import RequestStore
from agent.api.event_writer import EventWriter
from agent.api.metrics import ApiMetrics
from agent.api.ratelimit import RateLimiter
from agent.api.runner import DraftRunner
from agent.api.work_queue import WorkQueue
from agent.config import Settings
from agent.drafting.services import Services
from agent.review.store import DraftRow

log = logging.getLogger(__name__)


class ApiRuntime:
    """Services, stores, the draft queue, rate limits and metrics of one API process."""

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self.limiter = RateLimiter(
            settings.api_rate_limit_per_minute, settings.api_rate_limit_burst
        )
        self.queue: WorkQueue | None = None
        self.metrics = ApiMetrics(
            waiting=lambda: self.queue.waiting if self.queue else 0,
            running=lambda: self.queue.busy if self.queue else 0,
            drafts_by_status=self.drafts_by_status,
        )

    @cached_property
    def requests(self) -> RequestStore:
        return RequestStore(self.services.engine)

    @cached_property
    def events(self) -> EventWriter:
        return EventWriter(self.services.engine)

    @cached_property
    def runner(self) -> DraftRunner:
        return DraftRunner(
            self.services, self.requests, max_attempts=self.settings.api_draft_max_attempts
        )

    def start(self) -> None:
        """Create missing tables, start the workers and resume unfinished requests."""
        self.queue = WorkQueue(
            self.runner.run,
            workers=self.settings.api_workers,
            depth=self.settings.api_queue_depth,
        )
        self.queue.start()
        resumed = self.runner.recover()
        if resumed:
            self.queue.submit(resumed, force=True)

    def stop(self) -> None:
        """Finish the drafts in progress; queued requests stay stored for the next start."""
        if self.queue is not None:
            self.queue.stop()

    def drafts_by_status(self) -> dict[str, int]:
        query = select(DraftRow.status, func.count()).group_by(DraftRow.status)
        with Session(self.services.engine) as session:
            return {status: count for status, count in session.execute(query)}
