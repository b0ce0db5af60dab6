"""Small factories for guardrail tests: a customer, a brand, a rendered message, a CheckInput."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from agent.domain import (
    BrandProfile,
    Channel,
    Consent,
    CustomerContext,
    IncentiveStep,
    MessageKind,
    Order,
    OrderLine,
    ProductFamily,
)
from agent.guardrails.base import CheckInput, RenderedMessage

AS_OF = datetime(2011, 12, 20, 10, 0, tzinfo=UTC)
UNSUBSCRIBE_URL = "https://hearthandtwine.example/unsubscribe/{token}"
POSTAL_ADDRESS = "Hearth & Twine Ltd, 12 Market Street, York, YO1 8AB"

CATALOGUE = frozenset(
    {
        "WHITE HANGING HEART T-LIGHT HOLDER",
        "HEART T-LIGHT HOLDER",
        "PINK HANGING HEART T-LIGHT HOLDER",
        "RAIN PONCHO RETROSPOT",
        "RAIN PONCHO",
        "JUMBO BAG RED RETROSPOT",
        "REGENCY CAKESTAND 3 TIER",
        "DOORMAT",
        "MUG",
        "DOORMAT HEARTS",
        "mixed up",
        "water damaged",
    }
)


def make_line(
    description: str = "WHITE HANGING HEART T-LIGHT HOLDER",
    stock_code: str = "85123A",
    **overrides: Any,
) -> OrderLine:
    values: dict[str, Any] = {
        "stock_code": stock_code,
        "description": description,
        "quantity": 2,
        "unit_price": Decimal("2.55"),
    }
    return OrderLine(**(values | overrides))


def make_order(*lines: OrderLine, **overrides: Any) -> Order:
    values: dict[str, Any] = {
        "order_id": "536365",
        "placed_at": datetime(2011, 12, 1, 8, 26, tzinfo=UTC),
        "delivered_at": datetime(2011, 12, 4, 12, 0, tzinfo=UTC),
        "lines": list(lines) or [make_line(), make_line("RAIN PONCHO RETROSPOT", "20712")],
    }
    return Order(**(values | overrides))


def make_context(**overrides: Any) -> CustomerContext:
    values: dict[str, Any] = {
        "customer_id": "17850",
        "first_name": "Zoë",
        "country": "United Kingdom",
        "consent": Consent(email_marketing=True, sms_marketing=True),
        "orders": [make_order()],
    }
    return CustomerContext(**(values | overrides))


def make_brand(**overrides: Any) -> BrandProfile:
    values: dict[str, Any] = {
        "brand_id": "hearth",
        "name": "Hearth & Twine",
        "postal_address": POSTAL_ADDRESS,
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "review_url": "{{review_link}}",
        "shop_url": "https://hearthandtwine.example",
        "sms_sender": "HearthTwine",
        "sms_max_segments": 2,
        "banned_phrases": ["act now", "don't miss out", "!!!"],
        "incentive_ladder": [
            IncentiveStep(segment="new", min_lifetime_spend=Decimal("0")),
            IncentiveStep(
                segment="regular",
                min_lifetime_spend=Decimal("50"),
                offer="10% off your next order",
            ),
            IncentiveStep(
                segment="loyal",
                min_lifetime_spend=Decimal("200"),
                offer="15% off your next order",
            ),
        ],
        "families": [
            ProductFamily(
                family_id="candles",
                name="Candle Holders",
                keywords=["T-LIGHT", "CANDLE"],
                usage_window_days=14,
            )
        ],
    }
    return BrandProfile(**(values | overrides))


def make_fields(**overrides: str) -> dict[str, str]:
    values = {
        "subject": "Thank you for your order",
        "body": "Thanks for shopping with us. We hope your new pieces make the house feel warm.",
        "call_to_action": "Track your order",
    }
    return values | overrides


def greeting_for(context: CustomerContext) -> str:
    name = (context.first_name or "").strip()
    return f"Hi {name}," if name else "Hello,"


def render_email(
    context: CustomerContext, brand: BrandProfile, fields: dict[str, str], footer: bool = True
) -> RenderedMessage:
    """Render an email the way the channel template does: greeting, fields, products, footer."""
    products = sorted(context.product_descriptions())
    unsubscribe = brand.unsubscribe_url.replace("{token}", "tok_3f9a")
    text_lines = [greeting_for(context), "", fields.get("body", ""), "", "Your order:"]
    text_lines += [f"- {product}" for product in products]
    text_lines += ["", fields.get("call_to_action", "")]
    html_items = "".join(f"<li>{product}</li>" for product in products)
    html = (
        f"<html><head><title>{fields.get('subject', '')}</title></head><body>"
        f"<p>{greeting_for(context)}</p><p>{fields.get('body', '')}</p><ul>{html_items}</ul>"
        f'<p><a href="{brand.shop_url}">{fields.get("call_to_action", "")}</a></p>'
    )
    if footer:
        text_lines += ["", f"Unsubscribe: {unsubscribe}", brand.postal_address]
        address_html = brand.postal_address.replace(", ", "<br>").replace("&", "&amp;")
        html += f'<footer><a href="{unsubscribe}">Unsubscribe</a><p>{address_html}</p></footer>'
    html += "</body></html>"
    return RenderedMessage(text="\n".join(text_lines), subject=fields.get("subject"), html=html)


def make_input(
    *,
    context: CustomerContext | None = None,
    brand: BrandProfile | None = None,
    kind: MessageKind = MessageKind.ORDER_FOLLOWUP,
    channel: Channel = Channel.EMAIL,
    fields: dict[str, str] | None = None,
    rendered: RenderedMessage | None = None,
    allowed_offer: str | None = None,
    catalogue: frozenset[str] = CATALOGUE,
) -> CheckInput:
    """Build a CheckInput; the rendered email is made from the fields unless given."""
    context = context or make_context()
    brand = brand or make_brand()
    fields = make_fields() if fields is None else fields
    if rendered is None:
        rendered = render_email(context, brand, fields)
    return CheckInput(
        context=context,
        brand=brand,
        kind=kind,
        channel=channel,
        as_of=AS_OF,
        fields=fields,
        rendered=rendered,
        allowed_offer=allowed_offer,
        catalogue=catalogue,
    )


def make_sms_input(text: str, **overrides: Any) -> CheckInput:
    """Build a CheckInput for an SMS whose rendered text is `text`."""
    fields = overrides.pop("fields", {"body": text})
    return make_input(
        channel=Channel.SMS, fields=fields, rendered=RenderedMessage(text=text), **overrides
    )


def ids(findings: list[Any]) -> list[str]:
    return [finding.check_id for finding in findings]
