"""Fixtures for the signals tests: the shipped extract imported, with signals refreshed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.context.store import ContextStore
from agent.demo import EXTRACT_PATH
from agent.signals.refresh import RefreshReport, refresh_signals
from tests.signals.factories import brand


@dataclass
class ExtractDatabase:
    """A SQLite file with the shipped extract imported and signals refreshed as of `as_of`."""

    path: Path
    as_of: datetime
    refresh: RefreshReport

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def engine(self) -> Engine:
        return make_engine(self.url)


@pytest.fixture(scope="session")
def extract_db(tmp_path_factory: pytest.TempPathFactory) -> ExtractDatabase:
    """Read-only for tests; copy it with `extract_copy` to change it."""
    path = tmp_path_factory.mktemp("signals") / "extract.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    import_online_retail(EXTRACT_PATH, engine)
    contexts = ContextStore(engine)
    latest = contexts.latest_order_time()
    assert latest is not None
    as_of = latest + timedelta(hours=1)
    report = refresh_signals(engine, brand(), as_of, contexts=contexts)
    engine.dispose()  # checkpoints the WAL, so the file alone contains every row
    return ExtractDatabase(path, as_of, report)


@pytest.fixture
def extract_copy(extract_db: ExtractDatabase, tmp_path: Path) -> ExtractDatabase:
    path = tmp_path / "extract.db"
    shutil.copyfile(extract_db.path, path)
    wal = extract_db.path.with_name(extract_db.path.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, path.with_name(path.name + "-wal"))
    return ExtractDatabase(path, extract_db.as_of, extract_db.refresh)
