"""A bounded queue of draft request ids and the worker threads that draft them.

Drafting is CPU-bound model work, so it runs on these threads instead of the event loop.
The queue bounds the requests waiting or running; beyond `depth` it raises QueueFull and
the API responds 503 with Retry-After instead of letting callers time out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

# Seconds assumed for one draft before any has finished, for the first Retry-After values.
INITIAL_DRAFT_SECONDS = 2.0
# Weight of the newest draft in the running mean of draft durations.
DURATION_SMOOTHING = 0.2


class QueueFull(Exception):
    def __init__(self, needed: int, free: int, retry_after_s: float) -> None:
        super().__init__(
            f"the draft queue has room for {free} more request(s) but {needed} were submitted; "
            f"retry after {retry_after_s:.0f} s"
        )
        self.retry_after_s = retry_after_s


class QueueClosed(Exception):
    """The server is shutting down and takes no new work."""


class WorkQueue:
    """Runs `run(request_id)` on `workers` threads for at most `depth` waiting or running ids."""

    def __init__(self, run: Callable[[str], Any], *, workers: int, depth: int) -> None:
        self.depth = depth
        self._run = run
        self._waiting: deque[str] = deque()
        self._futures: dict[str, Future[Any]] = {}
        self._busy = 0
        self._closed = False
        self._mean_seconds = INITIAL_DRAFT_SECONDS
        self._condition = threading.Condition()
        self._threads = [
            threading.Thread(target=self._work, name=f"draft-worker-{n}", daemon=True)
            for n in range(workers)
        ]

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        log.info("started %d draft worker(s), queue depth %d", len(self._threads), self.depth)

    def retry_after_s(self) -> float:
        """Estimate the seconds until a place frees up, from the mean draft duration."""
        per_worker = (self.waiting + self._busy) / len(self._threads)
        return max(1.0, per_worker * self._mean_seconds)

    def submit(self, request_ids: list[str], *, force: bool = False) -> list[Future[Any]]:
        """Queue all of `request_ids` or none; `force` ignores the depth, for recovery.

        Raises QueueFull when there is no room for all of them and QueueClosed after stop.
        """
        with self._condition:
            if self._closed:
                raise QueueClosed("the server is shutting down; retry on another instance")
            free = self.depth - self.waiting - self._busy
            if not force and len(request_ids) > free:
                raise QueueFull(len(request_ids), max(free, 0), self.retry_after_s())
            futures = []
            for request_id in request_ids:
                future = self._futures.get(request_id)
                if future is None:
                    future = self._futures[request_id] = Future()
                    self._waiting.append(request_id)
                futures.append(future)
            self._condition.notify(len(request_ids))
            return futures

    def future(self, request_id: str) -> Future[Any] | None:
        """Return the future of a request queued or running in this process, if any."""
        with self._condition:
            return self._futures.get(request_id)

    def stop(self, timeout_s: float | None = None) -> None:
        """Let running drafts finish, then stop the threads; waiting ids stay in the database.

        Futures of ids still waiting get QueueClosed, so their HTTP callers receive a response.
        """
        with self._condition:
            self._closed = True
            left = [self._futures.pop(request_id) for request_id in self._waiting]
            self._waiting.clear()
            self._condition.notify_all()
        for future in left:
            future.set_exception(QueueClosed("the server stopped before drafting the request"))
        for thread in self._threads:
            thread.join(timeout_s)
        log.info(
            "stopped the draft workers; %d queued request(s) left for the next start", len(left)
        )

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._waiting and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                request_id = self._waiting.popleft()
                self._busy += 1
            self._run_one(request_id)

    def _run_one(self, request_id: str) -> None:
        started = time.monotonic()
        try:
            result = self._run(request_id)
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits on the future
            log.error("draft worker failed on request %s", request_id, exc_info=error)
            result, failure = None, error
        else:
            failure = None
        elapsed = time.monotonic() - started
        with self._condition:
            self._busy -= 1
            self._mean_seconds += DURATION_SMOOTHING * (elapsed - self._mean_seconds)
            future = self._futures.pop(request_id, None)
        if future is not None:
            if failure is not None:
                future.set_exception(failure)
            else:
                future.set_result(result)
