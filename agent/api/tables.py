"""Tables the HTTP API owns: API keys, persisted draft requests and jobs, processed events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.context.db import Base
from agent.context.tables import UTCDateTime


class ApiKeyRecord(Base):
    """An API key: a public prefix id and the SHA-256 digest of its secret, never the secret."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobRecord(Base):
    """A batch of draft requests submitted together; its items are rows of draft_requests."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    size: Mapped[int] = mapped_column(Integer)
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))


class DraftRequestRecord(Base):
    """One draft request, stored before it is drafted so that a crash cannot lose it.

    Status moves queued -> running -> done or failed. `draft_id` is written before the draft
    is saved, so after a crash a running request whose draft exists is known to be done.
    """

    __tablename__ = "draft_requests"
    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key"),
        Index("ix_draft_requests_status_created", "status", "created_at"),
        Index("ix_draft_requests_job_position", "job_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("jobs.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    draft_id: Mapped[str | None] = mapped_column(String(32))
    # The problem details of a failed request, as the API returns them.
    error: Mapped[dict | None] = mapped_column(JSON)
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))


class ProcessedEventRecord(Base):
    """A CRM webhook event already applied, so that a redelivery changes nothing."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryRecord(Base):
    """The latest carrier event for an order, as reported by the CRM.

    NOTE: ContextStore.load still estimates delivery from the brand's policy and does not
    read this table yet.
    """

    __tablename__ = "deliveries"

    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    carrier: Mapped[str | None] = mapped_column(String(64))
