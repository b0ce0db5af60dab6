"""Tables of the customer context: customers, products, orders and order lines."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column

from agent.context.db import Base
from agent.domain import OrderStatus


class UTCDateTime(TypeDecorator[datetime]):
    """A time zone-aware datetime stored as naive UTC and read back with UTC attached.

    SQLite has no time zone type, so every value is normalised to UTC before storage.
    That keeps string comparisons in SQL in time order.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} cannot be stored. Attach a time zone first."
            )
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _status_values(enum_class: type[OrderStatus]) -> list[str]:
    return [member.value for member in enum_class]


class CustomerRecord(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str | None] = mapped_column(String(60))
    timezone: Mapped[str | None] = mapped_column(String(64), comment="IANA time zone name")
    first_name: Mapped[str | None] = mapped_column(String(60))
    # None means no consent was recorded, which differs from an explicit refusal.
    email_marketing: Mapped[bool | None] = mapped_column(Boolean)
    sms_marketing: Mapped[bool | None] = mapped_column(Boolean)


class ProductRecord(Base):
    __tablename__ = "products"

    stock_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(String(200))


class OrderRecord(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # Loads one customer's orders in time order.
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        # Covers the recent and lapsed customer selections, which skip cancelled orders.
        Index("ix_orders_cancelled_placed_customer", "cancelled", "placed_at", "customer_id"),
        Index("ix_orders_placed", "placed_at"),
    )

    order_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Stored as placed or cancelled. Shipped and delivered are derived when a context loads.
    status: Mapped[OrderStatus] = mapped_column(
        Enum(
            OrderStatus,
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=_status_values,
            name="order_status",
        )
    )
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class OrderLineRecord(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        Index("ix_order_lines_order", "order_id"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    # Insertion order, which keeps the lines of an order in source-file order.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.order_id", ondelete="CASCADE")
    )
    stock_code: Mapped[str] = mapped_column(String(32), ForeignKey("products.stock_code"))
    # The description printed on this line, which can differ from the product's current one.
    description: Mapped[str] = mapped_column(String(200))
    # Always positive, because a cancelled order keeps the absolute quantities it reversed.
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))


class ReviewRecord(Base):
    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_customer", "customer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    stock_code: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TicketRecord(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_customer", "customer_id"),)

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="other")
    subject: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReturnRecord(Base):
    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_customer", "customer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    order_id: Mapped[str] = mapped_column(String(32))
    stock_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SentMessageRecord(Base):
    """A message the sending platform reported as sent; frequency caps count these."""

    __tablename__ = "messages_sent"
    __table_args__ = (Index("ix_messages_sent_customer_time", "customer_id", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
