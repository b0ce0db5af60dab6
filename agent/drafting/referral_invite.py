"""The situation of a referral invite: is the customer an advocate, and which variant fits.

Only a customer whose advocate score and coverage reach the brand's `referral` policy is
invited. An advocate whose latest review has at least `ugc_min_rating` stars is asked for a
photo or video of the product instead (the `ugc` variant), with no reward. A customer with an
open ticket, a recent return or recent negative sentiment never gets here: the eligibility
check (agent.guardrails.appropriateness) blocks both variants first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from agent.domain import (
    BrandProfile,
    CustomerContext,
    MessageKind,
    OrderStatus,
    ReferralPolicy,
    Review,
)
from agent.drafting.kinds import UGC, spec_for
from agent.drafting.prompting import spoken_product
from agent.drafting.situation import Situation, ineligible
from agent.signals.advocacy import score_advocacy
from agent.signals.sentiment import customer_sentiment
from agent.signals.store import CustomerSignals

_UNDATED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Advocacy:
    score: int
    coverage: float
    source: str


def advocacy_for(
    context: CustomerContext, as_of: datetime, signals: CustomerSignals | None
) -> Advocacy:
    """Read the advocate score from stored signals, or compute it from the context."""
    if signals is not None:
        source = f"stored signals as of {signals.as_of:%Y-%m-%d}"
        return Advocacy(signals.advocacy.score, signals.advocacy.coverage, source)
    orders = sum(
        order.status is not OrderStatus.CANCELLED and order.placed_at <= as_of
        for order in context.orders
    )
    score = score_advocacy(orders, context, customer_sentiment(context, as_of))
    return Advocacy(score.score, score.coverage, "computed from the customer's context")


def referral_situation(
    context: CustomerContext,
    brand: BrandProfile,
    as_of: datetime,
    signals: CustomerSignals | None,
) -> Situation:
    policy = brand.referral
    if policy is None:
        return ineligible(
            "eligibility.no_referral_policy",
            f"brand `{brand.brand_id}` sends no referral invites: its kb front matter has no "
            "`referral` policy",
            "add a `referral` mapping with `min_advocate_score` to a document of the brand",
        )
    advocacy = advocacy_for(context, as_of, signals)
    if advocacy.score < policy.min_advocate_score or advocacy.coverage < policy.min_coverage:
        return ineligible(
            "eligibility.not_advocate",
            f"customer `{context.customer_id}` has an advocate score of {advocacy.score} with "
            f"coverage {advocacy.coverage:.2f} ({advocacy.source}); brand `{brand.brand_id}` "
            f"invites from a score of {policy.min_advocate_score} with coverage "
            f"{policy.min_coverage:.2f}",
            "send a review request or a usage tip instead",
        )
    review = _ugc_review(context, policy)
    if review is not None:
        return _ugc_situation(context, brand, review)
    return Situation(sms_facts="Your link:", cta_url=policy.link)


def _ugc_review(context: CustomerContext, policy: ReferralPolicy) -> Review | None:
    """Return the customer's latest review when its rating earns a photo request, else None."""
    if policy.ugc_min_rating is None or not context.reviews:
        return None
    latest = max(context.reviews, key=lambda review: review.created_at or _UNDATED)
    return latest if latest.rating >= policy.ugc_min_rating else None


def _ugc_situation(context: CustomerContext, brand: BrandProfile, review: Review) -> Situation:
    descriptions = [
        line.description
        for order in context.orders
        for line in order.lines
        if review.stock_code and line.stock_code == review.stock_code
    ]
    product = spoken_product(descriptions[0], brand) if descriptions else "order"
    return Situation(
        spec=spec_for(MessageKind.REFERRAL_INVITE, UGC),
        copy_variant=UGC,
        prompt_facts={"Product": product},
        sms_facts="Add a photo:",
        cta_url=brand.review_url,
    )
