"""RFM: quintile scores with shared ties, segment rules, and bases without buyers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.domain import OrderStatus
from agent.signals.rfm import RfmInput, Segment, quintile_scores, rfm_input, score_rfm, segment_for
from tests.signals.factories import AS_OF, context, order


def test_quintiles_spread_distinct_values() -> None:
    assert quintile_scores([10, 20, 30, 40, 50]) == [1, 2, 3, 4, 5]
    assert quintile_scores(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_quintiles_ties_share_a_score() -> None:
    scores = quintile_scores([1, 1, 1, 1, 1, 1, 2, 3, 4, 5])
    assert len(set(scores[:6])) == 1
    assert scores[6:] == [4, 4, 5, 5]


def test_quintiles_all_equal_score_three() -> None:
    assert quintile_scores([7.0] * 4) == [3, 3, 3, 3]
    assert quintile_scores([7.0]) == [3]
    assert quintile_scores([]) == []


@pytest.mark.parametrize(
    ("orders", "r", "f", "segment"),
    [
        (0, None, None, Segment.NO_PURCHASES),
        (1, 5, 3, Segment.NEW),
        (1, 3, 3, Segment.NEED_ATTENTION),
        (1, 1, 1, Segment.HIBERNATING),
        (6, 5, 5, Segment.CHAMPIONS),
        (4, 4, 3, Segment.LOYAL),
        (4, 3, 4, Segment.LOYAL),
        (2, 5, 2, Segment.POTENTIAL_LOYALIST),
        (2, 3, 2, Segment.NEED_ATTENTION),
        (5, 2, 4, Segment.AT_RISK),
        (2, 1, 2, Segment.HIBERNATING),
    ],
)
def test_segment_rules(orders: int, r: int | None, f: int | None, segment: Segment) -> None:
    assert segment_for(orders, r, f) is segment


def test_rfm_input_skips_cancelled_and_later_orders() -> None:
    orders = [
        order("1", delivered_days_ago=40),
        order("2", delivered_days_ago=10, status=OrderStatus.CANCELLED),
        order("3", delivered_days_ago=None, placed_days_ago=-3),
    ]
    result = rfm_input(context(orders=orders), AS_OF)
    assert result.orders == 1
    assert result.recency_days == 43
    assert result.monetary == pytest.approx(5.10)


def test_rfm_input_without_orders() -> None:
    result = rfm_input(context(orders=[]), AS_OF)
    assert result == RfmInput("17850", None, 0, 0.0)


def test_score_rfm_recent_buyer_scores_high() -> None:
    orders = [10, 1, 2, 3, 9]
    inputs = [RfmInput(str(i), i * 30, count, 10.0 * count) for i, count in enumerate(orders)]
    results = score_rfm(inputs)
    assert results["0"].r_score == 5
    assert results["4"].r_score == 1
    assert results["0"].segment is Segment.CHAMPIONS
    assert results["4"].f_score == 4
    assert results["4"].segment is Segment.AT_RISK
    assert results["1"].segment is Segment.NEW


def test_score_rfm_single_purchase_base() -> None:
    inputs = [RfmInput(str(i), recency_days=i * 20, orders=1, monetary=10.0) for i in range(10)]
    results = score_rfm(inputs)
    assert {r.f_score for r in results.values()} == {3}
    segments = {r.segment for r in results.values()}
    assert segments <= {Segment.NEW, Segment.NEED_ATTENTION, Segment.HIBERNATING}
    assert Segment.NEW in segments


def test_score_rfm_keeps_non_buyers() -> None:
    inputs = [RfmInput("a", 3, 2, 50.0), RfmInput("b", None, 0, 0.0)]
    results = score_rfm(inputs)
    assert results["b"].segment is Segment.NO_PURCHASES
    assert results["b"].r_score is None
    assert results["a"].r_score == 3


def test_score_rfm_empty_base() -> None:
    assert score_rfm([]) == {}


def test_recency_in_whole_days() -> None:
    ctx = context(orders=[order(placed_days_ago=2.5, delivered_days_ago=None)])
    assert rfm_input(ctx, AS_OF + timedelta(hours=1)).recency_days == 2
