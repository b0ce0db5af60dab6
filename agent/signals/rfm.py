"""RFM: recency, frequency and monetary scores from 1 to 5, and named segments.

Scores are quintiles over every customer with at least one live (not cancelled) order
placed at or before `as_of`. Each customer's value is ranked with ties sharing their
average rank, placed at the midpoint percentile (rank - 0.5) / n and scored
floor(percentile x 5) + 1. Tied customers therefore share a score: when every customer
has one order, every frequency score is 3. Recency is ranked so that the most recent
buyers score 5.

Segments read the recency score R, the frequency score F and the order count, first rule
that matches:

| segment            | rule                                  |
|--------------------|---------------------------------------|
| no_purchases       | no live order                         |
| new                | one order, R >= 4                     |
| champions          | two or more orders, R >= 4 and F >= 4 |
| loyal              | two or more orders, R >= 3 and F >= 3 |
| potential_loyalist | two or more orders, R >= 4            |
| need_attention     | R = 3                                 |
| at_risk            | two or more orders, R <= 2 and F >= 3 |
| hibernating        | everything else (R <= 2)              |

The monetary score M is reported for ranking by value and does not change the segment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from scipy.stats import rankdata

from agent.domain import CustomerContext, OrderStatus


class Segment(StrEnum):
    NO_PURCHASES = "no_purchases"
    NEW = "new"
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALIST = "potential_loyalist"
    NEED_ATTENTION = "need_attention"
    AT_RISK = "at_risk"
    HIBERNATING = "hibernating"


@dataclass(frozen=True)
class RfmInput:
    customer_id: str
    recency_days: int | None  # days from the last live order to as_of; None without one
    orders: int  # live orders
    monetary: float  # total spend over live orders


@dataclass(frozen=True)
class RfmResult:
    recency_days: int | None
    orders: int
    monetary: float
    r_score: int | None
    f_score: int | None
    m_score: int | None
    segment: Segment


def rfm_input(context: CustomerContext, as_of: datetime) -> RfmInput:
    """Collect a customer's recency, order count and spend from live orders up to `as_of`."""
    live = [
        order
        for order in context.orders
        if order.status is not OrderStatus.CANCELLED and order.placed_at <= as_of
    ]
    if not live:
        return RfmInput(context.customer_id, None, 0, 0.0)
    last = max(order.placed_at for order in live)
    spend = sum((order.total for order in live), Decimal("0"))
    return RfmInput(
        customer_id=context.customer_id,
        recency_days=(as_of - last).days,
        orders=len(live),
        monetary=round(float(spend), 2),
    )


def quintile_scores(values: Sequence[float]) -> list[int]:
    """Score each value 1-5 by its midpoint percentile; tied values share a score."""
    n = len(values)
    if n == 0:
        return []
    ranks = rankdata(values, method="average")
    return [min(5, math.floor((float(rank) - 0.5) / n * 5) + 1) for rank in ranks]


def segment_for(orders: int, r_score: int | None, f_score: int | None) -> Segment:
    """Name the segment of one customer by the rules in the module docstring."""
    if orders == 0 or r_score is None or f_score is None:
        return Segment.NO_PURCHASES
    repeat = orders >= 2
    if not repeat and r_score >= 4:
        return Segment.NEW
    if repeat and r_score >= 4 and f_score >= 4:
        return Segment.CHAMPIONS
    if repeat and r_score >= 3 and f_score >= 3:
        return Segment.LOYAL
    if repeat and r_score >= 4:
        return Segment.POTENTIAL_LOYALIST
    if r_score == 3:
        return Segment.NEED_ATTENTION
    if repeat and f_score >= 3:
        return Segment.AT_RISK
    return Segment.HIBERNATING


def score_rfm(inputs: Sequence[RfmInput]) -> dict[str, RfmResult]:
    """Score every customer against the others in `inputs`, keyed by customer id."""
    buyers = [item for item in inputs if item.orders > 0 and item.recency_days is not None]
    # Negated recency, so that the most recent buyer ranks highest.
    r_scores = quintile_scores([-float(item.recency_days or 0) for item in buyers])
    f_scores = quintile_scores([float(item.orders) for item in buyers])
    m_scores = quintile_scores([item.monetary for item in buyers])

    results: dict[str, RfmResult] = {}
    for item, r, f, m in zip(buyers, r_scores, f_scores, m_scores, strict=True):
        results[item.customer_id] = RfmResult(
            item.recency_days, item.orders, item.monetary, r, f, m, segment_for(item.orders, r, f)
        )
    for item in inputs:
        if item.customer_id not in results:
            results[item.customer_id] = RfmResult(
                None, 0, 0.0, None, None, None, Segment.NO_PURCHASES
            )
    return results
