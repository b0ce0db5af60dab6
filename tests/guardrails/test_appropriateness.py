from __future__ import annotations

import csv
import gzip
import random
from datetime import timedelta
from pathlib import Path

import pytest

from agent.domain import (
    MessageKind,
    ProductReturn,
    Review,
    Severity,
    Ticket,
    TicketStatus,
)
from agent.guardrails import appropriateness
from agent.guardrails.appropriateness import (
    NEGATIVE_COMPOUND_MAX,
    RECENT_DAYS,
    check_asking,
    compound_score,
)
from tests.guardrails.factories import AS_OF, make_context, make_order

REVIEW = MessageKind.REVIEW_REQUEST
RECENT = AS_OF - timedelta(days=10)
LONG_AGO = AS_OF - timedelta(days=RECENT_DAYS + 1)


def _ticket(text: str = "Where is my parcel?", **overrides) -> Ticket:
    values = {
        "ticket_id": "T-1",
        "status": TicketStatus.CLOSED,
        "subject": "Delivery",
        "text": text,
        "opened_at": RECENT,
        "closed_at": RECENT + timedelta(days=1),
    }
    return Ticket(**(values | overrides))


def _check(kind: MessageKind = REVIEW, **context_overrides):
    return check_asking(make_context(**context_overrides), kind, AS_OF)


def _check_id(**context_overrides) -> str | None:
    finding = _check(**context_overrides)
    return finding.check_id if finding else None


def test_happy_customer_may_be_asked() -> None:
    assert _check(reviews=[Review(rating=5, text="Lovely, thank you", created_at=RECENT)]) is None


# --- appropriateness.open_ticket -----------------------------------------------------------


def test_open_ticket_count_blocks() -> None:
    finding = _check(open_tickets=1)
    assert finding is not None
    assert finding.check_id == "appropriateness.open_ticket"
    assert finding.severity is Severity.BLOCK
    assert "1 open" in finding.message
    assert "service_recovery" in finding.suggestion


def test_open_ticket_record_blocks() -> None:
    ticket = _ticket(status=TicketStatus.OPEN, closed_at=None)
    assert _check_id(tickets=[ticket]) == "appropriateness.open_ticket"


def test_closed_neutral_ticket_allows() -> None:
    assert _check(tickets=[_ticket()]) is None


# --- appropriateness.return ----------------------------------------------------------------


def test_return_of_last_order_blocks_whatever_age() -> None:
    product_return = ProductReturn(order_id="536365", created_at=LONG_AGO)
    finding = _check(returns=[product_return])
    assert finding is not None
    assert finding.check_id == "appropriateness.return"
    assert "of the last order" in finding.message
    assert "service_recovery" in finding.suggestion


def test_recent_return_of_older_order_blocks() -> None:
    product_return = ProductReturn(order_id="500001", created_at=RECENT)
    assert _check_id(returns=[product_return]) == "appropriateness.return"


def test_old_return_of_older_order_allows() -> None:
    older = make_order(order_id="500001", placed_at=LONG_AGO - timedelta(days=30))
    orders = [older, make_order()]
    product_return = ProductReturn(order_id="500001", created_at=LONG_AGO)
    assert _check(orders=orders, returns=[product_return]) is None


# --- appropriateness.negative_sentiment ------------------------------------------------------


@pytest.mark.parametrize("rating", [1, 2])
def test_low_rating_blocks(rating: int) -> None:
    finding = _check(reviews=[Review(rating=rating, created_at=RECENT)])
    assert finding is not None
    assert finding.check_id == "appropriateness.negative_sentiment"
    assert f"{rating} stars" in finding.message
    assert "service_recovery" in finding.suggestion


def test_undated_low_rating_counts_as_recent() -> None:
    assert _check_id(reviews=[Review(rating=1)]) == "appropriateness.negative_sentiment"


def test_old_low_rating_allows() -> None:
    assert _check(reviews=[Review(rating=1, created_at=LONG_AGO)]) is None


