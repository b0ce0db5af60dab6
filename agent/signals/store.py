"""The customer_signals table: the latest signals of every customer, per brand.

A refresh replaces a brand's rows in one transaction (`replace_signals`), so readers see
either the previous refresh or the new one, and an interrupted refresh leaves the previous
signals intact. Each refresh also adds a row to signal_refreshes with its notes.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from agent.context.db import Base
from agent.context.tables import CustomerRecord, UTCDateTime

logger = logging.getLogger(__name__)


class SignalsNotComputed(LookupError):
    """No refresh has stored signals for the requested customer or brand."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def refresh_command(brand: str | None = None, as_of: datetime | None = None) -> str:
    """Return the CLI command that computes the missing signals."""
    command = "aftercare signals refresh"
    if as_of is not None:
        command += f" --as-of {as_of.date().isoformat()}"
    if brand is not None:
        command += f" --brand {brand}"
    return command


# --- the signals of one customer ---------------------------------------------------------


class _Signal(BaseModel):
    # NaN and infinity cannot be stored as JSON and mean nothing to a reader.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ClvSignal(_Signal):
    """Churn and value from `agent.signals.clv.score_customers`."""

    method: str = Field(
        description="bg_nbd+gamma_gamma; rfm_rules when the models cannot score the customer; "
        "none without a live order."
    )
    p_alive: float | None = Field(default=None, ge=0, le=1)
    expected_purchases: float | None = None
    predicted_clv: float | None = None
    clv_low: float | None = None
    clv_high: float | None = None
    frequency: int | None = Field(default=None, description="Repeat purchase days.")
    recency_days: float | None = None
    tenure_days: float | None = None
    monetary: float | None = Field(default=None, description="Mean spend per purchase day.")
    horizon_days: float | None = None
    fallback_reason: str | None = Field(
        default=None, description="Why rules or nothing scored this customer; None for models."
    )


class RfmSignal(_Signal):
    recency_days: int | None
    orders: int
    monetary: float
    r_score: int | None
    f_score: int | None
    m_score: int | None
    segment: str


class SentimentSignal(_Signal):
    texts: int
    mean_compound: float | None
    latest_compound: float | None
    latest_at: datetime | None
    recent_negative: int = Field(description="Negative texts in the 90 days before as_of.")
    label: str | None


class AdvocacyInputSignal(_Signal):
    raw: float | None
    scaled: float | None
    weight: float
    status: str = Field(description="present or absent")
    note: str | None = None


class AdvocacySignal(_Signal):
    score: int = Field(ge=0, le=100)
    coverage: float = Field(ge=0, le=1)
    inputs: dict[str, AdvocacyInputSignal]


class ReviewSignal(_Signal):
    status: str
    order_id: str | None = None
    delivered_at: datetime | None = None
    delivery_estimated: bool = False
    window_days: int | None = None
    window_source: str | None = None
    families: list[str] = Field(default_factory=list)
    due_at: datetime | None = None
    blockers: list[str] = Field(default_factory=list)


class CustomerSignals(_Signal):
    customer_id: str
    brand: str
    as_of: datetime
    computed_at: datetime
    refresh_id: str
    clv: ClvSignal
    rfm: RfmSignal
    sentiment: SentimentSignal
    advocacy: AdvocacySignal
    review: ReviewSignal


# --- tables ---------------------------------------------------------------------------


class CustomerSignalsRecord(Base):
    """The latest signals of one customer for one brand. `payload` contains every input."""

    __tablename__ = "customer_signals"
    __table_args__ = (Index("ix_customer_signals_customer", "customer_id"),)

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id", ondelete="CASCADE"), primary_key=True
    )
    refresh_id: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    clv_method: Mapped[str] = mapped_column(String(32))
    p_alive: Mapped[float | None] = mapped_column(Float)
    predicted_clv: Mapped[float | None] = mapped_column(Float)
    rfm_segment: Mapped[str] = mapped_column(String(32))
    advocate_score: Mapped[int] = mapped_column(Integer)
    sentiment_compound: Mapped[float | None] = mapped_column(Float)
    review_status: Mapped[str] = mapped_column(String(16))
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payload: Mapped[dict] = mapped_column(JSON)


class SignalRefreshRecord(Base):
    """One completed refresh: when, as of when, how many customers and what it noted."""

    __tablename__ = "signal_refreshes"

    refresh_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    customers: Mapped[int] = mapped_column(Integer)
    clv_methods: Mapped[dict] = mapped_column(JSON)
    notes: Mapped[list] = mapped_column(JSON)


