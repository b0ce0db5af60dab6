"""The audit trail: who did what to a draft, when, and its state before and after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent.context.db import Base
from agent.context.tables import UTCDateTime
from agent.domain import Draft


class ReviewAction(StrEnum):
    EDIT = "edit"
    APPROVE = "approve"
    REJECT = "reject"
    # An approval that overrides blocking findings; its reason is the override.
    OVERRIDE = "override"
    REGENERATE = "regenerate"


# Actions after which a draft counts as approved.
APPROVING_ACTIONS = (ReviewAction.APPROVE, ReviewAction.OVERRIDE)


class ReviewEventRow(Base):
    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(String(32), ForeignKey("drafts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewer: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    # The version the action created or acted on.
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)


class DraftState(BaseModel):
    """The parts of a draft an action can change."""

    model_config = ConfigDict(extra="forbid")

    status: str
    version: int
    subject: str | None = None
    fields: dict[str, str]


class ReviewEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    draft_id: str
    at: datetime
    reviewer: str
    action: ReviewAction
    version: int
    reason: str | None = None
    before: DraftState
    after: DraftState

    def changed_fields(self) -> list[str]:
        names = sorted(set(self.before.fields) | set(self.after.fields))
        return [n for n in names if self.before.fields.get(n) != self.after.fields.get(n)]


def state_of(draft: Draft, version: int) -> DraftState:
    return DraftState(
        status=draft.status.value, version=version, subject=draft.subject, fields=draft.fields
    )


def event_row(
    draft_id: str,
    *,
    at: datetime,
    reviewer: str,
    action: ReviewAction,
    before: DraftState,
    after: DraftState,
    reason: str | None = None,
) -> ReviewEventRow:
    return ReviewEventRow(
        draft_id=draft_id,
        at=at,
        reviewer=reviewer,
        action=action.value,
        version=after.version,
        reason=reason,
        before=before.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
    )


def to_event(row: ReviewEventRow) -> ReviewEvent:
    return ReviewEvent(
        draft_id=row.draft_id,
        at=row.at,
        reviewer=row.reviewer,
        action=ReviewAction(row.action),
        version=row.version,
        reason=row.reason,
        before=DraftState.model_validate(row.before),
        after=DraftState.model_validate(row.after),
    )
