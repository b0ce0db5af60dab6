"""Review timing: delivery plus the longest usage window, and what blocks the request."""

from __future__ import annotations

from datetime import timedelta

from agent.signals.sentiment import customer_sentiment
from agent.signals.timing import (
    DEFAULT_USAGE_WINDOW_DAYS,
    Blocker,
    ReviewStatus,
    review_timing,
)
from tests.signals.factories import (
    AS_OF,
    CAKESTAND,
    brand,
    context,
    line,
    order,
    product_return,
    review,
    ticket,
)


def _timing(**overrides):
    ctx = context(**overrides)
    return review_timing(ctx, brand(), customer_sentiment(ctx, AS_OF), AS_OF)


def _mixed_order(delivered_days_ago: float):
    lines = [line(family="candles-and-lighting"), line(CAKESTAND, family="kitchen-and-baking")]
    return order(delivered_days_ago=delivered_days_ago, lines=lines)


def test_due_after_longest_window() -> None:
    timing = _timing(orders=[_mixed_order(25)])
    assert timing.status is ReviewStatus.DUE
    assert timing.window_days == 21
    assert timing.window_source == "families"
    assert timing.families == ["candles-and-lighting", "kitchen-and-baking"]
    assert timing.due_at == AS_OF - timedelta(days=25) + timedelta(days=21)


def test_waiting_inside_window() -> None:
    timing = _timing(orders=[_mixed_order(15)])
    assert timing.status is ReviewStatus.WAITING
    assert timing.due_at is not None
    assert timing.due_at > AS_OF


def test_default_window_without_family() -> None:
    timing = _timing(orders=[order(delivered_days_ago=20, lines=[line(("999", "MYSTERY ITEM"))])])
    assert timing.window_days == DEFAULT_USAGE_WINDOW_DAYS
    assert timing.window_source == "default"
    assert timing.status is ReviewStatus.DUE


def test_in_transit_waits_on_estimate() -> None:
    timing = _timing(orders=[order(delivered_days_ago=None, placed_days_ago=1)])
    assert timing.status is ReviewStatus.WAITING
    assert timing.delivery_estimated
    assert timing.due_at is not None


def test_open_ticket_blocks() -> None:
    timing = _timing(orders=[_mixed_order(25)], tickets=[ticket(2)])
    assert timing.status is ReviewStatus.BLOCKED
    assert timing.blockers == [Blocker.OPEN_TICKET]


def test_return_blocks() -> None:
    timing = _timing(orders=[_mixed_order(25)], returns=[product_return("560001", days_ago=200)])
    assert timing.blockers == [Blocker.RETURN]


def test_negative_text_blocks() -> None:
    angry = ticket(10, status="closed", text="Terrible, the item was broken and I am angry.")
    timing = _timing(orders=[_mixed_order(25)], tickets=[angry])
    assert timing.status is ReviewStatus.BLOCKED
    assert Blocker.NEGATIVE_SENTIMENT in timing.blockers


def test_low_rating_blocks() -> None:
    timing = _timing(orders=[_mixed_order(25)], reviews=[review(2, days_ago=5, stock_code="X")])
    assert timing.blockers == [Blocker.NEGATIVE_REVIEW]


def test_old_low_rating_does_not_block() -> None:
    timing = _timing(orders=[_mixed_order(25)], reviews=[review(2, days_ago=400, stock_code="X")])
    assert timing.status is ReviewStatus.DUE


def test_reviewed_order_is_not_due() -> None:
    reviewed = review(5, days_ago=1, stock_code=CAKESTAND[0])
    timing = _timing(orders=[_mixed_order(25)], reviews=[reviewed])
    assert timing.status is ReviewStatus.REVIEWED


def test_no_order() -> None:
    assert _timing(orders=[]).status is ReviewStatus.NO_ORDER
