"""Write the loyalty ledger: the stored programme, entries, run records and CRM events.

Real entries (imported from the loyalty platform or posted as events) and derived ones
(estimated from orders) never mix for one customer: writing a real entry removes the
customer's derived entries of that brand in the same transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.context.tables import CustomerRecord
from agent.loyalty.accounts import replay, stored_program
from agent.loyalty.models import LedgerEntryType, LedgerLine, LedgerSource, LoyaltyEvent
from agent.loyalty.program import ProgramFile
from agent.loyalty.tables import LoyaltyEntryRecord, LoyaltyProgramRecord, LoyaltyRunRecord

logger = logging.getLogger(__name__)


class LoyaltyProgramNotStored(LookupError):
    """No programme is stored for the brand, so its ledger cannot be read or written."""

    def __init__(self, brand: str) -> None:
        self.brand = brand
        super().__init__(
            f"no loyalty programme is stored for brand {brand!r}; store it with "
            f"`aftercare loyalty program --brand {brand}`"
        )


class LoyaltyEventRejected(ValueError):
    """The event contradicts the stored ledger, such as a redemption above the balance."""


def upsert(conn: Connection, table: Table) -> Any:
    """Return the dialect's INSERT that supports ON CONFLICT (SQLite or PostgreSQL)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    # NOTE: the tests run only SQLite. PostgreSQL has the same upsert syntax but is untested.
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(
        f"the loyalty ledger cannot be stored in a {dialect} database; use SQLite or PostgreSQL"
    )


def entries_table() -> Table:
    return LoyaltyEntryRecord.__table__  # type: ignore[return-value]


def store_program(conn: Connection, brand: str, program_file: ProgramFile) -> None:
    """Store or replace the programme the brand's ledger is read with."""
    table: Table = LoyaltyProgramRecord.__table__  # type: ignore[assignment]
    values = {
        "brand": brand,
        "program": program_file.program.model_dump(mode="json"),
        "source_path": str(program_file.path),
        "sha256": program_file.sha256,
        "stored_at": datetime.now(UTC),
    }
    statement = upsert(conn, table)
    statement = statement.on_conflict_do_update(
        index_elements=["brand"], set_={key: statement.excluded[key] for key in values}
    )
    conn.execute(statement, values)


def ensure_customers(conn: Connection, customer_ids: Iterable[str]) -> int:
    """Create the customers that are not stored yet, with no profile; return how many."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    known = _existing_customers(conn, ids)
    missing = [{"customer_id": customer_id} for customer_id in ids if customer_id not in known]
    if missing:
        table: Table = CustomerRecord.__table__  # type: ignore[assignment]
        conn.execute(upsert(conn, table).on_conflict_do_nothing(), missing)
    return len(missing)


def _existing_customers(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    column = CustomerRecord.customer_id
    # SQLite allows at most 32,766 bound parameters per statement.
    for start in range(0, len(ids), 5_000):
        chunk = ids[start : start + 5_000]
        found.update(conn.scalars(select(column).where(column.in_(chunk))))
    return found


def drop_derived(conn: Connection, brand: str, customer_ids: Iterable[str]) -> int:
    """Delete the derived entries of these customers in `brand`; return how many."""
    ids = sorted(set(customer_ids))
    table = entries_table()
    removed = 0
    for start in range(0, len(ids), 5_000):
        statement = delete(table).where(
            table.c.brand == brand,
            table.c.source == LedgerSource.DERIVED.value,
            table.c.customer_id.in_(ids[start : start + 5_000]),
        )
        removed += conn.execute(statement).rowcount or 0
    return removed


def record_run(
    conn: Connection,
    *,
    brand: str,
    kind: str,
    source: str,
    counts: dict[str, Any],
    sha256: str | None = None,
    as_of: datetime | None = None,
) -> str:
    run_id = uuid.uuid4().hex
    conn.execute(
        LoyaltyRunRecord.__table__.insert(),
        {
            "run_id": run_id,
            "brand": brand,
            "kind": kind,
            "source": source,
            "sha256": sha256,
            "as_of": as_of,
            "finished_at": datetime.now(UTC),
            "counts": counts,
        },
    )
    return run_id


# --- events from the API -------------------------------------------------------------------


def apply_loyalty_event(engine: Engine, event: LoyaltyEvent) -> bool:
    """Store a points or tier event in its own transaction; return False for a repeat.

    Raises LoyaltyProgramNotStored when the brand has no stored programme, and
    LoyaltyEventRejected for an unknown tier or a redemption above the balance at the
    event's time.
    """
    try:
        with Session(engine) as session, session.begin():
            applied = write_loyalty_event(session, event)
    except IntegrityError:
        # A concurrent delivery of the same event committed first.
        with Session(engine) as session:
            if _event_stored(session, event):
                return False
        raise
    if applied:
        logger.info("applied loyalty %s event %s", event.type.value, event.event_id)
    return applied


def write_loyalty_event(session: Session, event: LoyaltyEvent) -> bool:
    """Store a loyalty event inside the caller's transaction; return False for a repeat.

    Raises as `apply_loyalty_event` does, before writing anything.
    """
    if _event_stored(session, event):
        return False
    program = stored_program(session, event.brand)
    if program is None:
        raise LoyaltyProgramNotStored(event.brand)
    if event.type is LedgerEntryType.TIER_CHANGE and program.tier(event.tier or "") is None:
        known = ", ".join(tier.tier_id for tier in program.tiers)
        raise LoyaltyEventRejected(
            f"tier {event.tier!r} of event `{event.event_id}` is not a tier of brand "
            f"{event.brand!r}; use one of: {known}"
        )
    conn = session.connection()
    ensure_customers(conn, [event.customer_id])
    drop_derived(conn, event.brand, [event.customer_id])
    if event.type is LedgerEntryType.REDEEMED:
        _check_redemption(session, event)
    conn.execute(
        entries_table().insert(),
        {
            "brand": event.brand,
            "customer_id": event.customer_id,
            "entry_key": _event_key(event),
            "source": LedgerSource.EVENT.value,
            "type": event.type.value,
            "points": event.points,
            "at": event.at,
            "reference": event.reference,
            "tier": event.tier,
        },
    )
    return True


def _event_key(event: LoyaltyEvent) -> str:
    return f"event:{event.event_id}"


def _event_stored(session: Session, event: LoyaltyEvent) -> bool:
    table = entries_table()
    statement = select(table.c.id).where(
        table.c.brand == event.brand,
        table.c.customer_id == event.customer_id,
        table.c.entry_key == _event_key(event),
    )
    return session.execute(statement).first() is not None


def _check_redemption(session: Session, event: LoyaltyEvent) -> None:
    program = stored_program(session, event.brand)
    assert program is not None  # checked by the caller
    table = entries_table()
    rows = session.execute(
        select(table).where(
            table.c.brand == event.brand,
            table.c.customer_id == event.customer_id,
            table.c.at <= event.at,
        )
    ).mappings()
    entries = [
        LedgerLine(
            type=row["type"],
            points=row["points"],
            at=row["at"],
            reference=row["reference"],
            tier=row["tier"],
            source=row["source"],
        )
        for row in rows
    ]
    state = replay(program, entries)
    balance = sum(
        lot.remaining
        for lot in state.lots
        if lot.remaining and (lot.expires_at is None or lot.expires_at > event.at)
    )
    if event.points > balance:
        raise LoyaltyEventRejected(
            f"event `{event.event_id}` redeems {event.points} points but customer "
            f"`{event.customer_id}` has {balance} points at {event.at.isoformat()}; send the "
            "earning events first or correct the amount"
        )
