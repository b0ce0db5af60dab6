"""Service-recovery triggers: what went wrong for a customer, and which message comes first.

A trigger is one of these, as of the moment a message is drafted for:

- late_delivery: an order whose carrier delivery date (not an estimate) falls on a later local
  day than the one the brand's delivery policy promised, delivered within RECENT_DAYS;
- not_delivered: an order still placed or shipped after the promised local day has ended;
- damaged, wrong_item, quality, delivery_problem: a support ticket of category damaged,
  wrong_item, quality or delivery that is open, or was closed within RECENT_DAYS;
- return: a return created within RECENT_DAYS;
- low_rating: a review of 1 or 2 stars written within RECENT_DAYS, or without a date.

Tickets of other categories (billing, other) and open tickets known only by count are no
trigger, because their records do not state what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.context.delivery import estimate_delivery
from agent.domain import (
    BrandProfile,
    CustomerContext,
    MessageKind,
    Order,
    OrderStatus,
    ProductReturn,
    RecoveryTrigger,
    Review,
    Ticket,
    TicketStatus,
)

RECENT_DAYS = 30
LOW_RATING_MAX = 2
TICKET_TRIGGERS: dict[str, RecoveryTrigger] = {
    "delivery": RecoveryTrigger.DELIVERY_PROBLEM,
    "damaged": RecoveryTrigger.DAMAGED,
    "wrong_item": RecoveryTrigger.WRONG_ITEM,
    "quality": RecoveryTrigger.QUALITY,
}
# Kinds that ask an unhappy customer for something, so they wait while a problem is open.
ASKING_KINDS = frozenset({MessageKind.REVIEW_REQUEST, MessageKind.REFERRAL_INVITE})


@dataclass(frozen=True)
class Trigger:
    """One reason for a service-recovery message, with the record it comes from.

    `at` is when it happened: the delivery or promised day, the ticket's opening, the return
    or the review, or None for an undated review. `open` is True while the problem lasts: an
    open ticket or an order that has not arrived.
    """

    trigger: RecoveryTrigger
    at: datetime | None
    open: bool
    order: Order | None = None
    promised: date | None = None
    ticket: Ticket | None = None
    product_return: ProductReturn | None = None
    review: Review | None = None


def promised_day(order: Order, brand: BrandProfile, country: str | None) -> date:
    """Return the local day by which the brand's delivery policy promised the order."""
    return estimate_delivery(order.placed_at, brand, country).date()


def _local_day(moment: datetime, brand: BrandProfile) -> date:
    return moment.astimezone(ZoneInfo(brand.timezone)).date()


def _recent(moment: datetime | None, as_of: datetime) -> bool:
    return moment is not None and as_of - timedelta(days=RECENT_DAYS) <= moment <= as_of


def delivery_triggers(
    context: CustomerContext, brand: BrandProfile, as_of: datetime
) -> list[Trigger]:
    """Find orders that came later than promised, or have not come by the promised day."""
    found = []
    today = _local_day(as_of, brand)
    for order in context.orders:
        if order.status is OrderStatus.CANCELLED or order.placed_at > as_of:
            continue
        promised = promised_day(order, brand, context.country)
        delivered = order.delivered_at is not None and order.delivered_at <= as_of
        if not delivered and today > promised:
            found.append(
                Trigger(RecoveryTrigger.NOT_DELIVERED, order.placed_at, True, order, promised)
            )
            continue
        # An estimated delivery date is the promise itself, so only a carrier date can be late.
        if not delivered or order.delivery_estimated or not _recent(order.delivered_at, as_of):
            continue
        if _local_day(order.delivered_at, brand) > promised:  # type: ignore[arg-type]
            found.append(
                Trigger(RecoveryTrigger.LATE_DELIVERY, order.delivered_at, False, order, promised)
            )
    return found


def ticket_triggers(context: CustomerContext, as_of: datetime) -> list[Trigger]:
    """Find complaint tickets that are open, or were closed within RECENT_DAYS."""
    found = []
    for ticket in context.tickets:
        trigger = TICKET_TRIGGERS.get(ticket.category)
        if trigger is None or ticket.opened_at > as_of:
            continue
        is_open = ticket.status is TicketStatus.OPEN
        if is_open or _recent(ticket.closed_at, as_of):
            found.append(Trigger(trigger, ticket.opened_at, is_open, ticket=ticket))
    return found


def return_triggers(context: CustomerContext, as_of: datetime) -> list[Trigger]:
    orders = {order.order_id: order for order in context.orders}
    return [
        Trigger(
            RecoveryTrigger.RETURN,
            item.created_at,
            False,
            order=orders.get(item.order_id),
            product_return=item,
        )
        for item in context.returns
        if _recent(item.created_at, as_of)
    ]


def review_triggers(context: CustomerContext, as_of: datetime) -> list[Trigger]:
    return [
        Trigger(RecoveryTrigger.LOW_RATING, review.created_at, False, review=review)
        for review in context.reviews
        if review.rating <= LOW_RATING_MAX
        and (review.created_at is None or _recent(review.created_at, as_of))
    ]


def detect_triggers(
    context: CustomerContext, brand: BrandProfile, as_of: datetime
) -> list[Trigger]:
    """Return every active trigger, the one a message should be about first."""
    found = (
        delivery_triggers(context, brand, as_of)
        + ticket_triggers(context, as_of)
        + return_triggers(context, as_of)
        + review_triggers(context, as_of)
    )
    return sorted(found, key=_urgency)


# Open tickets come first, then parcels still missing, late parcels, closed tickets,
# returns and low ratings.
_RANK = {
    RecoveryTrigger.DAMAGED: 0,
    RecoveryTrigger.WRONG_ITEM: 0,
    RecoveryTrigger.QUALITY: 0,
    RecoveryTrigger.DELIVERY_PROBLEM: 0,
    RecoveryTrigger.NOT_DELIVERED: 1,
    RecoveryTrigger.LATE_DELIVERY: 2,
    RecoveryTrigger.RETURN: 4,
    RecoveryTrigger.LOW_RATING: 5,
}


def _urgency(trigger: Trigger) -> tuple[int, float]:
    rank = _RANK[trigger.trigger]
    if trigger.ticket is not None:
        rank = 0 if trigger.open else 3
    # Newer first; an undated review counts as the oldest.
    return rank, -(trigger.at.timestamp() if trigger.at else float("-inf"))


def primary_trigger(triggers: Sequence[Trigger]) -> Trigger | None:
    """Return the trigger a recovery message is about: the most urgent, then the newest."""
    return min(triggers, key=_urgency, default=None)


def prioritise(kinds: Iterable[MessageKind], triggers: Sequence[Trigger]) -> list[MessageKind]:
    """Order candidate kinds for one customer: service_recovery first whenever a trigger is
    active, even when it was not among `kinds`.

    While a trigger is open (an open complaint, or a parcel not yet arrived), review requests
    and referral invites are left out, because asking an unhappy customer for praise makes
    things worse. Without a trigger, service_recovery is left out.
    """
    others = [kind for kind in dict.fromkeys(kinds) if kind is not MessageKind.SERVICE_RECOVERY]
    if not triggers:
        return others
    if any(trigger.open for trigger in triggers):
        others = [kind for kind in others if kind not in ASKING_KINDS]
    return [MessageKind.SERVICE_RECOVERY, *others]
