"""Database engine, session factory and the declarative base shared by every table."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

logger = logging.getLogger(__name__)

# Milliseconds a SQLite connection waits for another writer's lock before it raises
# "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5_000

# Stable constraint and index names, so that migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of the application."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str) -> Engine:
    """Create an engine for `url`, with WAL, foreign keys and a busy timeout for SQLite.

    For a SQLite file the parent folder is created. Other databases are used as given.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url)

    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    engine = create_engine(url)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL applies to database files only, so an in-memory database keeps "memory".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


# Modules whose import registers their tables on Base.metadata. init_db and the Alembic
# environment in migrations/env.py import every one, so a new table module belongs here.
TABLE_MODULES = (
    "agent.context.tables",
    "agent.review.store",
    "agent.signals.store",
    "agent.evals.store",
    "agent.api.tables",
    "agent.loyalty.tables",
)


def import_table_modules() -> MetaData:
    """Import every module in TABLE_MODULES and return the metadata they fill."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return Base.metadata


def init_db(engine: Engine) -> None:
    """Create every table registered on `Base` that does not exist yet."""
    import_table_modules()
    Base.metadata.create_all(engine)
    logger.debug("database schema ready on %s", engine.url.render_as_string(hide_password=True))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to `engine` whose objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
