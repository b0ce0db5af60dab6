"""`/v1/drafts`: create drafts, list and read them, and approve or reject them."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from agent.api.deps import ApiKeyDep, IdempotencyKey, get_runtime, get_services
from agent.api.fields import Moment, Slug, check_year
from agent.api.problems import Problem, problem_responses
from agent.api.runtime import ApiRuntime
from agent.api.submission import submit_and_wait
from agent.domain import Draft, DraftRequest, DraftStatus, MessageKind
from agent.drafting.services import Services
from agent.review import workflow
from agent.review.errors import MissingReason, ReviewError
from agent.review.store import DraftChanged, DraftNotFound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/drafts", tags=["drafts"])

DraftId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


class DraftPage(BaseModel):
    items: list[Draft]
    count: int = Field(description="Number of drafts in `items`.")


class Approval(BaseModel):
    reviewer: str = Field(min_length=1, max_length=100, description="Who approves the draft.")
    override: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Why a draft with blocking findings may be sent anyway; needed only then.",
    )


class Rejection(BaseModel):
    reviewer: str = Field(min_length=1, max_length=100, description="Who rejects the draft.")
    reason: str = Field(min_length=1, max_length=500, description="Why the draft is rejected.")


def check_request_times(request: DraftRequest, location: str = "as_of") -> None:
    """Reject an `as_of` outside the supported years with 422 naming the field."""
    if request.as_of is None:
        return
    try:
        check_year(request.as_of)
    except ValueError as error:
        raise Problem(
            422,
            f"`{location}` {error}",
            name="validation-error",
            title="Invalid request",
            errors=[
                {"field": location, "location": "body", "message": str(error), "type": "range"}
            ],
        ) from error


def _review_problem(error: Exception) -> Problem:
    if isinstance(error, DraftNotFound):
        return Problem(404, str(error), name="draft-not-found")
    if isinstance(error, MissingReason | ValueError):
        return Problem(422, str(error), name="invalid-review")
    return Problem(409, str(error), name="review-conflict", title="Review refused")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Draft,
    summary="Draft one message and wait for it",
    responses=problem_responses(404, 409, 422, 503),
)
async def create_draft(
    request: DraftRequest,
    response: Response,
    runtime: Annotated[ApiRuntime, Depends(get_runtime)],
    key: ApiKeyDep,
    idempotency_key: IdempotencyKey = None,
) -> Draft:
    """Queue the request, draft it on a worker and respond with the stored draft.

    The request is stored before drafting, so it survives a crash. With an
    `Idempotency-Key`, a retry returns the first outcome instead of drafting again.
    """
    check_request_times(request)
    stored, created = await run_in_threadpool(
        runtime.requests.create,
        request,
        api_key_id=key.key_id if key else None,
        idempotency_key=idempotency_key,
    )
    outcome = await submit_and_wait(runtime, stored, created)
    if outcome.problem is not None:
        raise outcome.problem
    assert outcome.draft is not None
    response.headers["Location"] = f"/v1/drafts/{outcome.draft.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return outcome.draft


@router.get("", response_model=DraftPage, summary="List drafts, newest first")
async def list_drafts(
    services: Annotated[Services, Depends(get_services)],
    draft_status: Annotated[DraftStatus | None, Query(alias="status")] = None,
    kind: MessageKind | None = None,
    brand: Slug | None = None,
    since: Annotated[Moment | None, Query(description="Created at or after, with a zone.")] = None,
    until: Annotated[Moment | None, Query(description="Created before, with a zone.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DraftPage:
    drafts = await run_in_threadpool(
        services.drafts.list,
        status=draft_status,
        kinds=[kind.value] if kind else None,
        brand=brand,
        since=since,
        until=until,
        limit=limit,
    )
    return DraftPage(items=drafts, count=len(drafts))


@router.get("/{draft_id}", response_model=Draft, responses=problem_responses(404))
async def get_draft(
    draft_id: DraftId, services: Annotated[Services, Depends(get_services)]
) -> Draft:
    try:
        return await run_in_threadpool(services.drafts.get, draft_id)
    except DraftNotFound as error:
        raise Problem(404, str(error), name="draft-not-found") from error


@router.post(
    "/{draft_id}/approve",
    response_model=Draft,
    summary="Approve a draft for sending",
    responses=problem_responses(404, 409, 422),
)
async def approve_draft(
    draft_id: DraftId, body: Approval, services: Annotated[Services, Depends(get_services)]
) -> Draft:
    """Approve a draft waiting for review. A draft with blocking findings needs `override`."""
    try:
        return await run_in_threadpool(
            workflow.approve, services, draft_id, body.reviewer, body.override
        )
    except (DraftNotFound, DraftChanged, ReviewError) as error:
        raise _review_problem(error) from error


@router.post(
    "/{draft_id}/reject",
    response_model=Draft,
    summary="Reject a draft, with the reason",
    responses=problem_responses(404, 409, 422),
)
async def reject_draft(
    draft_id: DraftId, body: Rejection, services: Annotated[Services, Depends(get_services)]
) -> Draft:
    try:
        return await run_in_threadpool(
            workflow.reject, services, draft_id, body.reviewer, body.reason
        )
    except (DraftNotFound, DraftChanged, ReviewError) as error:
        raise _review_problem(error) from error
