"""`/v1/plan` and `/v1/customers/{id}/signals`: the planner and stored customer signals."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from agent.api.deps import get_services
from agent.api.fields import Identifier, Moment, Slug
from agent.api.problems import Problem, problem_responses
from agent.context.store import CustomerNotFound
from agent.domain import BrandProfile, Channel, Finding, MessageKind
from agent.drafting.services import Services
from agent.knowledge.brand import BrandNotFound
from agent.knowledge.documents import InvalidKnowledgeDocument
from agent.signals.planner import PlanResult, plan_customers
from agent.signals.refresh import RefreshError, check_as_of
from agent.signals.store import (
    CustomerSignals,
    SignalsNotComputed,
    customer_known,
    refresh_command,
    signals_for,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["signals"])

# NOTE: planning runs inside the request, one customer at a time (see BENCHMARKS.md for
# the throughput), so one request plans at most this many customers.
MAX_PLAN_LIMIT = 1000


class PlanRequest(BaseModel):
    as_of: Moment | None = Field(default=None, description="Plan as of this moment; now if empty.")
    limit: int = Field(
        default=100,
        ge=1,
        le=MAX_PLAN_LIMIT,
        description="Plan at most this many customers, in customer id order.",
    )
    channel: Channel = Channel.EMAIL
    brand: Slug | None = Field(default=None, description="Brand id; the default brand if empty.")
    customer_ids: list[Identifier] | None = Field(
        default=None,
        max_length=MAX_PLAN_LIMIT,
        description="Plan only these customers; every customer known at as_of if empty.",
    )


class PlanRowOut(BaseModel):
    customer_id: str
    kind: MessageKind | None = Field(description="The kind to send; null with a reason for none.")
    status: str = Field(
        description="planned (the drafting pipeline can draft it), recommended (a kind or "
        "case it does not draft) or none."
    )
    channel: Channel
    reason: str
    send_at: datetime | None = Field(description="Earliest send time in UTC.")
    send_at_local: datetime | None = Field(description="The same moment in the customer's zone.")
    zone: str | None = Field(description="The customer's IANA time zone.")
    signals: dict[str, object] = Field(description="The signals behind the decision.")
    findings: list[Finding] = Field(description="Quiet-hour, frequency-cap or blocking findings.")


class PlanResponse(BaseModel):
    as_of: datetime
    brand: str
    channel: Channel
    signals_as_of: datetime = Field(description="When the stored churn and value were computed.")
    counts: dict[str, int] = Field(description="Rows per kind, and per status for rows without.")
    warnings: list[str]
    rows: list[PlanRowOut]


def _brand(services: Services, brand_id: str | None) -> BrandProfile:
    try:
        return services.brand(brand_id or services.settings.default_brand)
    except (BrandNotFound, InvalidKnowledgeDocument) as error:
        raise Problem(422, str(error), name="brand-not-found", title="Unknown brand") from error


def _not_computed(error: SignalsNotComputed, command: str) -> Problem:
    return Problem(409, str(error), name="signals-not-computed", command=command)


def _response(result: PlanResult) -> PlanResponse:
    return PlanResponse(
        as_of=result.as_of,
        brand=result.brand,
        channel=result.channel,
        signals_as_of=result.signals_as_of,
        counts=result.counts(),
        warnings=result.warnings,
        rows=[PlanRowOut.model_validate(row.as_dict()) for row in result.rows],
    )


@router.post(
    "/v1/plan",
    response_model=PlanResponse,
    summary="Plan the next message for customers",
    responses=problem_responses(404, 409, 422),
)
def create_plan(
    request: PlanRequest, services: Annotated[Services, Depends(get_services)]
) -> PlanResponse:
    """Choose one message kind, or none with a reason, for each customer as of a moment.

    Responds 404 for an unknown id in `customer_ids`, and 409 with the refresh command when
    no signals are stored for the brand.
    """
    as_of = request.as_of or datetime.now(UTC)
    try:
        check_as_of(as_of)
    except RefreshError as error:
        raise Problem(422, f"`as_of`: {error}", name="validation-error") from error
    brand = _brand(services, request.brand)
    try:
        result = plan_customers(
            services.engine,
            brand,
            as_of,
            channel=request.channel,
            holdout_share=services.settings.plan_holdout_share,
            limit=request.limit,
            customer_ids=request.customer_ids,
            contexts=services.contexts,
        )
    except SignalsNotComputed as error:
        raise _not_computed(error, refresh_command(brand.brand_id, as_of)) from error
    except CustomerNotFound as error:
        raise Problem(404, str(error), name="customer-not-found") from error
    log.info("planned %d customers as of %s in %.1f s", len(result.rows), as_of, result.seconds)
    return _response(result)


@router.get(
    "/v1/customers/{customer_id}/signals",
    response_model=CustomerSignals,
    summary="Read a customer's stored signals",
    responses=problem_responses(404, 409),
)
def get_signals(
    customer_id: Annotated[str, Path(min_length=1, max_length=64)],
    services: Annotated[Services, Depends(get_services)],
    brand: Annotated[
        Slug | None, Query(description="Brand id; the latest signals of any brand if empty.")
    ] = None,
) -> CustomerSignals:
    """Return CLV, churn, RFM, sentiment, advocacy and review timing with their inputs.

    Responds 404 for an unknown customer and 409 with the refresh command when the
    customer's signals have not been computed.
    """
    if not customer_known(services.engine, customer_id):
        raise Problem(
            404,
            f"customer {customer_id!r} not found in the context store; check the id",
            name="customer-not-found",
        )
    try:
        return signals_for(services.engine, customer_id, brand=brand)
    except SignalsNotComputed as error:
        raise _not_computed(error, refresh_command(brand)) from error
