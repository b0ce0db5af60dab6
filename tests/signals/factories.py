"""Small factories for signals tests: orders, contexts and the real demo brand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from agent.config import PROJECT_ROOT
from agent.domain import (
    BrandProfile,
    Consent,
    CustomerContext,
    Order,
    OrderLine,
    OrderStatus,
    ProductReturn,
    Review,
    SentMessage,
    Ticket,
)
from agent.knowledge.brand import load_brand
from agent.loyalty.models import LoyaltyAccount
from agent.signals.store import (
    AdvocacySignal,
    ClvSignal,
    CustomerSignals,
    ReviewSignal,
    RfmSignal,
    SentimentSignal,
)

# A Wednesday afternoon in London, outside the brand's quiet hours (21:00-08:00).
AS_OF = datetime(2011, 11, 30, 14, 0, tzinfo=UTC)
# A hearth-and-holly product in the candles-and-lighting family (14-day usage window).
CANDLE = ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER")
# A product in the kitchen-and-baking family (21-day usage window).
CAKESTAND = ("22423", "REGENCY CAKESTAND 3 TIER")


@cache
def _brand() -> BrandProfile:
    return load_brand(PROJECT_ROOT / "kb", "hearth-and-holly")


def brand() -> BrandProfile:
    return _brand().model_copy(deep=True)


def line(
    product: tuple[str, str] = CANDLE, family: str | None = None, **overrides: Any
) -> OrderLine:
    values: dict[str, Any] = {
        "stock_code": product[0],
        "description": product[1],
        "quantity": 2,
        "unit_price": Decimal("2.55"),
        "family": family,
    }
    return OrderLine(**(values | overrides))


def order(
    order_id: str = "560001",
    *,
    delivered_days_ago: float | None = 5,
    placed_days_ago: float | None = None,
    lines: list[OrderLine] | None = None,
    status: OrderStatus | None = None,
) -> Order:
    """An order delivered `delivered_days_ago` days before AS_OF (None: still in transit)."""
    placed_ago = placed_days_ago if placed_days_ago is not None else (delivered_days_ago or 0) + 3
    delivered_at = (
        None if delivered_days_ago is None else AS_OF - timedelta(days=delivered_days_ago)
    )
    if status is None:
        status = OrderStatus.SHIPPED if delivered_at is None else OrderStatus.DELIVERED
    return Order(
        order_id=order_id,
        placed_at=AS_OF - timedelta(days=placed_ago),
        status=status,
        delivered_at=delivered_at if status is OrderStatus.DELIVERED else None,
        delivery_estimated=True,
        lines=lines or [line(family="candles-and-lighting")],
    )


def context(**overrides: Any) -> CustomerContext:
    values: dict[str, Any] = {
        "customer_id": "17850",
        "country": "United Kingdom",
        "consent": Consent(email_marketing=True, sms_marketing=True),
        "orders": [order()],
    }
    return CustomerContext(**(values | overrides))


def ticket(days_ago: float = 3, *, status: str = "open", text: str = "", **extra: Any) -> Ticket:
    return Ticket(
        ticket_id=extra.pop("ticket_id", "T1"),
        status=status,
        subject=extra.pop("subject", "About my order"),
        text=text,
        opened_at=AS_OF - timedelta(days=days_ago),
        **extra,
    )


def review(rating: int, days_ago: float | None = 3, text: str = "", **extra: Any) -> Review:
    created = None if days_ago is None else AS_OF - timedelta(days=days_ago)
    return Review(rating=rating, text=text, created_at=created, **extra)


def product_return(order_id: str = "560001", days_ago: float = 2) -> ProductReturn:
    return ProductReturn(order_id=order_id, created_at=AS_OF - timedelta(days=days_ago))


def sent(kind: str, days_ago: float, channel: str = "email") -> SentMessage:
    return SentMessage(kind=kind, channel=channel, sent_at=AS_OF - timedelta(days=days_ago))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stored_signals(
    customer_id: str = "17850",
    *,
    p_alive: float | None = 0.9,
    orders: int = 3,
    segment: str = "loyal",
    advocate_score: int = 40,
    coverage: float = 0.35,
    method: str = "bg_nbd+gamma_gamma",
) -> CustomerSignals:
    """Stored signals as a refresh would write them, with the values a planner rule reads."""
    absent = {"raw": None, "scaled": None, "weight": 0.15, "status": "absent"}
    return CustomerSignals(
        customer_id=customer_id,
        brand="hearth-and-holly",
        as_of=AS_OF,
        computed_at=AS_OF,
        refresh_id="test",
        clv=ClvSignal(method=method, p_alive=p_alive, predicted_clv=120.0),
        rfm=RfmSignal(
            recency_days=30,
            orders=orders,
            monetary=80.0,
            r_score=3,
            f_score=3,
            m_score=3,
            segment=segment,
        ),
        sentiment=SentimentSignal(
            texts=0,
            mean_compound=None,
            latest_compound=None,
            latest_at=None,
            recent_negative=0,
            label=None,
        ),
        advocacy=AdvocacySignal(
            score=advocate_score, coverage=coverage, inputs={"referrals": absent}
        ),
        review=ReviewSignal(status="waiting"),
    )


RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def write_retail_csv(path: Path, rows: list[tuple[str, str, str, int, str, str, str]]) -> Path:
    """Write Online Retail rows: (invoice, stock code, description, quantity, date, unit
    price, customer id); every customer is in the United Kingdom."""
    lines = [RETAIL_HEADER]
    lines += [
        f"{inv},{code},{desc},{qty},{date},{price},{cid},United Kingdom"
        for inv, code, desc, qty, date, price, cid in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def loyalty_account(**overrides: Any) -> LoyaltyAccount:
    """A loyalty account in a Silver tier whose next tier is Gold."""
    values: dict[str, Any] = {
        "brand": "hearth-and-holly",
        "program": "Hearth Points",
        "as_of": AS_OF,
        "derived": False,
        "balance": 450,
        "tier": "silver",
        "tier_name": "Silver",
        "qualifying_points": 450,
        "next_tier": "gold",
        "next_tier_name": "Gold",
        "points_to_next_tier": 550,
    }
    return LoyaltyAccount(**(values | overrides))
