"""Hand stored draft requests to the work queue and wait for their outcome off the loop."""

from __future__ import annotations

import asyncio
import logging

from fastapi.concurrency import run_in_threadpool

from agent.api.draft_requests import StoredJob, StoredRequest
from agent.api.problems import Problem
from agent.api.ratelimit import retry_after_header
from agent.api.runner import Outcome, outcome_of
from agent.api.runtime import ApiRuntime
from agent.api.work_queue import QueueClosed, QueueFull

log = logging.getLogger(__name__)


def _unavailable(error: QueueFull | QueueClosed, retry_after_s: float) -> Problem:
    return Problem(
        503,
        str(error),
        name="queue-full" if isinstance(error, QueueFull) else "shutting-down",
        headers={"Retry-After": retry_after_header(retry_after_s)},
    )


async def submit(runtime: ApiRuntime, request_ids: list[str], job_id: str | None = None) -> None:
    """Queue new requests; when the queue rejects them, delete them and raise 503.

    Deleting them keeps a rejected request from being drafted later, after the caller
    received 503 with Retry-After.
    """
    assert runtime.queue is not None, "the app's lifespan has not started"
    try:
        runtime.queue.submit(request_ids)
    except (QueueFull, QueueClosed) as error:
        await run_in_threadpool(runtime.requests.discard, request_ids, job_id)
        retry_after_s = error.retry_after_s if isinstance(error, QueueFull) else 5.0
        log.warning("rejected %d draft request(s): %s", len(request_ids), error)
        raise _unavailable(error, retry_after_s) from error


async def submit_and_wait(runtime: ApiRuntime, stored: StoredRequest, created: bool) -> Outcome:
    """Queue a new request, or find a repeated one, and return its outcome."""
    if created:
        await submit(runtime, [stored.id])
    elif stored.finished:
        return await run_in_threadpool(outcome_of, stored, runtime.services)
    assert runtime.queue is not None
    future = runtime.queue.future(stored.id)
    if future is None:
        # Finished between the two reads, or queued by another process.
        current = await run_in_threadpool(runtime.requests.get, stored.id)
        outcome = await run_in_threadpool(outcome_of, current, runtime.services)
        if outcome is not None:
            return outcome
        raise _in_progress(runtime, stored.id, current.status.value)
    try:
        # Shielded, so that a client that disconnects does not cancel the shared future.
        outcome = await asyncio.shield(asyncio.wrap_future(future))
    except QueueClosed as error:
        raise _unavailable(error, 5.0) from error
    if outcome.draft is None and outcome.problem is None:
        raise _in_progress(runtime, stored.id, "queued or running")
    return outcome


def _in_progress(runtime: ApiRuntime, request_id: str, status: str) -> Problem:
    assert runtime.queue is not None
    return Problem(
        409,
        f"draft request `{request_id}` with this Idempotency-Key is still {status}; "
        "retry later with the same key to get its result",
        name="in-progress",
        headers={"Retry-After": retry_after_header(runtime.queue.retry_after_s())},
    )


async def submit_job(runtime: ApiRuntime, job: StoredJob, created: bool) -> None:
    if created:
        await submit(runtime, [item.id for item in job.items], job.id)
