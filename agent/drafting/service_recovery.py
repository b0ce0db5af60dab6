"""The situation of a service-recovery message: the trigger, what happened and the remedy.

The apology names the problem in the words of the brand's recovery policy
(`recovery_remedies` in the kb front matter), and the template states what happened from the
context and the remedy exactly as the policy words it. Customer-written text never reaches
either.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.domain import BrandProfile, CustomerContext, RecoveryTrigger
from agent.drafting.kinds import recovery_spec
from agent.drafting.render import display_name, format_date
from agent.drafting.situation import DetailLine, Situation, ineligible
from agent.drafting.triggers import Trigger, detect_triggers, primary_trigger

# The topic of each complaint ticket, as it ends "You contacted us on <date> about ...".
TICKET_TOPICS: dict[RecoveryTrigger, str] = {
    RecoveryTrigger.DAMAGED: "an item that was damaged",
    RecoveryTrigger.WRONG_ITEM: "receiving the wrong item",
    RecoveryTrigger.QUALITY: "the quality of an item",
    RecoveryTrigger.DELIVERY_PROBLEM: "the delivery of your order",
}
RATING_WORDS = {1: "one star", 2: "two stars"}


def recovery_situation(context: CustomerContext, brand: BrandProfile, as_of: datetime) -> Situation:
    """Build the situation from the most urgent trigger, or an ineligible one without any."""
    triggers = detect_triggers(context, brand, as_of)
    trigger = primary_trigger(triggers)
    if trigger is None:
        return ineligible(
            "eligibility.no_trigger",
            f"customer `{context.customer_id}` has nothing to apologise for as of "
            f"{as_of:%Y-%m-%d}: no late or missing delivery, no open or recently closed "
            "complaint ticket (delivery, damaged, wrong_item, quality), no recent return and "
            "no recent review of 1 or 2 stars",
            "draft another kind, or record the ticket, return or review first",
        )
    remedy = brand.recovery_remedies.get(trigger.trigger)
    if remedy is None:
        return ineligible(
            "eligibility.no_remedy",
            f"brand `{brand.brand_id}` has no remedy for `{trigger.trigger}`, so a recovery "
            "message cannot say how it will be put right",
            f"add `{trigger.trigger}` to `recovery_remedies` in the brand's kb front matter",
        )
    happened = what_happened(trigger, context, brand)
    return Situation(
        spec=recovery_spec(remedy.problem),
        copy_values={"problem": remedy.problem},
        prompt_facts={"What went wrong": remedy.problem},
        details=(
            DetailLine(happened, "What happened"),
            DetailLine(remedy.text, "What we will do"),
        ),
        sms_facts=remedy.text,
        cta_url=f"{brand.shop_url.rstrip('/')}/contact",
    )


def what_happened(trigger: Trigger, context: CustomerContext, brand: BrandProfile) -> str:
    """State what happened from the trigger's records, never from customer-written text."""
    order = trigger.order
    promised = format_date(trigger.promised) if trigger.promised else ""
    if trigger.trigger is RecoveryTrigger.LATE_DELIVERY and order and order.delivered_at:
        delivered = format_date(order.delivered_at.astimezone(ZoneInfo(brand.timezone)))
        return f"Order {order.order_id} was due by {promised} and reached you on {delivered}."
    if trigger.trigger is RecoveryTrigger.NOT_DELIVERED and order:
        return f"Order {order.order_id} was due by {promised} and has not reached you yet."
    if trigger.ticket is not None:
        opened = format_date(trigger.ticket.opened_at.astimezone(ZoneInfo(brand.timezone)))
        return f"You contacted us on {opened} about {TICKET_TOPICS[trigger.trigger]}."
    if trigger.product_return is not None:
        created = format_date(
            trigger.product_return.created_at.astimezone(ZoneInfo(brand.timezone))
        )
        # An order reference outside the context could not be checked, so it is left out.
        of_order = f" of order {order.order_id}" if order else ""
        return f"You started a return{of_order} on {created}."
    review = trigger.review
    assert review is not None  # a low_rating trigger always carries its review
    product = _reviewed_product(review.stock_code, context) or "your order"
    return f"Your review gave {product} {RATING_WORDS[review.rating]} out of five."


def _reviewed_product(stock_code: str | None, context: CustomerContext) -> str | None:
    for order in context.orders:
        for line in order.lines:
            if stock_code and line.stock_code == stock_code:
                return display_name(line.description)
    return None
