"""Tables of the loyalty ledger: each brand's programme, the ledger entries and the runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.context.db import Base
from agent.context.tables import UTCDateTime


class LoyaltyProgramRecord(Base):
    """The programme a brand's ledger is read with, stored by every import, derive or sync."""

    __tablename__ = "loyalty_programs"

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    program: Mapped[dict] = mapped_column(JSON)
    source_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoyaltyEntryRecord(Base):
    """One ledger entry. `entry_key` makes a repeated import, derive or event harmless."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (
        UniqueConstraint("brand", "customer_id", "entry_key"),
        Index("ix_loyalty_entries_brand_customer_at", "brand", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brand: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    # "<type>:<reference>" for imports, "event:<event_id>", or "derived:<order_id>".
    entry_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reference: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str | None] = mapped_column(String(64))


class LoyaltyRunRecord(Base):
    """One completed import or derive, with what it wrote."""

    __tablename__ = "loyalty_runs"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # import or derive
    source: Mapped[str] = mapped_column(String(500), comment="File path, or `orders` for derive")
    sha256: Mapped[str | None] = mapped_column(String(64))
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    counts: Mapped[dict] = mapped_column(JSON)
