"""A short summary of a draft's customer for the reviewer, with no PII beyond the first name."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError

from agent.context.store import CustomerNotFound
from agent.domain import BrandProfile
from agent.drafting.services import Services

log = logging.getLogger(__name__)


class SignalsSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: datetime
    clv_method: str
    p_alive: float | None = None
    predicted_clv: float | None = None
    rfm_segment: str
    sentiment: str | None = None
    advocate_score: int
    review_status: str


class CustomerSummary(BaseModel):
    """The facts a reviewer needs to judge the message, as of `as_of`."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str
    as_of: datetime
    found: bool
    first_name: str | None = None
    orders: int = 0
    last_order_at: datetime | None = None
    open_tickets: int = 0
    email_consent: bool | None = None
    sms_consent: bool | None = None
    signals: SignalsSummary | None = None
    # Why `signals` is empty, such as the command that computes them.
    signals_note: str | None = None


def summarize_customer(
    services: Services, customer_id: str, brand: BrandProfile, as_of: datetime
) -> CustomerSummary:
    """Summarize a customer from the database; `found` is False when it has no such customer."""
    try:
        context = services.contexts.load(customer_id, as_of=as_of, brand=brand)
    except CustomerNotFound:
        return CustomerSummary(
            customer_id=customer_id,
            as_of=as_of,
            found=False,
            signals_note="signals not computed: the customer is not in the database",
        )
    last = context.last_order()
    signals, note = customer_signals(services, customer_id, brand.brand_id)
    return CustomerSummary(
        customer_id=customer_id,
        as_of=as_of,
        found=True,
        first_name=context.first_name,
        orders=len(context.orders),
        last_order_at=last.placed_at if last else None,
        open_tickets=context.open_ticket_count(),
        email_consent=context.consent.email_marketing,
        sms_consent=context.consent.sms_marketing,
        signals=signals,
        signals_note=note,
    )


def customer_signals(
    services: Services, customer_id: str, brand_id: str
) -> tuple[SignalsSummary | None, str | None]:
    """Return the stored signals of a customer, or None and the reason there are none."""
    try:
        from agent.signals.store import SignalsNotComputed, signals_for
    except ImportError:
        # NOTE: signals are optional, so drafts show even without agent.signals.store.
        return None, "signals not computed"
    try:
        found = signals_for(services.engine, customer_id, brand=brand_id)
    except SignalsNotComputed as error:
        return None, f"signals not computed: {error}"
    except SQLAlchemyError as error:
        log.warning("reading signals of a customer failed: %s", type(error).__name__)
        return None, "signals not computed: the signals table could not be read"
    summary = SignalsSummary(
        as_of=found.as_of,
        clv_method=found.clv.method,
        p_alive=found.clv.p_alive,
        predicted_clv=found.clv.predicted_clv,
        rfm_segment=found.rfm.segment,
        sentiment=found.sentiment.label,
        advocate_score=found.advocacy.score,
        review_status=found.review.status,
    )
    return summary, None
