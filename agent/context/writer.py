"""Batched writes of parsed Online Retail lines into the context tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from agent.context.retail_csv import COUNTRY_TIMEZONES, ParsedLine, RowRejected
from agent.context.tables import CustomerRecord, OrderLineRecord, OrderRecord, ProductRecord
from agent.domain import OrderStatus


def _table(record: Any) -> Table:
    return record.__table__


def _insert(conn: Connection, table: Table) -> Any:
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    # NOTE: the tests run only SQLite. PostgreSQL has the same upsert syntax but is untested.
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(
        f"importing into a {dialect} database is not supported. Use SQLite or PostgreSQL."
    )


@dataclass(slots=True)
class _OrderState:
    customer_id: str
    placed_at: datetime
    cancelled: bool


@dataclass(slots=True)
class _CustomerState:
    last_seen: datetime
    country: str | None


@dataclass
class OrderWriter:
    """Buffer parsed lines and write them in batches inside the caller's transaction.

    An order seen for the first time in this import loses its stored lines before the new
    ones are written, so importing a file again replaces its orders instead of doubling them.
    """

    conn: Connection
    batch_lines: int
    orders: dict[str, _OrderState] = field(default_factory=dict)
    customers: dict[str, _CustomerState] = field(default_factory=dict)
    product_descriptions: dict[str, Counter[str]] = field(default_factory=dict)
    lines_written: int = 0
    cancelled_lines: int = 0
    prices_rounded: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _new_orders: list[str] = field(default_factory=list)
    _new_products: dict[str, str] = field(default_factory=dict)
    _dirty_orders: dict[str, None] = field(default_factory=dict)
    _dirty_customers: dict[str, None] = field(default_factory=dict)

    def add(self, line: ParsedLine) -> None:
        self._track_order(line)
        self._track_customer(line)
        self._track_product(line)
        self._pending.append(
            {
                "order_id": line.order_id,
                "stock_code": line.stock_code,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
            }
        )
        self.cancelled_lines += line.cancelled
        self.prices_rounded += line.price_rounded
        if len(self._pending) >= self.batch_lines:
            self.flush()

    def _track_order(self, line: ParsedLine) -> None:
        state = self.orders.get(line.order_id)
        if state is None:
            self.orders[line.order_id] = _OrderState(
                line.customer_id, line.placed_at, line.cancelled
            )
            self._new_orders.append(line.order_id)
        elif state.customer_id != line.customer_id:
            raise RowRejected(f"InvoiceNo {line.order_id!r} already belongs to another CustomerID")
        elif line.placed_at < state.placed_at:
            # Lines of one invoice can be stamped a minute apart. The order keeps the earliest.
            state.placed_at = line.placed_at
        self._dirty_orders[line.order_id] = None

    def _track_customer(self, line: ParsedLine) -> None:
        state = self.customers.get(line.customer_id)
        if state is None:
            self.customers[line.customer_id] = _CustomerState(line.placed_at, line.country)
        elif line.placed_at >= state.last_seen:
            # The country of the latest order wins, but an empty one keeps the known country.
            state.last_seen = line.placed_at
            state.country = line.country or state.country
        self._dirty_customers[line.customer_id] = None

    def _track_product(self, line: ParsedLine) -> None:
        counts = self.product_descriptions.get(line.stock_code)
        if counts is None:
            counts = self.product_descriptions[line.stock_code] = Counter()
            self._new_products[line.stock_code] = line.description
        counts[line.description] += 1

    def flush(self) -> None:
        if not self._pending:
            return
        self._write_customers()
        self._write_products()
        self._write_orders()
        self.conn.execute(_insert(self.conn, _table(OrderLineRecord)), self._pending)
        self.lines_written += len(self._pending)
        self._pending.clear()

    def _write_customers(self) -> None:
        rows = []
        for customer_id in self._dirty_customers:
            country = self.customers[customer_id].country
            rows.append(
                {
                    "customer_id": customer_id,
                    "country": country,
                    "timezone": COUNTRY_TIMEZONES.get(country) if country else None,
                }
            )
        statement = _insert(self.conn, _table(CustomerRecord))
        # first_name and consent stay as they are, because this file has neither.
        statement = statement.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={"country": statement.excluded.country, "timezone": statement.excluded.timezone},
        )
        self.conn.execute(statement, rows)
        self._dirty_customers.clear()

    def _write_products(self) -> None:
        if not self._new_products:
            return
        rows = [
            {"stock_code": code, "description": text} for code, text in self._new_products.items()
        ]
        statement = _insert(self.conn, _table(ProductRecord)).on_conflict_do_nothing()
        self.conn.execute(statement, rows)
        self._new_products.clear()

    def _write_orders(self) -> None:
        lines = _table(OrderLineRecord)
        if self._new_orders:
            statement = delete(lines).where(lines.c.order_id == bindparam("stale_order_id"))
            self.conn.execute(statement, [{"stale_order_id": oid} for oid in self._new_orders])
            self._new_orders.clear()

        rows = []
        for order_id in self._dirty_orders:
            state = self.orders[order_id]
            status = OrderStatus.CANCELLED if state.cancelled else OrderStatus.PLACED
            rows.append(
                {
                    "order_id": order_id,
                    "customer_id": state.customer_id,
                    "placed_at": state.placed_at,
                    "status": status,
                    "cancelled": state.cancelled,
                }
            )
        statement = _insert(self.conn, _table(OrderRecord))
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["order_id"],
            set_={
                "customer_id": excluded.customer_id,
                "placed_at": excluded.placed_at,
                "status": excluded.status,
                "cancelled": excluded.cancelled,
            },
        )
        self.conn.execute(statement, rows)
        self._dirty_orders.clear()

    def finish(self) -> None:
        """Flush the last batch and give each product its most frequent description."""
        self.flush()
        if not self.product_descriptions:
            return
        products = _table(ProductRecord)
        statement = (
            update(products)
            .where(products.c.stock_code == bindparam("code"))
            .values(description=bindparam("text"))
        )
        rows = [
            {"code": code, "text": counts.most_common(1)[0][0]}
            for code, counts in self.product_descriptions.items()
        ]
        self.conn.execute(statement, rows)
