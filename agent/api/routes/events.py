"""`/v1/events`: CRM webhook events into the context store, once per event id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response
from fastapi.concurrency import run_in_threadpool

from agent.api.deps import get_runtime
from agent.api.event_writer import EventRejected
from agent.api.events import CrmEvent, EventReceipt
from agent.api.problems import Problem, problem_responses
from agent.api.runtime import ApiRuntime

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    response_model=EventReceipt,
    summary="Record a CRM event: order, delivery, ticket, review, return, consent or message sent",
    responses={
        201: {"model": EventReceipt, "description": "The event was applied."},
        **problem_responses(422),
    },
)
async def receive_event(
    event: Annotated[CrmEvent, Body()],
    response: Response,
    runtime: Annotated[ApiRuntime, Depends(get_runtime)],
) -> EventReceipt:
    """Apply the event and respond 201, or 200 with `duplicate` when its id was seen before.

    Validation errors name the field after the event type, such as `order.placed_at`.
    """
    try:
        applied = await run_in_threadpool(runtime.events.apply, event)
    except EventRejected as error:
        raise Problem(422, str(error), name="event-rejected", title="Event rejected") from error
    response.status_code = 201 if applied else 200
    return EventReceipt(event_id=event.event_id, type=event.type, duplicate=not applied)
