"""Render drafted fields into the customer-facing email (HTML and text) or SMS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent.context.delivery import estimate_delivery
from agent.domain import (
    KIND_CLASS,
    BrandProfile,
    Channel,
    CustomerContext,
    MessageClass,
    MessageKind,
    Order,
    OrderStatus,
)
from agent.drafting.situation import Situation
from agent.drafting.templating import render
from agent.guardrails.base import RenderedMessage
from agent.guardrails.grounding import greeting_name
from agent.guardrails.sms import gsm_septets, normalise_sms

MAX_LISTED_ITEMS = 5
SIGN_OFF = "Warm wishes,"
# Placeholders the sending platform fills per recipient.
UNSUBSCRIBE_TOKEN = "{{unsubscribe_token}}"
SMALL_WORDS = {"of", "and", "the", "in", "with", "for", "a", "an", "on", "to"}


@dataclass(frozen=True)
class Tip:
    product: str
    text: str


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    placed_on: str
    status_line: str
    status_short: str
    items: list[str]
    more_items: int


def display_name(description: str) -> str:
    """Turn an upper-case catalogue description into title case for customers."""
    words = description.strip().lower().split()
    titled = [
        word
        if (i and word in SMALL_WORDS)
        else "-".join(p[:1].upper() + p[1:] for p in word.split("-"))
        for i, word in enumerate(words)
    ]
    return " ".join(titled)


def format_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def greeting_for(context: CustomerContext, channel: Channel = Channel.EMAIL) -> str:
    """Greet by first name, or neutrally when there is none.

    An SMS greets neutrally when the name has a character outside GSM-7, because one such
    character makes the whole message UCS-2 and more than doubles its segment count.
    """
    name = greeting_name(context) or ""
    if channel == Channel.SMS and any(gsm_septets(ch) is None for ch in name):
        return "Hello,"
    return f"Hi {name}," if name else "Hello,"


def order_facts(
    order: Order, brand: BrandProfile, country: str | None, as_of: datetime | None = None
) -> OrderFacts:
    """Describe the order's delivery as the brand's policy words it.

    An estimated date is worded "should have arrived" or "should arrive", never "has arrived".
    An order still in transit after its expected date is described as running late, so the
    copy never promises a date that has passed.
    """
    if order.status == OrderStatus.DELIVERED and order.delivered_at is not None:
        when = format_date(order.delivered_at)
        if order.delivery_estimated:
            status_line = f"Should have arrived by {when}"
            status_short = f"should have arrived by {when}"
        else:
            status_line, status_short = f"Delivered on {when}", f"was delivered on {when}"
    else:
        expected_at = estimate_delivery(order.placed_at, brand, country)
        expected = format_date(expected_at)
        if as_of is not None and expected_at < as_of:
            status_line = f"Running late: it should have arrived by {expected}"
            status_short = f"is running late; it should have arrived by {expected}"
        else:
            status_line = f"On its way, should arrive by {expected}"
            status_short = f"should arrive by {expected}"
    names = [display_name(line.description) for line in order.lines]
    unique = list(dict.fromkeys(names))
    return OrderFacts(
        order_id=order.order_id,
        placed_on=format_date(order.placed_at),
        status_line=status_line,
        status_short=status_short,
        items=unique[:MAX_LISTED_ITEMS],
        more_items=max(0, len(unique) - MAX_LISTED_ITEMS),
    )


def call_to_action_url(kind: MessageKind, brand: BrandProfile) -> str:
    shop = brand.shop_url.rstrip("/")
    return {
        MessageKind.ORDER_FOLLOWUP: f"{shop}/account/orders",
        MessageKind.USAGE_TIP: f"{shop}/care",
        MessageKind.REVIEW_REQUEST: brand.review_url,
    }.get(kind, shop)


def sms_facts(
    kind: MessageKind, order: OrderFacts | None, tip: Tip | None, offer: str | None
) -> str:
    if kind == MessageKind.ORDER_FOLLOWUP and order is not None:
        return f"Order {order.order_id} {order.status_short}."
    if kind == MessageKind.USAGE_TIP and tip is not None:
        return f"Tip: {tip.text}"
    return ""


def render_message(
    templates_dir: Path,
    *,
    kind: MessageKind,
    channel: Channel,
    brand: BrandProfile,
    context: CustomerContext,
    fields: dict[str, str],
    offer: str | None = None,
    tip: Tip | None = None,
    situation: Situation | None = None,
    as_of: datetime | None = None,
) -> RenderedMessage:
    """Render the message; `situation` adds the details, SMS facts and link of its kind.

    `as_of` is the moment the message is drafted for; delivery wording depends on it.
    """
    situation = situation or Situation()
    last_order = context.last_order()
    order = order_facts(last_order, brand, context.country, as_of) if last_order else None
    variables: dict[str, object] = {
        "brand": brand,
        "greeting": greeting_for(context, channel),
        "fields": fields,
        "order": order,
        "tip": tip,
        "offer": offer,
        "details": situation.details,
        "cta_url": situation.cta_url or call_to_action_url(kind, brand),
        "marketing": KIND_CLASS[kind] == MessageClass.MARKETING,
        "unsubscribe_url": brand.unsubscribe_url.replace("{token}", UNSUBSCRIBE_TOKEN),
        "sign_off": SIGN_OFF,
    }
    if channel == Channel.SMS:
        # The body continues the greeting's sentence: "Hello, thank you for ...".
        body = fields["body"]
        variables["fields"] = fields | {"body": body[:1].lower() + body[1:]}
        variables["sms_facts"] = situation.sms_facts or sms_facts(kind, order, tip, offer)
        text = render(templates_dir, "sms/message.txt.j2", variables)
        # Curly quotes and dashes would switch the whole SMS to UCS-2; see normalise_sms.
        return RenderedMessage(text=normalise_sms(" ".join(text.split())))
    text = render(templates_dir, f"email/{kind.value}.txt.j2", variables)
    html = render(templates_dir, f"email/{kind.value}.html.j2", variables, html=True)
    return RenderedMessage(text=text.strip() + "\n", subject=fields.get("subject"), html=html)
