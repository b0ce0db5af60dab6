"""Stored eval runs: two tables in the application database, one row per run and per case.

A run row is written when the run starts and updated when it ends. Each case result is
committed as soon as it is scored, so an interrupted run keeps the cases it finished. Such a
run is marked `interrupted`, or stays `running` if the process was killed.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    cast,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from agent.context.db import Base
from agent.context.tables import UTCDateTime
from agent.evals.results import CaseResult, RunRecord, RunStatus

log = logging.getLogger(__name__)

LATEST = "latest"


class RunNotFound(LookupError):
    def __init__(self, reference: str) -> None:
        if reference == LATEST:
            message = (
                "no completed eval run of the same golden set, tags and limit is stored yet; "
                "run `aftercare eval run` first"
            )
        else:
            message = (
                f"eval run `{reference}` not found; list stored runs with `aftercare eval list`"
            )
        super().__init__(message)
        self.reference = reference


class EvalRunRow(Base):
    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    golden_path: Mapped[str] = mapped_column(Text)
    golden_hash: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list] = mapped_column(JSON, default=list)
    case_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    versions: Mapped[dict] = mapped_column(JSON, default=dict)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class EvalCaseRow(Base):
    __tablename__ = "eval_case_results"
    __table_args__ = (UniqueConstraint("run_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    passed: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict] = mapped_column(JSON)


@dataclass(frozen=True)
class Selection:
    """The cases a run drafted: its golden path and its tag and limit filters."""

    golden_path: str
    tags: tuple[str, ...] = ()
    limit: int | None = None

    @classmethod
    def of(cls, run: RunRecord) -> Selection:
        return cls(run.golden_path, tuple(sorted(run.tags)), run.limit)


def new_run_id(now: datetime | None = None) -> str:
    """Return a run id that sorts by start time, such as `20111209-120000-3f9a`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class EvalStore:
    """Eval runs and their case results in the application database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[EvalRunRow.__table__, EvalCaseRow.__table__])

    def start(self, run: RunRecord) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                EvalRunRow(
                    id=run.id,
                    started_at=run.started_at,
                    status=run.status.value,
                    golden_path=run.golden_path,
                    golden_hash=run.golden_hash,
                    tags=run.tags,
                    case_limit=run.limit,
                    versions=run.versions,
                    settings=run.settings,
                )
            )

    def add_case(self, run_id: str, position: int, result: CaseResult) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                EvalCaseRow(
                    run_id=run_id,
                    position=position,
                    case_id=result.case_id,
                    kind=result.kind,
                    channel=result.channel,
                    outcome=result.outcome.value,
                    passed=result.passed,
                    result=result.model_dump(mode="json"),
                )
            )

    def finish(self, run_id: str, status: RunStatus, *, error: str | None = None) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(EvalRunRow, run_id)
            if row is None:
                raise RunNotFound(run_id)
            row.status = status.value
            row.finished_at = datetime.now(UTC)
            row.error = error
        log.info("eval run %s ended as %s", run_id, status.value)

    def get(
        self,
        reference: str,
        *,
        exclude: str | None = None,
        selection: Selection | None = None,
    ) -> RunRecord:
        """Return a run with its cases, by id or as `latest`.

        `latest` is the newest completed run, of the same `selection` when one is given, so
        that a quick run of a few tagged cases never becomes the nightly run's baseline.
        `exclude` leaves one run id out of `latest`, so that a run can name its own baseline.
        """
        with Session(self.engine) as session:
            row = self._row(session, reference, exclude, selection)
            cases = session.scalars(
                select(EvalCaseRow)
                .where(EvalCaseRow.run_id == row.id)
                .order_by(EvalCaseRow.position)
            ).all()
            record = _to_record(row)
            record.cases = [CaseResult.model_validate(case.result) for case in cases]
            return record

    def list(self, *, limit: int = 20) -> list[tuple[RunRecord, int, int]]:
        """Return the newest runs without their cases, each with its case and pass counts."""
        with Session(self.engine) as session:
            counts = (
                select(
                    EvalCaseRow.run_id,
                    func.count().label("cases"),
                    # A sum typed as Boolean would come back as True, not as a count.
                    func.sum(cast(EvalCaseRow.passed, Integer)).label("passed"),
                )
                .group_by(EvalCaseRow.run_id)
                .subquery()
            )
            rows = session.execute(
                select(EvalRunRow, counts.c.cases, counts.c.passed)
                .outerjoin(counts, counts.c.run_id == EvalRunRow.id)
                .order_by(EvalRunRow.started_at.desc(), EvalRunRow.id.desc())
                .limit(limit)
            ).all()
            return [
                (_to_record(row), int(cases or 0), int(passed or 0)) for row, cases, passed in rows
            ]

    @staticmethod
    def _row(
        session: Session, reference: str, exclude: str | None, selection: Selection | None
    ) -> EvalRunRow:
        if reference != LATEST:
            row = session.get(EvalRunRow, reference)
            if row is None:
                raise RunNotFound(reference)
            return row
        query = (
            select(EvalRunRow)
            .where(EvalRunRow.status == RunStatus.COMPLETED.value)
            .order_by(EvalRunRow.started_at.desc(), EvalRunRow.id.desc())
        )
        if exclude is not None:
            query = query.where(EvalRunRow.id != exclude)
        for row in session.scalars(query):
            if selection is None or selection == Selection.of(_to_record(row)):
                return row
        raise RunNotFound(LATEST)


def _to_record(row: EvalRunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=RunStatus(row.status),
        golden_path=row.golden_path,
        golden_hash=row.golden_hash,
        tags=row.tags or [],
        limit=row.case_limit,
        versions=row.versions or {},
        settings=row.settings or {},
        error=row.error,
    )
