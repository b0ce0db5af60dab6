"""Persisted draft requests and batch jobs, with their idempotency keys.

A request is stored as queued before any drafting starts, so a crash cannot lose it.
An idempotency key is scoped to the API key that sent it. A repeat with the same key and
the same body returns the stored request, while a different body raises IdempotencyMismatch.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.api.tables import DraftRequestRecord, JobRecord
from agent.domain import DraftRequest


class RequestStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


UNFINISHED = (RequestStatus.QUEUED.value, RequestStatus.RUNNING.value)


class RequestNotFound(LookupError):
    def __init__(self, kind: str, request_id: str) -> None:
        super().__init__(f"{kind} `{request_id}` not found")
        self.request_id = request_id


class IdempotencyMismatch(Exception):
    """An idempotency key was used before with a different request body."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request body; "
            "send a new key for a new request"
        )
        self.key = key


@dataclass(frozen=True)
class StoredRequest:
    id: str
    status: RequestStatus
    created_at: datetime
    updated_at: datetime
    job_id: str | None
    position: int
    payload: dict[str, Any]
    attempts: int
    draft_id: str | None
    error: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.status in (RequestStatus.DONE, RequestStatus.FAILED)


@dataclass(frozen=True)
class StoredJob:
    id: str
    created_at: datetime
    items: list[StoredRequest]


def payload_of(request: DraftRequest) -> dict[str, Any]:
    return request.model_dump(mode="json")


