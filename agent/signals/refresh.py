"""Compute every customer's signals as of a date and store them in one transaction.

For each customer in the context store: CLV and churn (`score_customers`), RFM, the
sentiment of reviews and tickets, the advocate score and the review request timing.
Everything is computed in memory first and written by `replace_signals` at the end, so an
interrupted refresh leaves the previous signals as they were.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from agent.context.store import ContextStore
from agent.context.tables import CustomerRecord, OrderRecord
from agent.domain import BrandProfile, CustomerContext
from agent.signals.advocacy import AdvocateScore, score_advocacy
from agent.signals.rfm import RfmInput, RfmResult, rfm_input, score_rfm
from agent.signals.sentiment import CustomerSentiment, customer_sentiment
from agent.signals.store import (
    AdvocacySignal,
    ClvSignal,
    CustomerSignals,
    RefreshInfo,
    ReviewSignal,
    RfmSignal,
    SentimentSignal,
    count_methods,
    replace_signals,
)
from agent.signals.timing import ReviewTiming, review_timing
from agent.signals.transactions import load_transactions

logger = logging.getLogger(__name__)

# A clock skew allowance: `as_of` may be this far past the current time.
FUTURE_TOLERANCE = timedelta(minutes=5)
NO_CLV_METHOD = "none"

# Called with (customers done, customers in total).
Progress = Callable[[int, int], None]


class RefreshError(ValueError):
    """The refresh cannot run on this input. The message names the value to change."""


@dataclass
class RefreshReport:
    refresh_id: str
    brand: str
    as_of: datetime
    customers: int
    skipped_later_customers: int
    seconds: float
    clv_seconds: float  # loading transactions and scoring CLV, part of `seconds`
    clv_methods: dict[str, int]
    segments: dict[str, int]
    review_due: int
    notes: list[str] = field(default_factory=list)


@dataclass
class _Partial:
    """Signals from one customer's own context, before the base-wide RFM scores and CLV."""

    context_id: str
    rfm_input: RfmInput
    sentiment: CustomerSentiment
    advocacy: AdvocateScore
    timing: ReviewTiming


def check_as_of(as_of: datetime, *, now: datetime | None = None) -> None:
    """Raise RefreshError for a naive `as_of` or one in the future."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise RefreshError(
            f"as_of {as_of.isoformat()} has no time zone; give one, such as "
            f"{as_of.replace(tzinfo=UTC).isoformat()}"
        )
    now = now or datetime.now(UTC)
    if as_of > now + FUTURE_TOLERANCE:
        raise RefreshError(
            f"as_of {as_of.isoformat()} is in the future (now is "
            f"{now.isoformat(timespec='seconds')}); signals describe purchases that happened, "
            "so give a past date or leave --as-of out"
        )


def customers_as_of(engine: Engine, as_of: datetime) -> tuple[list[str], int]:
    """Return (customer ids to score, customers whose first order is after `as_of`).

    A customer counts when their first order, cancelled or not, was placed at or before
    `as_of`, or when they have no order at all.
    """
    first_order = (
        select(OrderRecord.customer_id, func.min(OrderRecord.placed_at).label("first"))
        .group_by(OrderRecord.customer_id)
        .subquery()
    )
    statement = (
        select(CustomerRecord.customer_id, first_order.c.first)
        .outerjoin(first_order, first_order.c.customer_id == CustomerRecord.customer_id)
        .order_by(CustomerRecord.customer_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    naive_as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    known = [cid for cid, first in rows if first is None or _naive(first) <= naive_as_of]
    return known, len(rows) - len(known)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def partial_signals(context: CustomerContext, brand: BrandProfile, as_of: datetime) -> _Partial:
    """Compute the signals that need only this customer's own context."""
    rfm = rfm_input(context, as_of)
    sentiment = customer_sentiment(context, as_of)
    return _Partial(
        context_id=context.customer_id,
        rfm_input=rfm,
        sentiment=sentiment,
        advocacy=score_advocacy(rfm.orders, context, sentiment),
        timing=review_timing(context, brand, sentiment, as_of),
    )


