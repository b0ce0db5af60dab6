"""The draft store: every draft with its status, findings, sources and model usage."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import JSON, Integer, String, Text, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from agent.context.db import Base
from agent.context.tables import UTCDateTime
from agent.domain import Attempt, Draft, DraftStatus, Finding, Source
from agent.review.audit import (
    APPROVING_ACTIONS,
    ReviewAction,
    ReviewEvent,
    ReviewEventRow,
    event_row,
    state_of,
    to_event,
)
from agent.review.versions import (
    MODEL_AUTHOR,
    DraftVersion,
    DraftVersionRow,
    VersionOrigin,
    to_version,
    version_row,
)

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


def _apply(row: DraftRow, draft: Draft) -> None:
    """Copy a new version's content onto the stored draft, keeping its id and creation time."""
    data = draft.model_dump(mode="json", exclude={"id", "created_at"})
    data["send_after"] = draft.send_after
    for name, value in data.items():
        setattr(row, name, value)


class DraftChanged(RuntimeError):
    """The draft changed between reading it and writing a new version or decision."""

    def __init__(self, draft_id: str, expected: int, found: int) -> None:
        super().__init__(
            f"draft `{draft_id}` changed while you worked on it: expected version {expected}, "
            f"found version {found}; run `aftercare review show {draft_id}` and try again"
        )
        self.draft_id = draft_id
        self.expected = expected
        self.found = found