SIGNAL_TABLES = (CustomerSignalsRecord.__table__, SignalRefreshRecord.__table__)
_ready_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_signal_tables(engine: Engine) -> None:
    """Create the signal tables when they do not exist yet (the context tables must exist)."""
    if engine in _ready_engines:
        return
    Base.metadata.create_all(engine, tables=list(SIGNAL_TABLES))
    _ready_engines.add(engine)


# --- writing and reading ------------------------------------------------------------------


class RefreshInfo(BaseModel):
    refresh_id: str
    brand: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime
    customers: int
    clv_methods: dict[str, int]
    notes: list[str]


def _to_record(signals: CustomerSignals) -> CustomerSignalsRecord:
    return CustomerSignalsRecord(
        brand=signals.brand,
        customer_id=signals.customer_id,
        refresh_id=signals.refresh_id,
        as_of=signals.as_of,
        clv_method=signals.clv.method,
        p_alive=signals.clv.p_alive,
        predicted_clv=signals.clv.predicted_clv,
        rfm_segment=signals.rfm.segment,
        advocate_score=signals.advocacy.score,
        sentiment_compound=signals.sentiment.mean_compound,
        review_status=signals.review.status,
        review_due_at=signals.review.due_at,
        payload=signals.model_dump(mode="json"),
    )


def replace_signals(engine: Engine, info: RefreshInfo, signals: list[CustomerSignals]) -> None:
    """Replace every stored signal of `info.brand` with `signals`, in one transaction."""
    ensure_signal_tables(engine)
    records = [_to_record(item) for item in signals]
    with Session(engine) as session, session.begin():
        session.execute(
            delete(CustomerSignalsRecord).where(CustomerSignalsRecord.brand == info.brand)
        )
        session.add_all(records)
        session.add(SignalRefreshRecord(**info.model_dump()))
    logger.info(
        "stored signals of %d customers for brand %s (refresh %s)",
        len(records),
        info.brand,
        info.refresh_id,
    )


def latest_refresh(engine: Engine, brand: str) -> RefreshInfo | None:
    """Return the most recent refresh of `brand`, or None when there was none."""
    ensure_signal_tables(engine)
    statement = (
        select(SignalRefreshRecord)
        .where(SignalRefreshRecord.brand == brand)
        .order_by(SignalRefreshRecord.finished_at.desc())
        .limit(1)
    )
    with Session(engine) as session:
        record = session.scalars(statement).first()
        if record is None:
            return None
        return RefreshInfo.model_validate(record, from_attributes=True)


def signals_for(engine: Engine, customer_id: str, *, brand: str | None = None) -> CustomerSignals:
    """Return the stored signals of one customer, for `brand` or else the latest of any brand.

    Raises SignalsNotComputed naming the refresh command when none are stored. Callers that
    need to tell an unknown customer apart check the context store first.
    """
    ensure_signal_tables(engine)
    statement = select(CustomerSignalsRecord).where(
        CustomerSignalsRecord.customer_id == customer_id
    )
    if brand is not None:
        statement = statement.where(CustomerSignalsRecord.brand == brand)
    statement = statement.order_by(CustomerSignalsRecord.as_of.desc()).limit(1)
    with Session(engine) as session:
        record = session.scalars(statement).first()
    if record is None:
        scope = f" for brand {brand!r}" if brand else ""
        raise SignalsNotComputed(
            f"no signals are stored for customer {customer_id!r}{scope}; compute them with "
            f"`{refresh_command(brand)}`"
        )
    return CustomerSignals.model_validate(record.payload)


def load_brand_signals(engine: Engine, brand: str) -> dict[str, CustomerSignals]:
    """Return every stored signal of `brand`, keyed by customer id."""
    ensure_signal_tables(engine)
    statement = select(CustomerSignalsRecord.payload).where(CustomerSignalsRecord.brand == brand)
    with engine.connect() as connection:
        payloads = connection.scalars(statement).all()
    signals = (CustomerSignals.model_validate(payload) for payload in payloads)
    return {item.customer_id: item for item in signals}


def count_methods(signals: list[CustomerSignals]) -> dict[str, int]:
    return dict(Counter(item.clv.method for item in signals))


def customer_known(engine: Engine, customer_id: str) -> bool:
    """Return True when the context store has a customer with this id."""
    with Session(engine) as session:
        return session.get(CustomerRecord, customer_id) is not None
