"""Fixtures for the loyalty tests: temporary SQLite databases, the real programmes and files."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.config import PROJECT_ROOT
from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.demo import EXTRACT_PATH
from agent.domain import BrandProfile
from agent.knowledge.brand import load_brand
from agent.loyalty.program import ProgramFile, load_program

KB_DIR = PROJECT_ROOT / "kb"
BRAND = "hearth-and-holly"
# One hour after the last invoice of the Online Retail data (2011-12-09 12:50 UK time).
EXTRACT_AS_OF = datetime(2011, 12, 9, 13, 50, tzinfo=UTC)
LEDGER_COLUMNS = ("customer_id", "type", "points", "at", "reference", "tier")

LedgerWriter = Callable[..., Path]


@pytest.fixture
def brand() -> BrandProfile:
    return load_brand(KB_DIR, BRAND)


@pytest.fixture
def program_file(brand: BrandProfile) -> ProgramFile:
    return load_program(KB_DIR, BRAND, families={f.family_id for f in brand.families})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'loyalty.db'}")
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def extract_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the shipped Online Retail extract imported; copy it to change it."""
    path = tmp_path_factory.mktemp("loyalty") / "extract.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    import_online_retail(EXTRACT_PATH, engine)
    engine.dispose()  # checkpoints the WAL, so the file alone holds every row
    return path


@pytest.fixture
def extract_engine(extract_file: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "extract.db"
    shutil.copyfile(extract_file, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def entry(
    customer_id: str = "17850",
    type: str = "earned",
    points: int | str = 100,
    at: str = "2011-03-01T10:00:00+00:00",
    reference: str = "order:1",
    tier: str = "",
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "type": type,
        "points": points,
        "at": at,
        "reference": reference,
        "tier": tier,
    }


@pytest.fixture
def write_ledger(tmp_path: Path) -> LedgerWriter:
    """Write ledger rows as CSV, or as JSON Lines when the name ends in .jsonl."""
    counter = iter(range(1_000))

    def write(
        rows: Sequence[dict[str, Any]],
        *,
        name: str | None = None,
        columns: Sequence[str] = LEDGER_COLUMNS,
    ) -> Path:
        path = tmp_path / (name or f"ledger_{next(counter)}.csv")
        if path.suffix == ".jsonl":
            lines = [json.dumps({k: v for k, v in r.items() if v != ""}) for r in rows]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return path
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return path

    return write
