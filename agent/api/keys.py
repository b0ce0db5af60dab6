"""API keys: create, list, revoke and verify bearer tokens stored as SHA-256 digests.

A token reads `aftercare_<key id>.<secret>`. The key id is public and names the key in
logs and listings. Only the SHA-256 digest of the secret is stored, so a token is shown
once, when it is created, and cannot be recovered afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from agent.api.tables import ApiKeyRecord

log = logging.getLogger(__name__)

TOKEN_PREFIX = "aftercare_"
MAX_NAME_LENGTH = 100
# Compared against when the key id is unknown, so that a miss takes as long as a mismatch.
_UNKNOWN_KEY_DIGEST = hashlib.sha256(b"no such key").hexdigest()


class ApiKeyNotFound(LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key `{key_id}` not found; list keys with `aftercare apikey list`")
        self.key_id = key_id


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _to_key(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(record.key_id, record.name, record.created_at, record.revoked_at)


def create_api_key(engine: Engine, name: str) -> tuple[ApiKey, str]:
    """Store a new key named `name` and return it with its token, which is not stored."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"API key name must have 1 to {MAX_NAME_LENGTH} characters, got {len(name)}"
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        key_id=key_id, name=name, secret_sha256=_digest(secret), created_at=datetime.now(UTC)
    )
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(record)
    log.info("created API key %s", key_id)
    return _to_key(record), f"{TOKEN_PREFIX}{key_id}.{secret}"


def list_api_keys(engine: Engine) -> list[ApiKey]:
    """Return every key, revoked ones included, oldest first."""
    with Session(engine) as session:
        records = session.scalars(select(ApiKeyRecord).order_by(ApiKeyRecord.created_at))
        return [_to_key(record) for record in records]


def revoke_api_key(engine: Engine, key_id: str) -> ApiKey:
    """Revoke a key from now on; revoking a revoked key keeps its first revocation time."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        record = session.get(ApiKeyRecord, key_id)
        if record is None:
            raise ApiKeyNotFound(key_id)
        if record.revoked_at is None:
            record.revoked_at = datetime.now(UTC)
            log.info("revoked API key %s", key_id)
        return _to_key(record)


def parse_token(token: str) -> tuple[str, str] | None:
    """Split a token into key id and secret, or return None when it is malformed."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    key_id, dot, secret = token.removeprefix(TOKEN_PREFIX).partition(".")
    if not dot or not key_id or not secret:
        return None
    return key_id, secret


def verify_api_key(engine: Engine, token: str) -> ApiKey | None:
    """Return the active key that `token` belongs to, or None when it matches none."""
    parts = parse_token(token)
    if parts is None:
        return None
    key_id, secret = parts
    with Session(engine) as session:
        record = session.get(ApiKeyRecord, key_id)
    stored = record.secret_sha256 if record is not None else _UNKNOWN_KEY_DIGEST
    matches = hmac.compare_digest(stored, _digest(secret))
    if record is None or not matches or record.revoked_at is not None:
        return None
    return _to_key(record)