def refresh_signals(
    engine: Engine,
    brand: BrandProfile,
    as_of: datetime,
    *,
    contexts: ContextStore | None = None,
    progress: Progress | None = None,
) -> RefreshReport:
    """Compute and store the signals of every customer known at `as_of`, for `brand`."""
    check_as_of(as_of)
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    customer_ids, skipped = customers_as_of(engine, as_of)
    if not customer_ids:
        raise RefreshError(
            f"no customer has an order at or before {as_of.isoformat()}; import orders with "
            "`aftercare import online-retail PATH`, or give a later --as-of"
        )
    logger.info("refreshing signals of %d customers as of %s", len(customer_ids), as_of)

    clv_started = time.perf_counter()
    clv, notes = score_clv(engine, as_of)
    clv_seconds = time.perf_counter() - clv_started
    partials = _load_partials(
        contexts or ContextStore(engine), customer_ids, brand, as_of, progress
    )
    rfm = score_rfm([item.rfm_input for item in partials])
    refresh_id = secrets.token_hex(8)
    signals = [
        assemble(item, rfm[item.context_id], clv.get(item.context_id), brand, as_of, refresh_id)
        for item in partials
    ]
    info = RefreshInfo(
        refresh_id=refresh_id,
        brand=brand.brand_id,
        as_of=as_of,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        customers=len(signals),
        clv_methods=count_methods(signals),
        notes=notes,
    )
    replace_signals(engine, info, signals)
    return RefreshReport(
        refresh_id=refresh_id,
        brand=brand.brand_id,
        as_of=as_of,
        customers=len(signals),
        skipped_later_customers=skipped,
        seconds=time.perf_counter() - started,
        clv_seconds=clv_seconds,
        clv_methods=info.clv_methods,
        segments=dict(Counter(item.rfm.segment for item in signals)),
        review_due=sum(item.review.status == "due" for item in signals),
        notes=notes,
    )


def _load_partials(
    contexts: ContextStore,
    customer_ids: list[str],
    brand: BrandProfile,
    as_of: datetime,
    progress: Progress | None,
) -> list[_Partial]:
    partials = []
    total = len(customer_ids)
    for done, customer_id in enumerate(customer_ids, start=1):
        context = contexts.load(customer_id, as_of=as_of, brand=brand)
        partials.append(partial_signals(context, brand, as_of))
        if progress is not None:
            progress(done, total)
    return partials


# --- CLV --------------------------------------------------------------------------------


def score_clv(engine: Engine, as_of: datetime) -> tuple[dict[str, ClvSignal], list[str]]:
    """Score churn and value of every customer with a live order; return the notes too.

    `score_customers` falls back to rules for customers the models cannot score, and
    explains each fallback in its notes, which the refresh stores and prints.
    """
    # Imported here because pymc, which the CLV models need, takes seconds and hundreds of
    # MiB to load, and the planner and the API import this module without scoring CLV.
    from agent.signals.clv import score_customers

    transactions = load_transactions(engine, as_of=as_of)
    scores = score_customers(transactions, as_of)
    notes = list(scores.notes)
    for fit in (scores.bg_nbd, scores.gamma_gamma):
        if fit is not None:
            params = ", ".join(f"{name}={value:.4g}" for name, value in fit.params.items())
            notes.append(
                f"{fit.model} fitted to {fit.customers:,} customers by {fit.fit_method}: "
                f"{params}, log-likelihood {fit.log_likelihood:,.1f}"
            )
    signals = {
        row.customer_id: ClvSignal(
            method=row.method,
            p_alive=row.p_alive,
            expected_purchases=row.expected_purchases,
            predicted_clv=row.predicted_clv,
            clv_low=row.clv_low,
            clv_high=row.clv_high,
            frequency=row.frequency,
            recency_days=row.recency_days,
            tenure_days=row.tenure_days,
            monetary=row.monetary,
            horizon_days=scores.horizon_days,
            fallback_reason=row.fallback_reason,
        )
        for row in scores.customers
    }
    return signals, notes


# --- assembly ---------------------------------------------------------------------------


def assemble(
    partial: _Partial,
    rfm: RfmResult,
    clv: ClvSignal | None,
    brand: BrandProfile,
    as_of: datetime,
    refresh_id: str,
) -> CustomerSignals:
    timing = partial.timing
    sentiment = partial.sentiment
    return CustomerSignals(
        customer_id=partial.context_id,
        brand=brand.brand_id,
        as_of=as_of,
        computed_at=datetime.now(UTC),
        refresh_id=refresh_id,
        clv=clv or ClvSignal(method=NO_CLV_METHOD, fallback_reason="no_live_order"),
        rfm=RfmSignal(
            recency_days=rfm.recency_days,
            orders=rfm.orders,
            monetary=rfm.monetary,
            r_score=rfm.r_score,
            f_score=rfm.f_score,
            m_score=rfm.m_score,
            segment=rfm.segment.value,
        ),
        sentiment=SentimentSignal(
            texts=sentiment.texts,
            mean_compound=sentiment.mean_compound,
            latest_compound=sentiment.latest_compound,
            latest_at=sentiment.latest_at,
            recent_negative=sentiment.recent_negative,
            label=sentiment.label.value if sentiment.label else None,
        ),
        advocacy=AdvocacySignal.model_validate(partial.advocacy.as_dict()),
        review=ReviewSignal(
            status=timing.status.value,
            order_id=timing.order_id,
            delivered_at=timing.delivered_at,
            delivery_estimated=timing.delivery_estimated,
            window_days=timing.window_days,
            window_source=timing.window_source,
            families=timing.families,
            due_at=timing.due_at,
            blockers=[blocker.value for blocker in timing.blockers],
        ),
    )
