"""`/v1/jobs`: submit a batch of draft requests and follow its progress."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from agent.api.deps import ApiKeyDep, IdempotencyKey, get_runtime
from agent.api.draft_requests import RequestNotFound, RequestStatus, StoredJob
from agent.api.problems import Problem, ProblemDetails, problem_responses
from agent.api.routes.drafts import check_request_times
from agent.api.runtime import ApiRuntime
from agent.api.submission import submit_job
from agent.domain import DraftRequest

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

JobId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


class JobSubmission(BaseModel):
    # The upper bound is the setting api_job_max_items, checked in the handler.
    requests: list[DraftRequest] = Field(min_length=1, description="Drafts to make, in order.")


class JobItem(BaseModel):
    position: int = Field(description="Index of the request in the submitted list.")
    request_id: str
    status: RequestStatus
    draft_id: str | None = None
    error: ProblemDetails | None = Field(
        default=None, description="Why the request failed, as the draft endpoint would answer."
    )


class JobCounts(BaseModel):
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0


class Job(BaseModel):
    id: str
    status: Literal["queued", "running", "completed"] = Field(
        description="completed once every item is done or failed."
    )
    created_at: datetime
    total: int
    counts: JobCounts
    items: list[JobItem]


def job_view(job: StoredJob) -> Job:
    counts = JobCounts()
    items = []
    for item in job.items:
        setattr(counts, item.status.value, getattr(counts, item.status.value) + 1)
        error: Any = None
        if item.error is not None:
            error = ProblemDetails.model_validate(item.error | {"instance": f"/v1/jobs/{job.id}"})
        items.append(
            JobItem(
                position=item.position,
                request_id=item.id,
                status=item.status,
                draft_id=item.draft_id if item.status is RequestStatus.DONE else None,
                error=error,
            )
        )
    if counts.queued + counts.running == 0:
        state = "completed"
    elif counts.queued == len(items):
        state = "queued"
    else:
        state = "running"
    return Job(
        id=job.id,
        status=state,
        created_at=job.created_at,
        total=len(items),
        counts=counts,
        items=items,
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Job,
    summary="Submit a batch of draft requests",
    responses=problem_responses(422, 503),
)
async def create_job(
    submission: JobSubmission,
    response: Response,
    runtime: Annotated[ApiRuntime, Depends(get_runtime)],
    key: ApiKeyDep,
    idempotency_key: IdempotencyKey = None,
) -> Job:
    """Store every request as queued, then draft them in the background.

    Poll the job's Location for progress. The whole batch is refused with 503 when the
    queue has no room for all of it.
    """
    limit = runtime.settings.api_job_max_items
    if len(submission.requests) > limit:
        raise Problem(
            422,
            f"a job may hold at most {limit} requests, got {len(submission.requests)}; "
            "split the batch",
            name="job-too-large",
        )
    for index, request in enumerate(submission.requests):
        check_request_times(request, f"requests[{index}].as_of")
    job, created = await run_in_threadpool(
        runtime.requests.create_job,
        submission.requests,
        api_key_id=key.key_id if key else None,
        idempotency_key=idempotency_key,
    )
    await submit_job(runtime, job, created)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return job_view(job)


@router.get("/{job_id}", response_model=Job, responses=problem_responses(404))
async def get_job(job_id: JobId, runtime: Annotated[ApiRuntime, Depends(get_runtime)]) -> Job:
    try:
        job = await run_in_threadpool(runtime.requests.job, job_id)
    except RequestNotFound as error:
        raise Problem(404, str(error), name="job-not-found") from error
    return job_view(job)
