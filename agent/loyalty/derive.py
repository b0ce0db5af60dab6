"""Derive a points ledger from the stored orders by the brand's earn rule.

A derived ledger is an estimate for shops whose loyalty platform exported nothing, such as
the Online Retail data. Every live order placed at or before `as_of` earns points on its
total. A cancelled order, such as a cancellation invoice in Online Retail, takes the points
of its total off again as an adjustment. Entries are marked `derived` and accounts built from
them say so. A derive replaces every derived entry of the brand in one transaction, so
running it again gives the same ledger. Customers with a real ledger (imported or from
events) are left out.
NOTE: the context tables store no currency, so order totals are taken to be in the earn
rule's currency.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, delete, func, select

from agent.context.tables import OrderLineRecord, OrderRecord
from agent.loyalty.ledger import entries_table, record_run, store_program
from agent.loyalty.models import EarnRule, LedgerEntryType, LedgerSource
from agent.loyalty.program import ProgramFile

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


class DeriveReport(BaseModel):
    brand: str
    as_of: datetime
    orders: int = Field(description="Orders placed at or before as_of, cancellations included.")
    entries: int = Field(description="Derived entries stored.")
    customers: int = Field(description="Customers with derived entries.")
    customers_with_real_ledger: int = Field(
        description="Customers left out because they have imported or event entries."
    )
    orders_below_one_point: int = Field(description="Orders whose total earns no whole point.")
    points_earned: int
    points_reversed: int = Field(description="Points taken off for cancelled orders.")
    replaced_entries: int = Field(description="Derived entries of the brand stored before.")
    seconds: float


def _order_totals(conn: Connection, as_of: datetime) -> list[Any]:
    total = func.sum(OrderLineRecord.quantity * OrderLineRecord.unit_price)
    statement = (
        select(
            OrderRecord.order_id,
            OrderRecord.customer_id,
            OrderRecord.placed_at,
            OrderRecord.cancelled,
            total.label("total"),
        )
        .join(OrderLineRecord, OrderLineRecord.order_id == OrderRecord.order_id)
        .where(OrderRecord.placed_at <= as_of)
        .group_by(OrderRecord.order_id)
        .order_by(OrderRecord.placed_at, OrderRecord.order_id)
    )
    return list(conn.execute(statement))


def _customers_with_real_ledger(conn: Connection, brand: str) -> set[str]:
    table = entries_table()
    statement = (
        select(table.c.customer_id)
        .where(table.c.brand == brand, table.c.source != LedgerSource.DERIVED.value)
        .distinct()
    )
    return set(conn.scalars(statement))


def _entry(brand: str, row: Any, earn: EarnRule) -> dict[str, Any] | None:
    # SQLite sums NUMERIC columns as floats, so the total is rounded back to pence first.
    amount = Decimal(str(row.total)).quantize(CENT)
    points = earn.points_for(amount)
    if points <= 0:
        return None
    kind = LedgerEntryType.ADJUSTED if row.cancelled else LedgerEntryType.EARNED
    return {
        "brand": brand,
        "customer_id": row.customer_id,
        "entry_key": f"derived:{row.order_id}",
        "source": LedgerSource.DERIVED.value,
        "type": kind.value,
        "points": -points if row.cancelled else points,
        "at": row.placed_at,
        "reference": f"order:{row.order_id}",
        "tier": None,
    }


def derive_ledger(
    engine: Engine, *, brand: str, program_file: ProgramFile, as_of: datetime
) -> DeriveReport:
    """Replace the brand's derived entries with those of the orders up to `as_of`."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError(f"`as_of` must be time zone-aware, got {as_of.isoformat()}")
    started = time.perf_counter()
    earn = program_file.program.earn
    table = entries_table()
    with engine.begin() as conn:
        store_program(conn, brand, program_file)
        real = _customers_with_real_ledger(conn, brand)
        replaced = conn.execute(
            delete(table).where(
                table.c.brand == brand, table.c.source == LedgerSource.DERIVED.value
            )
        ).rowcount
        orders = _order_totals(conn, as_of)
        candidates = [row for row in orders if row.customer_id not in real]
        entries = [entry for row in candidates if (entry := _entry(brand, row, earn))]
        if entries:
            conn.execute(table.insert(), entries)
        report = DeriveReport(
            brand=brand,
            as_of=as_of,
            orders=len(orders),
            entries=len(entries),
            customers=len({entry["customer_id"] for entry in entries}),
            customers_with_real_ledger=len(real),
            orders_below_one_point=len(candidates) - len(entries),
            points_earned=sum(entry["points"] for entry in entries if entry["points"] > 0),
            points_reversed=-sum(entry["points"] for entry in entries if entry["points"] < 0),
            replaced_entries=replaced or 0,
            seconds=0.0,
        )
        counts = report.model_dump(mode="json", exclude={"brand", "as_of", "seconds"})
        record_run(conn, brand=brand, kind="derive", source="orders", counts=counts, as_of=as_of)
    report.seconds = round(time.perf_counter() - started, 3)
    logger.info(
        "derived %d loyalty entries for %d customers of %s as of %s",
        report.entries,
        report.customers,
        brand,
        as_of.isoformat(),
    )
    return report
