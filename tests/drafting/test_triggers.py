"""Service-recovery triggers and the rule that puts service recovery first."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agent.domain import (
    CustomerContext,
    MessageKind,
    Order,
    OrderLine,
    OrderStatus,
    ProductReturn,
    RecoveryTrigger,
    Review,
    Ticket,
    TicketStatus,
)
from agent.drafting.triggers import (
    RECENT_DAYS,
    detect_triggers,
    primary_trigger,
    prioritise,
    promised_day,
)
from tests.drafting.support import HH, brand

AS_OF = datetime(2011, 12, 9, 12, 0, tzinfo=UTC)
# A Friday order before the cut-off: dispatched that day, promised three working days later.
PLACED = datetime(2011, 11, 25, 10, 0, tzinfo=UTC)


def order(**overrides) -> Order:
    values = {
        "order_id": "581801",
        "placed_at": PLACED,
        "status": OrderStatus.DELIVERED,
        "delivered_at": PLACED + timedelta(days=11),
        "delivery_estimated": False,
        "lines": [
            OrderLine(
                stock_code="22423",
                description="REGENCY CAKESTAND 3 TIER",
                quantity=1,
                unit_price=Decimal("12.75"),
            )
        ],
    }
    values.update(overrides)
    return Order(**values)


def context(**overrides) -> CustomerContext:
    values = {"customer_id": "c1", "country": "United Kingdom", "orders": [order()]}
    values.update(overrides)
    return CustomerContext(**values)


def on_time() -> Order:
    return order(delivered_at=PLACED + timedelta(days=3))


def ticket(category: str = "damaged", **overrides) -> Ticket:
    values = {
        "ticket_id": "T-1",
        "category": category,
        "subject": "Broken",
        "text": "It came in pieces.",
        "opened_at": AS_OF - timedelta(days=2),
    }
    values.update(overrides)
    return Ticket(**values)


def found(ctx: CustomerContext) -> list[RecoveryTrigger]:
    return [t.trigger for t in detect_triggers(ctx, brand(HH), AS_OF)]


def test_promised_day_follows_delivery_policy() -> None:
    assert promised_day(order(), brand(HH), "United Kingdom").isoformat() == "2011-11-30"


def test_carrier_date_after_promise_is_late() -> None:
    assert found(context()) == [RecoveryTrigger.LATE_DELIVERY]


def test_delivery_on_promised_day_is_no_trigger() -> None:
    assert found(context(orders=[order(delivered_at=datetime(2011, 11, 30, 20, tzinfo=UTC))])) == []


def test_estimated_delivery_is_never_late() -> None:
    assert found(context(orders=[order(delivery_estimated=True)])) == []


def test_late_delivery_long_ago_is_no_trigger() -> None:
    old = order(
        placed_at=AS_OF - timedelta(days=90), delivered_at=AS_OF - timedelta(days=RECENT_DAYS + 1)
    )
    assert found(context(orders=[old])) == []


def test_shipped_past_promise_is_not_delivered() -> None:
    shipped = order(status=OrderStatus.SHIPPED, delivered_at=None)
    triggers = detect_triggers(context(orders=[shipped]), brand(HH), AS_OF)
    assert [t.trigger for t in triggers] == [RecoveryTrigger.NOT_DELIVERED]
    assert triggers[0].open is True


def test_shipped_before_promise_is_no_trigger() -> None:
    shipped = order(
        placed_at=AS_OF - timedelta(days=1), status=OrderStatus.SHIPPED, delivered_at=None
    )
    assert found(context(orders=[shipped])) == []


def test_cancelled_order_is_no_trigger() -> None:
    cancelled = order(status=OrderStatus.CANCELLED, delivered_at=None)
    assert found(context(orders=[on_time(), cancelled])) == []


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("damaged", RecoveryTrigger.DAMAGED),
        ("wrong_item", RecoveryTrigger.WRONG_ITEM),
        ("quality", RecoveryTrigger.QUALITY),
        ("delivery", RecoveryTrigger.DELIVERY_PROBLEM),
    ],
)
def test_open_complaint_ticket_triggers(category: str, expected: RecoveryTrigger) -> None:
    triggers = detect_triggers(
        context(orders=[on_time()], tickets=[ticket(category)]), brand(HH), AS_OF
    )
    assert [t.trigger for t in triggers] == [expected]
    assert triggers[0].open is True


@pytest.mark.parametrize("category", ["billing", "other"])
def test_other_ticket_categories_do_not_trigger(category: str) -> None:
    assert found(context(orders=[on_time()], tickets=[ticket(category)])) == []


def test_recently_closed_ticket_triggers() -> None:
    closed = ticket(
        status=TicketStatus.CLOSED,
        opened_at=AS_OF - timedelta(days=10),
        closed_at=AS_OF - timedelta(days=5),
    )
    triggers = detect_triggers(context(orders=[on_time()], tickets=[closed]), brand(HH), AS_OF)
    assert [t.trigger for t in triggers] == [RecoveryTrigger.DAMAGED]
    assert triggers[0].open is False


def test_ticket_closed_long_ago_is_no_trigger() -> None:
    closed = ticket(
        status=TicketStatus.CLOSED,
        opened_at=AS_OF - timedelta(days=60),
        closed_at=AS_OF - timedelta(days=RECENT_DAYS + 1),
    )
    assert found(context(orders=[on_time()], tickets=[closed])) == []


def test_recent_return_triggers() -> None:
    item = ProductReturn(order_id="581801", created_at=AS_OF - timedelta(days=3))
    triggers = detect_triggers(context(orders=[on_time()], returns=[item]), brand(HH), AS_OF)
    assert [t.trigger for t in triggers] == [RecoveryTrigger.RETURN]
    assert triggers[0].order is not None


def test_old_return_is_no_trigger() -> None:
    item = ProductReturn(order_id="581801", created_at=AS_OF - timedelta(days=RECENT_DAYS + 1))
    assert found(context(orders=[on_time()], returns=[item])) == []


@pytest.mark.parametrize(("rating", "triggers"), [(1, 1), (2, 1), (3, 0), (5, 0)])
def test_low_rating_triggers(rating: int, triggers: int) -> None:
    review = Review(rating=rating, created_at=AS_OF - timedelta(days=4))
    assert len(found(context(orders=[on_time()], reviews=[review]))) == triggers


def test_undated_low_rating_triggers() -> None:
    assert found(context(orders=[on_time()], reviews=[Review(rating=1)])) == [
        RecoveryTrigger.LOW_RATING
    ]


def test_old_low_rating_is_no_trigger() -> None:
    review = Review(rating=1, created_at=AS_OF - timedelta(days=RECENT_DAYS + 1))
    assert found(context(orders=[on_time()], reviews=[review])) == []


def test_open_ticket_comes_before_late_delivery() -> None:
    ctx = context(tickets=[ticket("quality", opened_at=AS_OF - timedelta(days=20))])
    primary = primary_trigger(detect_triggers(ctx, brand(HH), AS_OF))
    assert primary is not None
    assert primary.trigger is RecoveryTrigger.QUALITY


def test_newer_trigger_wins_within_rank() -> None:
    reviews = [
        Review(rating=2, created_at=AS_OF - timedelta(days=9)),
        Review(rating=1, created_at=AS_OF - timedelta(days=2)),
    ]
    primary = primary_trigger(
        detect_triggers(context(orders=[on_time()], reviews=reviews), brand(HH), AS_OF)
    )
    assert primary is not None
    assert primary.review is reviews[1]


def test_future_events_are_ignored() -> None:
    later = AS_OF + timedelta(days=1)
    ctx = context(
        orders=[on_time()],
        tickets=[ticket(opened_at=later)],
        returns=[ProductReturn(order_id="581801", created_at=later)],
        reviews=[Review(rating=1, created_at=later)],
    )
    assert found(ctx) == []


def test_advocate_with_open_complaint_gets_recovery_first() -> None:
    ctx = context(orders=[on_time()], tickets=[ticket()])
    triggers = detect_triggers(ctx, brand(HH), AS_OF)
    kinds = prioritise([MessageKind.REFERRAL_INVITE, MessageKind.LOYALTY_UPDATE], triggers)
    assert kinds == [MessageKind.SERVICE_RECOVERY, MessageKind.LOYALTY_UPDATE]


def test_closed_problem_keeps_referral_after_recovery() -> None:
    triggers = detect_triggers(context(), brand(HH), AS_OF)
    kinds = prioritise([MessageKind.REFERRAL_INVITE], triggers)
    assert kinds == [MessageKind.SERVICE_RECOVERY, MessageKind.REFERRAL_INVITE]


def test_without_trigger_recovery_is_dropped() -> None:
    kinds = prioritise([MessageKind.SERVICE_RECOVERY, MessageKind.REFERRAL_INVITE], [])
    assert kinds == [MessageKind.REFERRAL_INVITE]
