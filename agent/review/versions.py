"""Draft versions: the model's original and every later edit or regeneration, kept whole."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.context.db import Base
from agent.context.tables import UTCDateTime
from agent.domain import Draft, DraftStatus

# The author recorded on versions the drafting pipeline wrote.
MODEL_AUTHOR = "model"


class VersionOrigin(StrEnum):
    DRAFTED = "drafted"
    EDIT = "edit"
    REGENERATE = "regenerate"


class DraftVersionRow(Base):
    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(String(32), ForeignKey("drafts.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(128))
    origin: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    # The moment the customer's context was read for this version, when known.
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The whole draft as it was at this version, as `Draft.model_dump(mode="json")`.
    content: Mapped[dict] = mapped_column(JSON)


class DraftVersion(BaseModel):
    """One stored version of a draft; `draft` is the message as it was at that version."""

    model_config = ConfigDict(extra="forbid")

    number: int
    created_at: datetime
    author: str
    origin: VersionOrigin
    note: str | None = None
    status: DraftStatus
    as_of: datetime | None = None
    draft: Draft


def version_row(
    draft: Draft,
    *,
    number: int,
    created_at: datetime,
    author: str,
    origin: VersionOrigin,
    note: str | None = None,
    as_of: datetime | None = None,
) -> DraftVersionRow:
    return DraftVersionRow(
        draft_id=draft.id,
        number=number,
        created_at=created_at,
        author=author,
        origin=origin.value,
        note=note,
        status=draft.status.value,
        as_of=as_of,
        content=draft.model_dump(mode="json"),
    )


def to_version(row: DraftVersionRow) -> DraftVersion:
    return DraftVersion(
        number=row.number,
        created_at=row.created_at,
        author=row.author,
        origin=VersionOrigin(row.origin),
        note=row.note,
        status=DraftStatus(row.status),
        as_of=row.as_of,
        draft=Draft.model_validate(row.content),
    )
