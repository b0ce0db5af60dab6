"""Whether asking this customer for a review or a referral is appropriate now.

A customer with an open ticket, a recent return or recent negative sentiment gets no review
request or referral invite, because asking an unhappy customer for praise makes things
worse. Each rule blocks with a suggestion to send a service_recovery message instead.

Negative sentiment is a review of 1 or 2 stars, or a review or ticket whose text has a VADER
compound score at or below NEGATIVE_COMPOUND_MAX, within RECENT_DAYS before the request. A
review without a date counts as recent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache, lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from agent.domain import CustomerContext, Finding, MessageKind, Severity

# Kinds that ask the customer for something on the brand's behalf.
ASKING_KINDS = frozenset({MessageKind.REVIEW_REQUEST, MessageKind.REFERRAL_INVITE})
NEGATIVE_REVIEW_MAX_RATING = 2
# VADER's README gives a compound score of -0.05 or lower as the typical threshold for
# negative sentiment. On 4,000 reviews of the women's clothing data, that threshold marks
# about 2% of 4-5 star reviews and about 23% of 1-2 star ones
# (tests/guardrails/test_appropriateness.py measures it).
NEGATIVE_COMPOUND_MAX = -0.05
RECENT_DAYS = 90
SUGGESTION = "Send a service_recovery message instead, and ask again once the customer is happy."


def check_asking(
    context: CustomerContext, kind: MessageKind, as_of: datetime | None = None
) -> Finding | None:
    """Return a block finding when a review request or referral invite is inappropriate now.

    Without `as_of`, every ticket, return and review counts as recent.
    """
    if kind not in ASKING_KINDS:
        return None
    return (
        _open_ticket_finding(context, kind)
        or _return_finding(context, kind, as_of)
        or _negative_sentiment_finding(context, kind, as_of)
    )


def _recent(moment: datetime | None, as_of: datetime | None) -> bool:
    if moment is None or as_of is None:
        return True
    return as_of - moment < timedelta(days=RECENT_DAYS)


def _block(check_id: str, message: str) -> Finding:
    return Finding(
        check_id=check_id, severity=Severity.BLOCK, message=message, suggestion=SUGGESTION
    )


def _open_ticket_finding(context: CustomerContext, kind: MessageKind) -> Finding | None:
    count = context.open_ticket_count()
    if count == 0:
        return None
    return _block(
        "appropriateness.open_ticket",
        f"A {kind.value} must wait while the customer has a support ticket open ({count} open).",
    )


def _return_finding(
    context: CustomerContext, kind: MessageKind, as_of: datetime | None
) -> Finding | None:
    last = context.last_order()
    last_id = last.order_id if last else None
    for product_return in context.returns:
        about_last = product_return.order_id == last_id
        if about_last or _recent(product_return.created_at, as_of):
            where = "of the last order" if about_last else f"within {RECENT_DAYS} days"
            return _block(
                "appropriateness.return",
                f"A {kind.value} must not go to a customer with a return {where} "
                f"(order `{product_return.order_id}`).",
            )
    return None


def _negative_sentiment_finding(
    context: CustomerContext, kind: MessageKind, as_of: datetime | None
) -> Finding | None:
    reason = _negative_review(context, as_of) or _negative_ticket(context, as_of)
    if reason is None:
        return None
    return _block(
        "appropriateness.negative_sentiment",
        f"A {kind.value} must not go to a customer with recent negative sentiment: {reason}.",
    )


def _negative_review(context: CustomerContext, as_of: datetime | None) -> str | None:
    for review in context.reviews:
        if not _recent(review.created_at, as_of):
            continue
        if review.rating <= NEGATIVE_REVIEW_MAX_RATING:
            return f"a review of {review.rating} stars"
        score = compound_score(review.text)
        if score <= NEGATIVE_COMPOUND_MAX:
            return f"a review of {review.rating} stars whose text scores {score:.2f}"
    return None


def _negative_ticket(context: CustomerContext, as_of: datetime | None) -> str | None:
    for ticket in context.tickets:
        last_activity = max(filter(None, (ticket.opened_at, ticket.closed_at)))
        if not _recent(last_activity, as_of):
            continue
        score = compound_score(f"{ticket.subject}. {ticket.text}")
        if score <= NEGATIVE_COMPOUND_MAX:
            return f"ticket `{ticket.ticket_id}` whose text scores {score:.2f}"
    return None


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    # Loads VADER's lexicon from the installed package once per process.
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=4096)
def compound_score(text: str) -> float:
    """Return VADER's compound score of `text`, from -1 (most negative) to 1, or 0 when blank."""
    if not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])