class DraftStore:
    """Drafts, their versions and their audit trail.

    Every write that changes a draft stores the new version or decision and its audit event
    in the same transaction as the draft itself.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(
        self, draft: Draft, *, author: str = MODEL_AUTHOR, as_of: datetime | None = None
    ) -> None:
        """Store a new draft with its first version; `as_of` is the moment it was drafted for."""
        with Session(self.engine) as session, session.begin():
            session.add(_to_row(draft))
            session.flush()
            session.add(
                version_row(
                    draft,
                    number=1,
                    created_at=draft.created_at,
                    author=author,
                    origin=VersionOrigin.DRAFTED,
                    as_of=as_of,
                )
            )
        log.info("stored draft %s status=%s kind=%s", draft.id, draft.status, draft.kind)

    def get(self, draft_id: str) -> Draft:
        with Session(self.engine) as session:
            return _to_draft(self._row(session, draft_id))

    def list(
        self,
        *,
        status: DraftStatus | None = None,
        limit: int | None = 50,
        statuses: Sequence[DraftStatus] | None = None,
        kinds: Sequence[str] | None = None,
        brand: str | None = None,
        since: datetime | None = None,
        oldest_first: bool = False,
        until: datetime | None = None,
    ) -> list[Draft]:
        """List drafts newest first (oldest first with `oldest_first`), filtered as given.

        `status` and `statuses` combine: a draft matches when its status is in either.
        `since` is inclusive and `until` exclusive. A `limit` of None lists every match.
        """
        order = DraftRow.created_at.asc() if oldest_first else DraftRow.created_at.desc()
        query = select(DraftRow).order_by(order, DraftRow.id).limit(limit)
        wanted = [s.value for s in statuses or []] + ([status.value] if status else [])
        if wanted:
            query = query.where(DraftRow.status.in_(wanted))
        if kinds:
            query = query.where(DraftRow.kind.in_([str(k) for k in kinds]))
        if brand is not None:
            query = query.where(DraftRow.brand == brand)
        if since is not None:
            query = query.where(DraftRow.created_at >= since)
        if until is not None:
            query = query.where(DraftRow.created_at < until)
        with Session(self.engine) as session:
            return [_to_draft(row) for row in session.scalars(query)]

    # --- versions and audit trail -------------------------------------------------------

    def versions(self, draft_id: str) -> list[DraftVersion]:
        """Return every version of a draft, oldest first."""
        with Session(self.engine) as session:
            row = self._row(session, draft_id)
            rows = self._version_rows(session, draft_id)
            if not rows:
                # A draft stored before versions were recorded has only its current content.
                return [to_version(self._first_version(row))]
            return [to_version(r) for r in rows]

    def version(self, draft_id: str, number: int) -> DraftVersion:
        found = {v.number: v for v in self.versions(draft_id)}
        if number not in found:
            raise VersionNotFound(draft_id, number, sorted(found))
        return found[number]

    def history(self, draft_id: str) -> list[ReviewEvent]:
        """Return the audit events of a draft, oldest first."""
        query = (
            select(ReviewEventRow)
            .where(ReviewEventRow.draft_id == draft_id)
            .order_by(ReviewEventRow.at, ReviewEventRow.id)
        )
        with Session(self.engine) as session:
            self._row(session, draft_id)
            return [to_event(row) for row in session.scalars(query)]

    def approvals(self, draft_ids: Sequence[str]) -> dict[str, ReviewEvent]:
        """Return the latest approving event of each draft that has one."""
        actions = [a.value for a in APPROVING_ACTIONS]
        query = (
            select(ReviewEventRow)
            .where(ReviewEventRow.draft_id.in_(list(draft_ids)))
            .where(ReviewEventRow.action.in_(actions))
            .order_by(ReviewEventRow.at, ReviewEventRow.id)
        )
        with Session(self.engine) as session:
            return {row.draft_id: to_event(row) for row in session.scalars(query)}

    def current_version(self, draft_id: str) -> int:
        with Session(self.engine) as session:
            self._row(session, draft_id)
            return self._latest_number(session, draft_id) or 1

    def add_version(
        self,
        draft_id: str,
        new: Draft,
        *,
        author: str,
        action: ReviewAction,
        origin: VersionOrigin,
        expected_version: int,
        note: str | None = None,
        as_of: datetime | None = None,
    ) -> DraftVersion:
        """Store `new` as the next version and the draft's current content, with its event.

        Raises DraftChanged when the draft's latest version is not `expected_version`.
        """
        now = datetime.now(UTC)
        try:
            with Session(self.engine) as session, session.begin():
                row = self._row(session, draft_id, lock=True)
                current = self._ensure_first_version(session, row)
                if current != expected_version:
                    raise DraftChanged(draft_id, expected_version, current)
                before = state_of(_to_draft(row), current)
                content = new.model_copy(update={"id": row.id, "created_at": row.created_at})
                added = version_row(
                    content,
                    number=current + 1,
                    created_at=now,
                    author=author,
                    origin=origin,
                    note=note,
                    as_of=as_of,
                )
                session.add(added)
                _apply(row, content)
                after = state_of(content, current + 1)
                session.add(
                    event_row(
                        draft_id,
                        at=now,
                        reviewer=author,
                        action=action,
                        before=before,
                        after=after,
                        reason=note,
                    )
                )
                session.flush()
                version = to_version(added)
        except IntegrityError as error:
            # Another writer stored the same version number between this read and write.
            raise DraftChanged(draft_id, expected_version, expected_version + 1) from error
        log.info("stored version %s of draft %s action=%s", version.number, draft_id, action)
        return version

    def decide(
        self,
        draft_id: str,
        *,
        status: DraftStatus,
        reviewer: str,
        reason: str | None,
        action_for: Callable[[Draft], ReviewAction],
    ) -> Draft:
        """Set a draft's status and record the action `action_for(current)` returns.

        `action_for` raises to refuse the decision. It runs inside the transaction, so it
        gets the draft as it is when the decision is written.
        """
        with Session(self.engine) as session, session.begin():
            row = self._row(session, draft_id, lock=True)
            current = self._ensure_first_version(session, row)
            draft = _to_draft(row)
            action = action_for(draft)
            decided = draft.model_copy(update={"status": status})
            row.status = status.value
            session.add(
                event_row(
                    draft_id,
                    at=datetime.now(UTC),
                    reviewer=reviewer,
                    action=action,
                    before=state_of(draft, current),
                    after=state_of(decided, current),
                    reason=reason,
                )
            )
        log.info("draft %s %s", draft_id, action)
        return decided

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, draft_id: str, *, lock: bool = False) -> DraftRow:
        query = select(DraftRow).where(DraftRow.id == draft_id)
        if lock:
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None:
            raise DraftNotFound(draft_id)
        return row

    @staticmethod
    def _version_rows(session: Session, draft_id: str) -> list[DraftVersionRow]:
        query = (
            select(DraftVersionRow)
            .where(DraftVersionRow.draft_id == draft_id)
            .order_by(DraftVersionRow.number)
        )
        return list(session.scalars(query))

    @staticmethod
    def _latest_number(session: Session, draft_id: str) -> int | None:
        query = select(func.max(DraftVersionRow.number)).where(DraftVersionRow.draft_id == draft_id)
        return session.scalar(query)

    @staticmethod
    def _first_version(row: DraftRow) -> DraftVersionRow:
        return version_row(
            _to_draft(row),
            number=1,
            created_at=row.created_at,
            author=MODEL_AUTHOR,
            origin=VersionOrigin.DRAFTED,
        )

    def _ensure_first_version(self, session: Session, row: DraftRow) -> int:
        """Return the latest version number, storing version 1 for a draft that has none."""
        latest = self._latest_number(session, row.id)
        if latest is None:
            session.add(self._first_version(row))
            session.flush()
            return 1
        return latest


class VersionNotFound(LookupError):
    def __init__(self, draft_id: str, number: int, available: list[int]) -> None:
        listed = ", ".join(str(n) for n in available)
        super().__init__(f"draft `{draft_id}` has no version {number}; its versions are {listed}")
        self.draft_id = draft_id
        self.number = number
