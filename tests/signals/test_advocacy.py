"""Advocate score: 0-100 from the inputs present, with absent inputs shown and weighed out."""

from __future__ import annotations

import pytest

from agent.signals.advocacy import REFERRALS_ABSENT_REASON, WEIGHTS, score_advocacy
from agent.signals.sentiment import customer_sentiment
from tests.signals.factories import AS_OF, context, review


def _score(orders: int, **overrides):
    ctx = context(**overrides)
    return score_advocacy(orders, ctx, customer_sentiment(ctx, AS_OF))


def test_repeat_orders_only() -> None:
    result = _score(5)
    assert result.score == 100
    assert result.coverage == pytest.approx(WEIGHTS["repeat_orders"])
    inputs = {item.name: item for item in result.inputs}
    assert inputs["repeat_orders"].raw == 4
    assert not inputs["review_rating"].present
    assert not inputs["sentiment"].present


def test_referrals_always_absent() -> None:
    result = _score(2)
    referrals = next(item for item in result.inputs if item.name == "referrals")
    assert referrals.raw is None
    assert referrals.note == REFERRALS_ABSENT_REASON
    assert result.as_dict()["inputs"]["referrals"]["status"] == "absent"


def test_happy_reviewer_scores_high() -> None:
    reviews = [review(5, text="Lovely, I adore it"), review(5, text="Beautiful and great value")]
    result = _score(3, reviews=reviews)
    assert result.score >= 75
    assert result.coverage == pytest.approx(0.85)


def test_unhappy_reviewer_scores_low() -> None:
    reviews = [review(1, text="Broken and awful. Terrible service.")]
    result = _score(3, reviews=reviews)
    assert result.score < 40


def test_single_order_without_reviews_scores_zero() -> None:
    result = _score(1)
    assert result.score == 0
    assert 0 <= result.coverage <= 1


def test_score_stays_in_range() -> None:
    for orders in (0, 1, 3, 50):
        for rating in (1, 3, 5):
            result = _score(orders, reviews=[review(rating, text="fine")])
            assert 0 <= result.score <= 100
