"""The draft store: every draft with its status, findings, sources and model usage."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from agent.context.db import Base
from agent.context.tables import UTCDateTime
from agent.domain import Attempt, Draft, DraftStatus, Finding, Source

log = logging.getLogger(__name__)


class DraftNotFound(LookupError):
    def __init__(self, draft_id: str) -> None:
        super().__init__(
            f"draft `{draft_id}` not found; list stored drafts with `aftercare drafts list`"
        )
        self.draft_id = draft_id


class DraftRow(Base):
    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    brand: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict] = mapped_column(JSON)
    fallback_fields: Mapped[list] = mapped_column(JSON)
    findings: Mapped[list] = mapped_column(JSON)
    sources: Mapped[list] = mapped_column(JSON)
    model: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer)
    attempt_log: Mapped[list] = mapped_column(JSON, default=list)
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)


def _to_row(draft: Draft) -> DraftRow:
    data = draft.model_dump(mode="json")
    data["created_at"] = draft.created_at
    data["send_after"] = draft.send_after
    return DraftRow(**data)


def _to_draft(row: DraftRow) -> Draft:
    return Draft(
        id=row.id,
        created_at=row.created_at,
        customer_id=row.customer_id,
        brand=row.brand,
        kind=row.kind,
        channel=row.channel,
        status=DraftStatus(row.status),
        subject=row.subject,
        text=row.text,
        html=row.html,
        fields=row.fields,
        fallback_fields=row.fallback_fields,
        findings=[Finding.model_validate(f) for f in row.findings],
        sources=[Source.model_validate(s) for s in row.sources],
        model=row.model,
        attempts=row.attempts,
        attempt_log=[Attempt.model_validate(a) for a in row.attempt_log or []],
        send_after=row.send_after,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        latency_ms=row.latency_ms,
    )


class DraftStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, draft: Draft) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(_to_row(draft))
        log.info("stored draft %s status=%s kind=%s", draft.id, draft.status, draft.kind)

    def get(self, draft_id: str) -> Draft:
        with Session(self.engine) as session:
            row = session.get(DraftRow, draft_id)
            if row is None:
                raise DraftNotFound(draft_id)
            return _to_draft(row)

    def list(self, *, status: DraftStatus | None = None, limit: int = 50) -> list[Draft]:
        query = select(DraftRow).order_by(DraftRow.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(DraftRow.status == status.value)
        with Session(self.engine) as session:
            return [_to_draft(row) for row in session.scalars(query)]