def digest_of(payload: Any) -> str:
    """Hash a JSON-compatible value, so that equal bodies hash equal whatever their key order."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _to_stored(record: DraftRequestRecord) -> StoredRequest:
    return StoredRequest(
        id=record.id,
        status=RequestStatus(record.status),
        created_at=record.created_at,
        updated_at=record.updated_at,
        job_id=record.job_id,
        position=record.position,
        payload=record.payload,
        attempts=record.attempts,
        draft_id=record.draft_id,
        error=record.error,
    )


def _new_record(
    payload: dict[str, Any], *, job_id: str | None = None, position: int = 0, **keys: Any
) -> DraftRequestRecord:
    now = _now()
    return DraftRequestRecord(
        id=secrets.token_hex(8),
        created_at=now,
        updated_at=now,
        status=RequestStatus.QUEUED.value,
        job_id=job_id,
        position=position,
        payload=payload,
        attempts=0,
        request_sha256=digest_of(payload),
        **keys,
    )


class RequestStore:
    """Draft requests and jobs in the `draft_requests` and `jobs` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- creating -----------------------------------------------------------------------

    def create(
        self, request: DraftRequest, *, api_key_id: str | None, idempotency_key: str | None
    ) -> tuple[StoredRequest, bool]:
        """Store a queued request; return it and whether it is new.

        With an idempotency key already used for the same body, the stored request is
        returned instead. Raises IdempotencyMismatch when the body differs.
        """
        payload = payload_of(request)
        if idempotency_key is not None:
            existing = self._existing_request(api_key_id, idempotency_key, digest_of(payload))
            if existing is not None:
                return existing, False
        record = _new_record(payload, api_key_id=api_key_id, idempotency_key=idempotency_key)
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                session.add(record)
        except IntegrityError:
            # Another request with the same key was stored first.
            assert idempotency_key is not None
            existing = self._existing_request(api_key_id, idempotency_key, digest_of(payload))
            if existing is None:
                raise
            return existing, False
        return _to_stored(record), True

    def _existing_request(
        self, api_key_id: str | None, key: str, digest: str
    ) -> StoredRequest | None:
        query = select(DraftRequestRecord).where(
            DraftRequestRecord.api_key_id == api_key_id,
            DraftRequestRecord.idempotency_key == key,
        )
        with Session(self.engine) as session:
            record = session.scalars(query).first()
        if record is None:
            return None
        if record.request_sha256 != digest:
            raise IdempotencyMismatch(key)
        return _to_stored(record)

    def create_job(
        self,
        requests: list[DraftRequest],
        *,
        api_key_id: str | None,
        idempotency_key: str | None,
    ) -> tuple[StoredJob, bool]:
        """Store a job and its queued requests in one transaction; return it and whether it
        is new. Idempotency keys work as in `create`."""
        payloads = [payload_of(r) for r in requests]
        digest = digest_of(payloads)
        if idempotency_key is not None:
            existing = self._existing_job(api_key_id, idempotency_key, digest)
            if existing is not None:
                return existing, False
        job = JobRecord(
            id=secrets.token_hex(8),
            created_at=_now(),
            size=len(payloads),
            api_key_id=api_key_id,
            idempotency_key=idempotency_key,
            request_sha256=digest,
        )
        records = [
            _new_record(payload, job_id=job.id, position=index, api_key_id=api_key_id)
            for index, payload in enumerate(payloads)
        ]
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                session.add(job)
                session.flush()
                session.add_all(records)
        except IntegrityError:
            assert idempotency_key is not None
            existing = self._existing_job(api_key_id, idempotency_key, digest)
            if existing is None:
                raise
            return existing, False
        return StoredJob(job.id, job.created_at, [_to_stored(r) for r in records]), True

    def _existing_job(self, api_key_id: str | None, key: str, digest: str) -> StoredJob | None:
        query = select(JobRecord).where(
            JobRecord.api_key_id == api_key_id, JobRecord.idempotency_key == key
        )
        with Session(self.engine) as session:
            job = session.scalars(query).first()
        if job is None:
            return None
        if job.request_sha256 != digest:
            raise IdempotencyMismatch(key)
        return self.job(job.id)

    def discard(self, request_ids: list[str], job_id: str | None = None) -> None:
        """Delete requests (and their job) that were stored but could not be queued."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            if job_id is not None:
                job = session.get(JobRecord, job_id)
                if job is not None:
                    session.delete(job)
            for request_id in request_ids:
                record = session.get(DraftRequestRecord, request_id)
                if record is not None:
                    session.delete(record)

    # --- reading ------------------------------------------------------------------------

    def get(self, request_id: str) -> StoredRequest:
        with Session(self.engine) as session:
            record = session.get(DraftRequestRecord, request_id)
            if record is None:
                raise RequestNotFound("draft request", request_id)
            return _to_stored(record)

    def job(self, job_id: str) -> StoredJob:
        with Session(self.engine) as session:
            job = session.get(JobRecord, job_id)
            if job is None:
                raise RequestNotFound("job", job_id)
            records = session.scalars(
                select(DraftRequestRecord)
                .where(DraftRequestRecord.job_id == job_id)
                .order_by(DraftRequestRecord.position)
            )
            return StoredJob(job.id, job.created_at, [_to_stored(r) for r in records])

    def unfinished(self) -> list[StoredRequest]:
        """Return queued and running requests, oldest first."""
        query = (
            select(DraftRequestRecord)
            .where(DraftRequestRecord.status.in_(UNFINISHED))
            .order_by(DraftRequestRecord.created_at, DraftRequestRecord.position)
        )
        with Session(self.engine) as session:
            return [_to_stored(record) for record in session.scalars(query)]

    # --- state changes ------------------------------------------------------------------

    def start(self, request_id: str) -> StoredRequest | None:
        """Mark a queued request running and count the attempt; None if it is not queued."""
        statement = (
            update(DraftRequestRecord)
            .where(
                DraftRequestRecord.id == request_id,
                DraftRequestRecord.status == RequestStatus.QUEUED.value,
            )
            .values(
                status=RequestStatus.RUNNING.value,
                attempts=DraftRequestRecord.attempts + 1,
                updated_at=_now(),
            )
        )
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            if session.execute(statement).rowcount != 1:
                return None
        return self.get(request_id)

    def requeue(self, request_id: str) -> None:
        self._set(request_id, status=RequestStatus.QUEUED.value)

    def record_draft_id(self, request_id: str, draft_id: str) -> None:
        """Store the draft's id before the draft itself, so recovery can find a saved draft."""
        self._set(request_id, draft_id=draft_id)

    def finish(self, request_id: str) -> None:
        self._set(request_id, status=RequestStatus.DONE.value, error=None)

    def fail(self, request_id: str, problem: dict[str, Any], *, final: bool) -> None:
        """Mark a request failed with the problem details the API returns for it.

        A failure that is not `final` (a server-side problem, such as an unreadable
        knowledge base) frees the idempotency key, so a retry with it drafts again.
        """
        values: dict[str, Any] = {"status": RequestStatus.FAILED.value, "error": problem}
        if not final:
            values["idempotency_key"] = None
        self._set(request_id, **values)

    def _set(self, request_id: str, **values: Any) -> None:
        statement = (
            update(DraftRequestRecord)
            .where(DraftRequestRecord.id == request_id)
            .values(updated_at=_now(), **values)
        )
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.execute(statement)
