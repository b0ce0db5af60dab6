"""Import a points ledger from a CSV or JSON Lines file, plain or gzipped.

Each row is one entry with the fields customer_id, type (earned, redeemed, adjusted or
tier_change), points, at (ISO 8601 with a UTC offset), reference, and tier for a
tier_change. An entry is identified by (customer_id, type, reference): importing a file
again updates its entries instead of adding them twice. The whole file is validated
before anything is written, and it is written in one transaction, so an invalid file or
an interrupted import leaves the stored ledger as it was.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection, Engine, select

from agent.loyalty.ledger import (
    drop_derived,
    ensure_customers,
    entries_table,
    record_run,
    store_program,
    upsert,
)
from agent.loyalty.models import LedgerEntry, LedgerEntryType, LedgerSource, LoyaltyProgram
from agent.loyalty.program import ProgramFile

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("customer_id", "type", "points", "at", "reference")
OPTIONAL_COLUMNS = ("tier",)
MAX_LISTED_PROBLEMS = 20
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


class LedgerFileError(ValueError):
    """The ledger file cannot be read or has invalid rows; nothing was imported."""

    def __init__(self, path: Path, problems: list[str], total: int | None = None) -> None:
        self.path = path
        self.problems = problems
        total = total if total is not None else len(problems)
        listed = "; ".join(problems[:MAX_LISTED_PROBLEMS])
        more = f" (and {total - MAX_LISTED_PROBLEMS} more)" if total > MAX_LISTED_PROBLEMS else ""
        super().__init__(
            f"ledger file {str(path)!r} was not imported: {listed}{more}. Fix the file and "
            "import it again; the stored ledger is unchanged"
        )


class LedgerImportReport(BaseModel):
    path: str
    brand: str
    entries: int = Field(description="Entries in the file.")
    new: int = Field(description="Entries stored for the first time.")
    updated: int = Field(description="Stored entries whose points, time or tier changed.")
    unchanged: int = Field(description="Entries stored before exactly as in the file.")
    customers: int
    customers_created: int = Field(description="Customers not in the context store before.")
    derived_entries_removed: int = Field(
        description="Derived entries of these customers replaced by the real ledger."
    )
    seconds: float


@dataclass(frozen=True)
class _Row:
    line: int
    entry: LedgerEntry

    @property
    def key(self) -> str:
        return f"{self.entry.type.value}:{self.entry.reference}"


# --- reading -------------------------------------------------------------------------------


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115


def _is_jsonl(path: Path) -> bool:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in _JSONL_SUFFIXES


def _csv_records(handle: io.TextIOBase, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(handle)
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    unknown = [name for name in columns if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing columns {missing}")
        if unknown:
            problems.append(f"unknown columns {unknown}")
        expected = ", ".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
        problems.append(f"the header must name the columns {expected} (tier is optional)")
        raise LedgerFileError(path, problems)
    reader.fieldnames = columns
    for record in reader:
        values = {key: (value or "").strip() for key, value in record.items() if key is not None}
        if None in record:
            values["__extra__"] = record[None]
        if not values.get("points"):
            values["points"] = "0"
        if not values.get("tier"):
            values.pop("tier", None)
        yield reader.line_num, values


def _jsonl_records(handle: io.TextIOBase) -> Iterator[tuple[int, Any]]:
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as error:
            yield number, error


def _describe(error: ValidationError) -> str:
    parts = []
    for detail in error.errors(include_url=False):
        field = ".".join(str(part) for part in detail["loc"])
        value = detail.get("input")
        where = f"field `{field}` " if field else ""
        shown = f"value {value!r}: " if field and not isinstance(value, dict) else ""
        parts.append(f"{where}{shown}{detail['msg']}")
    return ", ".join(parts)


def read_ledger_file(path: Path, program: LoyaltyProgram) -> list[_Row]:
    """Read and validate every entry; raise LedgerFileError listing each invalid row."""
    if not path.is_file():
        raise LedgerFileError(path, ["the file does not exist"])
    tiers = {tier.tier_id for tier in program.tiers}
    rows: list[_Row] = []
    problems: list[str] = []
    first_line: dict[tuple[str, str], int] = {}
    with _open_text(path) as handle:
        records = _jsonl_records(handle) if _is_jsonl(path) else _csv_records(handle, path)
        try:
            for line, record in records:
                checked = _validate(line, record, tiers)
                if isinstance(checked, str):
                    problems.append(checked)
                    continue
                earlier = first_line.setdefault((checked.entry.customer_id, checked.key), line)
                if earlier != line:
                    problems.append(_repeat_problem(checked, earlier))
                    continue
                rows.append(checked)
        except (UnicodeDecodeError, csv.Error, OSError) as error:
            raise LedgerFileError(path, [f"the file cannot be read: {error}"]) from error
    if problems:
        raise LedgerFileError(path, problems)
    return rows


def _repeat_problem(row: _Row, earlier: int) -> str:
    entry = row.entry
    return (
        f"line {row.line}: entry ({entry.customer_id}, {entry.type.value}, {entry.reference}) "
        f"repeats line {earlier}; give each entry its own reference"
    )


def _validate(line: int, record: Any, tiers: set[str]) -> _Row | str:
    """Return the validated row, or a message naming the line, field and value at fault."""
    if isinstance(record, Exception):
        return f"line {line}: invalid JSON: {record}"
    if not isinstance(record, dict):
        return f"line {line}: expected a JSON object, got {record!r}"
    if "__extra__" in record:
        return f"line {line}: more values than columns: {record['__extra__']!r}"
    try:
        entry = LedgerEntry.model_validate(record)
    except ValidationError as error:
        return f"line {line}: {_describe(error)}"
    if entry.type is LedgerEntryType.TIER_CHANGE and entry.tier not in tiers:
        known = ", ".join(sorted(tiers))
        return f"line {line}: field `tier` value {entry.tier!r} is not a tier; use one of: {known}"
    return _Row(line, entry)


# --- writing -------------------------------------------------------------------------------


def _stored_entries(
    conn: Connection, brand: str, customer_ids: list[str]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    table = entries_table()
    stored: dict[tuple[str, str], tuple[Any, ...]] = {}
    for start in range(0, len(customer_ids), 5_000):
        statement = select(
            table.c.customer_id, table.c.entry_key, table.c.points, table.c.at, table.c.tier
        ).where(
            table.c.brand == brand, table.c.customer_id.in_(customer_ids[start : start + 5_000])
        )
        for customer_id, key, points, at, tier in conn.execute(statement):
            stored[(customer_id, key)] = (points, at, tier)
    return stored


def import_ledger(
    path: Path, engine: Engine, *, brand: str, program_file: ProgramFile
) -> LedgerImportReport:
    """Validate the file, then store its entries and the programme in one transaction.

    Raises LedgerFileError, naming each invalid row, before anything is written.
    """
    path = Path(path)
    started = time.perf_counter()
    rows = read_ledger_file(path, program_file.program)
    customer_ids = sorted({row.entry.customer_id for row in rows})
    new = updated = 0
    with engine.begin() as conn:
        store_program(conn, brand, program_file)
        created = ensure_customers(conn, customer_ids)
        removed = drop_derived(conn, brand, customer_ids)
        stored = _stored_entries(conn, brand, customer_ids)
        values = []
        for row in rows:
            entry = row.entry
            before = stored.get((entry.customer_id, row.key))
            if before is None:
                new += 1
            elif before != (entry.points, entry.at, entry.tier):
                updated += 1
            values.append(_values(brand, row))
        _write_entries(conn, values)
        counts = {"entries": len(rows), "new": new, "updated": updated}
        record_run(
            conn, brand=brand, kind="import", source=str(path), counts=counts, sha256=_sha256(path)
        )

    report = LedgerImportReport(
        path=str(path),
        brand=brand,
        entries=len(rows),
        new=new,
        updated=updated,
        unchanged=len(rows) - new - updated,
        customers=len(customer_ids),
        customers_created=created,
        derived_entries_removed=removed,
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info(
        "imported loyalty ledger %s for %s: %d entries (%d new, %d updated)",
        path,
        brand,
        report.entries,
        report.new,
        report.updated,
    )
    return report


def _values(brand: str, row: _Row) -> dict[str, Any]:
    entry = row.entry
    return {
        "brand": brand,
        "customer_id": entry.customer_id,
        "entry_key": row.key,
        "source": LedgerSource.IMPORTED.value,
        "type": entry.type.value,
        "points": entry.points,
        "at": entry.at,
        "reference": entry.reference,
        "tier": entry.tier,
    }


def _write_entries(conn: Connection, values: list[dict[str, Any]]) -> None:
    if not values:
        return
    statement = upsert(conn, entries_table())
    changed = ("source", "type", "points", "at", "reference", "tier")
    statement = statement.on_conflict_do_update(
        index_elements=["brand", "customer_id", "entry_key"],
        set_={name: statement.excluded[name] for name in changed},
    )
    conn.execute(statement, values)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