def test_negative_text_in_good_rating_blocks() -> None:
    text = "Arrived broken and I am really disappointed. Terrible packaging."
    finding = _check(reviews=[Review(rating=4, text=text, created_at=RECENT)])
    assert finding is not None
    assert finding.check_id == "appropriateness.negative_sentiment"
    assert "scores -" in finding.message


def test_negative_ticket_text_blocks() -> None:
    ticket = _ticket("The mug arrived broken and I'm really disappointed.")
    finding = _check(tickets=[ticket])
    assert finding is not None
    assert finding.check_id == "appropriateness.negative_sentiment"
    assert "`T-1`" in finding.message


def test_messages_hold_no_customer_text() -> None:
    ticket = _ticket("The mug arrived broken and I'm really disappointed.")
    finding = _check(tickets=[ticket])
    assert finding is not None
    assert "mug" not in finding.message


def test_old_negative_ticket_allows() -> None:
    ticket = _ticket("Awful, broken, disappointed.", opened_at=LONG_AGO, closed_at=LONG_AGO)
    assert _check(tickets=[ticket]) is None


def test_ticket_recent_by_closing_date() -> None:
    ticket = _ticket("Awful, broken, disappointed.", opened_at=LONG_AGO, closed_at=RECENT)
    assert _check_id(tickets=[ticket]) == "appropriateness.negative_sentiment"


@pytest.mark.parametrize(
    ("score", "blocked"),
    [(NEGATIVE_COMPOUND_MAX, True), (NEGATIVE_COMPOUND_MAX + 0.001, False)],
)
def test_compound_threshold_inclusive(
    monkeypatch: pytest.MonkeyPatch, score: float, blocked: bool
) -> None:
    monkeypatch.setattr(appropriateness, "compound_score", lambda text: score)
    finding = _check(reviews=[Review(rating=4, text="fine", created_at=RECENT)])
    assert (finding is not None) is blocked


def test_without_as_of_everything_counts() -> None:
    context = make_context(reviews=[Review(rating=1, created_at=LONG_AGO)])
    assert check_asking(context, REVIEW) is not None


# --- kinds and order ---------------------------------------------------------------------


def test_referral_invite_also_suppressed() -> None:
    assert _check_id(kind=MessageKind.REFERRAL_INVITE, open_tickets=1) == (
        "appropriateness.open_ticket"
    )


@pytest.mark.parametrize(
    "kind", [MessageKind.WINBACK, MessageKind.ORDER_FOLLOWUP, MessageKind.SERVICE_RECOVERY]
)
def test_other_kinds_not_suppressed(kind: MessageKind) -> None:
    assert _check(kind=kind, open_tickets=1, reviews=[Review(rating=1)]) is None


def test_open_ticket_reported_first() -> None:
    finding = _check(
        open_tickets=1,
        returns=[ProductReturn(order_id="536365", created_at=RECENT)],
        reviews=[Review(rating=1)],
    )
    assert finding is not None
    assert finding.check_id == "appropriateness.open_ticket"


# --- the sentiment score -------------------------------------------------------------------


def test_compound_score_range() -> None:
    assert compound_score("Love it, thank you!") > 0.5
    assert compound_score("Terrible quality, it fell apart. Never again.") < -0.3
    assert compound_score("   ") == 0.0


def test_compound_score_cached() -> None:
    compound_score.cache_clear()
    compound_score("A lovely cake stand")
    compound_score("A lovely cake stand")
    assert compound_score.cache_info().hits == 1


@pytest.mark.slow
def test_threshold_on_real_reviews(shared_data_dir: Path) -> None:
    path = shared_data_dir / "womens_clothing_ecommerce_reviews.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Review Text"].strip()]
    sample = random.Random(1).sample(rows, 4000)
    happy = [row for row in sample if int(row["Rating"]) >= 4]
    unhappy = [row for row in sample if int(row["Rating"]) <= 2]

    def flagged(rows: list[dict[str, str]]) -> float:
        hits = sum(compound_score(row["Review Text"]) <= NEGATIVE_COMPOUND_MAX for row in rows)
        return hits / len(rows)

    assert flagged(happy) < 0.04
    assert flagged(unhappy) > 0.2
