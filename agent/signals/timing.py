"""When a review request is due: delivery plus the usage window of the products bought.

Each product family in a brand's guides sets `usage_window_days`, the time a customer
needs to use the product before a review is fair to ask for. A request for the last live
order is due at its delivery plus the longest window among the families in that order, so
the customer has had time to use every product in it. An order with no classified family
uses DEFAULT_USAGE_WINDOW_DAYS. An order still in transit uses the brand's delivery
estimate and stays waiting.

Nothing is due while a support ticket is open or once the order's products have a review.
Nothing is due after a return of that order or within RECENT_DAYS of any return, either.
Negative text or a review of 1 or 2 stars within RECENT_DAYS (or undated) also blocks it.
These are the rules of agent.guardrails.appropriateness, which blocks the request itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from agent.context.delivery import estimate_delivery
from agent.domain import BrandProfile, CustomerContext, Order, OrderStatus
from agent.guardrails.appropriateness import NEGATIVE_REVIEW_MAX_RATING
from agent.signals.sentiment import RECENT_DAYS, CustomerSentiment

DEFAULT_USAGE_WINDOW_DAYS = 14


class ReviewStatus(StrEnum):
    DUE = "due"
    WAITING = "waiting"  # the usage window has not passed yet
    BLOCKED = "blocked"  # see `blockers`
    REVIEWED = "reviewed"  # the order's products already have a review
    NO_ORDER = "no_order"


class Blocker(StrEnum):
    OPEN_TICKET = "open_ticket"
    RETURN = "return"
    NEGATIVE_SENTIMENT = "negative_sentiment"
    NEGATIVE_REVIEW = "negative_review"


@dataclass(frozen=True)
class ReviewTiming:
    status: ReviewStatus
    order_id: str | None = None
    delivered_at: datetime | None = None
    delivery_estimated: bool = False
    window_days: int | None = None
    window_source: str | None = None  # "families" or "default"
    families: list[str] = field(default_factory=list)
    due_at: datetime | None = None
    blockers: list[Blocker] = field(default_factory=list)


def usage_window(order: Order, brand: BrandProfile) -> tuple[int, str, list[str]]:
    """Return (days, source, families) for an order: the longest window of its families."""
    windows = {family.family_id: family.usage_window_days for family in brand.families}
    families = sorted({line.family for line in order.lines if line.family in windows})
    if not families:
        return DEFAULT_USAGE_WINDOW_DAYS, "default", []
    return max(windows[family] for family in families), "families", families


def review_blockers(
    context: CustomerContext, order: Order, sentiment: CustomerSentiment, as_of: datetime
) -> list[Blocker]:
    blockers = []
    if context.open_ticket_count() > 0:
        blockers.append(Blocker.OPEN_TICKET)
    recent_from = as_of - timedelta(days=RECENT_DAYS)
    if any(
        item.order_id == order.order_id or item.created_at >= recent_from
        for item in context.returns
    ):
        blockers.append(Blocker.RETURN)
    if sentiment.recent_negative_found:
        blockers.append(Blocker.NEGATIVE_SENTIMENT)
    if any(
        review.rating <= NEGATIVE_REVIEW_MAX_RATING
        and (review.created_at is None or review.created_at >= recent_from)
        for review in context.reviews
    ):
        blockers.append(Blocker.NEGATIVE_REVIEW)
    return blockers


def order_reviewed(context: CustomerContext, order: Order) -> bool:
    """Return True when a review names a product of `order`, or is undated by product but
    written after the order was placed."""
    codes = {line.stock_code for line in order.lines}
    for review in context.reviews:
        if review.stock_code is not None and review.stock_code in codes:
            return True
        if review.stock_code is None and review.created_at and review.created_at >= order.placed_at:
            return True
    return False


def review_timing(
    context: CustomerContext,
    brand: BrandProfile,
    sentiment: CustomerSentiment,
    as_of: datetime,
) -> ReviewTiming:
    """Decide whether a review request for the customer's last live order is due at `as_of`."""
    order = context.last_order()
    if order is None:
        return ReviewTiming(ReviewStatus.NO_ORDER)
    days, source, families = usage_window(order, brand)
    estimated = order.delivered_at is None or order.delivery_estimated
    delivered_at = order.delivered_at or estimate_delivery(order.placed_at, brand, context.country)
    facts = {
        "order_id": order.order_id,
        "delivered_at": delivered_at,
        "delivery_estimated": estimated,
        "window_days": days,
        "window_source": source,
        "families": families,
        "due_at": delivered_at + timedelta(days=days),
    }
    if order_reviewed(context, order):
        return ReviewTiming(ReviewStatus.REVIEWED, **facts)
    blockers = review_blockers(context, order, sentiment, as_of)
    if blockers:
        return ReviewTiming(ReviewStatus.BLOCKED, blockers=blockers, **facts)
    delivered = order.status is OrderStatus.DELIVERED
    if not delivered or facts["due_at"] > as_of:
        return ReviewTiming(ReviewStatus.WAITING, **facts)
    return ReviewTiming(ReviewStatus.DUE, **facts)
