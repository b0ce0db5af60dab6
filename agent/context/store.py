"""Read customer contexts and customer selections from the context tables."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, distinct, func, select, union
from sqlalchemy.orm import Session

from agent.context.delivery import estimate_delivery
from agent.context.tables import (
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    ReturnRecord,
    ReviewRecord,
    SentMessageRecord,
    TicketRecord,
)
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
from agent.loyalty.accounts import account_for, read_ledger

logger = logging.getLogger(__name__)

FamilyClassifier = Callable[[str, BrandProfile], str | None]


class CustomerNotFound(LookupError):
    """No customer with the requested id is stored."""

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        super().__init__(
            f"customer {customer_id!r} not found in the context store; check the id, or import "
            "customer data with `aftercare import online-retail PATH`"
        )


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"`{name}` must be time zone-aware, but got {value.isoformat()}. "
            "Attach a zone, for example with .replace(tzinfo=datetime.UTC)."
        )


def _default_classifier() -> FamilyClassifier:
    # Imported here so that this module loads without the knowledge layer.
    from agent.knowledge.brand import classify_family

    return classify_family


class ContextStore:
    """Customer contexts and customer selections read from the context tables."""

    def __init__(self, engine: Engine, *, classify: FamilyClassifier | None = None) -> None:
        """Use `classify` to map a description to a family id, by default classify_family."""
        self._engine = engine
        self._classify = classify

    # --- one customer -------------------------------------------------------------------

    def load(self, customer_id: str, *, as_of: datetime, brand: BrandProfile) -> CustomerContext:
        """Load a customer and the orders placed at or before `as_of`, oldest first.

        Cancelled orders keep the status cancelled. Any other order is delivered, with
        delivered_at estimated from the brand's delivery policy, once that moment is at or
        before `as_of`, and is shipped until then. `loyalty` is built from the brand's stored
        points ledger, and is None without one. Raises CustomerNotFound for an unknown id.
        """
        _require_aware("as_of", as_of)
        with Session(self._engine) as session:
            customer = session.get(CustomerRecord, customer_id)
            if customer is None:
                raise CustomerNotFound(customer_id)
            order_rows = self._orders_until(session, customer_id, as_of)
            lines = self._lines_by_order(session, customer_id, as_of)
            history = _history_until(session, customer_id, as_of)
            ledger = read_ledger(session, customer_id, brand.brand_id, as_of)

        classify = self._classify or _default_classifier()
        families: dict[str, str | None] = {}
        orders = []
        for row in order_rows:
            order_lines = lines.get(row.order_id)
            if not order_lines:
                logger.warning("order %s has no lines and is left out of the context", row.order_id)
                continue
            for line in order_lines:
                if line.description not in families:
                    families[line.description] = classify(line.description, brand)
                line.family = families[line.description]
            expected = estimate_delivery(row.placed_at, brand, customer.country)
            orders.append(_to_order(row, order_lines, as_of, expected))

        return CustomerContext(
            customer_id=customer.customer_id,
            first_name=customer.first_name,
            country=customer.country,
            timezone=customer.timezone,
            consent=Consent(
                email_marketing=customer.email_marketing, sms_marketing=customer.sms_marketing
            ),
            orders=orders,
            loyalty=account_for(ledger, as_of, orders),
            **history,
        )

    @staticmethod
    def _orders_until(session: Session, customer_id: str, as_of: datetime) -> list[OrderRecord]:
        statement = (
            select(OrderRecord)
            .where(OrderRecord.customer_id == customer_id, OrderRecord.placed_at <= as_of)
            .order_by(OrderRecord.placed_at, OrderRecord.order_id)
        )
        return list(session.scalars(statement))

    @staticmethod
    def _lines_by_order(
        session: Session, customer_id: str, as_of: datetime
    ) -> dict[str, list[OrderLine]]:
        statement = (
            select(OrderLineRecord)
            .join(OrderRecord, OrderRecord.order_id == OrderLineRecord.order_id)
            .where(OrderRecord.customer_id == customer_id, OrderRecord.placed_at <= as_of)
            .order_by(OrderLineRecord.id)
        )
        lines: dict[str, list[OrderLine]] = defaultdict(list)
        for record in session.scalars(statement):
            lines[record.order_id].append(
                OrderLine(
                    stock_code=record.stock_code,
                    description=record.description,
                    quantity=record.quantity,
                    unit_price=record.unit_price,
                )
            )
        return lines

    # --- selections ---------------------------------------------------------------------

    def recent_customers(self, *, as_of: datetime, max_days: int, limit: int) -> list[str]:
        """Return customers whose last live order is at most `max_days` before `as_of`.

        A live order is one that is not cancelled and placed at or before `as_of`. The most
        recent buyer comes first, and ties are ordered by customer id.
        """
        _require_aware("as_of", as_of)
        last_order = func.max(OrderRecord.placed_at).label("last_order")
        statement = (
            select(OrderRecord.customer_id, last_order)
            .where(OrderRecord.cancelled.is_(False), OrderRecord.placed_at <= as_of)
            .group_by(OrderRecord.customer_id)
            .having(last_order >= as_of - timedelta(days=max_days))
            .order_by(last_order.desc(), OrderRecord.customer_id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return list(conn.scalars(statement))

    def lapsed_customers(
        self, *, as_of: datetime, min_days: int, min_orders: int, limit: int
    ) -> list[str]:
        """Return customers whose last live order is at least `min_days` before `as_of`.

        Only customers with at least `min_orders` live orders count. The highest lifetime
        spend (the sum of quantity x unit price over live orders) comes first, and ties are
        ordered by customer id.
        """
        _require_aware("as_of", as_of)
        spend = func.sum(OrderLineRecord.quantity * OrderLineRecord.unit_price).label("spend")
        statement = (
            select(OrderRecord.customer_id, spend)
            .join(OrderLineRecord, OrderLineRecord.order_id == OrderRecord.order_id)
            .where(OrderRecord.cancelled.is_(False), OrderRecord.placed_at <= as_of)
            .group_by(OrderRecord.customer_id)
            .having(
                func.max(OrderRecord.placed_at) <= as_of - timedelta(days=min_days),
                func.count(distinct(OrderRecord.order_id)) >= min_orders,
            )
            .order_by(spend.desc(), OrderRecord.customer_id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return list(conn.scalars(statement))

    # --- catalogue ----------------------------------------------------------------------

    def catalogue(self) -> frozenset[str]:
        """Return every product description, including the variants printed on order lines."""
        statement = union(select(ProductRecord.description), select(OrderLineRecord.description))
        with self._engine.connect() as conn:
            return frozenset(conn.scalars(statement))

    def latest_order_time(self) -> datetime | None:
        """Return the latest placed_at of any order, cancellations included, in UTC."""
        with self._engine.connect() as conn:
            return conn.scalar(select(func.max(OrderRecord.placed_at)))


def _history_until(session: Session, customer_id: str, as_of: datetime) -> dict[str, list]:
    """Reviews, tickets, returns and sent messages recorded at or before `as_of`."""
    reviews = session.scalars(
        select(ReviewRecord)
        .where(ReviewRecord.customer_id == customer_id)
        .where((ReviewRecord.created_at.is_(None)) | (ReviewRecord.created_at <= as_of))
        .order_by(ReviewRecord.id)
    )
    tickets = session.scalars(
        select(TicketRecord)
        .where(TicketRecord.customer_id == customer_id, TicketRecord.opened_at <= as_of)
        .order_by(TicketRecord.opened_at)
    )
    returns = session.scalars(
        select(ReturnRecord)
        .where(ReturnRecord.customer_id == customer_id, ReturnRecord.created_at <= as_of)
        .order_by(ReturnRecord.created_at)
    )
    sent = session.scalars(
        select(SentMessageRecord)
        .where(SentMessageRecord.customer_id == customer_id, SentMessageRecord.sent_at <= as_of)
        .order_by(SentMessageRecord.sent_at)
    )
    return {
        "reviews": [
            Review(stock_code=r.stock_code, rating=r.rating, text=r.text, created_at=r.created_at)
            for r in reviews
        ],
        "tickets": [_to_ticket(t, as_of) for t in tickets],
        "returns": [
            ProductReturn(
                order_id=r.order_id,
                stock_code=r.stock_code,
                reason=r.reason,
                created_at=r.created_at,
            )
            for r in returns
        ],
        "messages_sent": [
            SentMessage(kind=m.kind, channel=m.channel, sent_at=m.sent_at) for m in sent
        ],
    }


def _to_ticket(row: TicketRecord, as_of: datetime) -> Ticket:
    # A ticket closed after `as_of` was still open at that moment.
    closed = row.closed_at is not None and row.closed_at <= as_of
    return Ticket(
        ticket_id=row.ticket_id,
        status="closed" if closed else "open",
        category=row.category,
        subject=row.subject,
        text=row.text,
        opened_at=row.opened_at,
        closed_at=row.closed_at if closed else None,
    )


def _to_order(
    row: OrderRecord, lines: list[OrderLine], as_of: datetime, expected: datetime
) -> Order:
    if row.cancelled:
        return Order(
            order_id=row.order_id,
            placed_at=row.placed_at,
            status=OrderStatus.CANCELLED,
            lines=lines,
        )
    delivered_at = expected
    if delivered_at <= as_of:
        return Order(
            order_id=row.order_id,
            placed_at=row.placed_at,
            status=OrderStatus.DELIVERED,
            delivered_at=delivered_at,
            delivery_estimated=True,
            lines=lines,
        )
    return Order(
        order_id=row.order_id, placed_at=row.placed_at, status=OrderStatus.SHIPPED, lines=lines
    )
