"""`import_ledger`: CSV and JSON Lines files, idempotent re-imports, atomic failures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from agent.context.store import ContextStore
from agent.context.tables import CustomerRecord
from agent.domain import BrandProfile
from agent.loyalty.derive import derive_ledger
from agent.loyalty.importer import LedgerFileError, import_ledger
from agent.loyalty.program import ProgramFile
from agent.loyalty.tables import LoyaltyEntryRecord, LoyaltyRunRecord
from tests.loyalty.conftest import EXTRACT_AS_OF, LedgerWriter, entry

AS_OF = datetime(2011, 12, 9, 13, 0, tzinfo=UTC)


def _count(engine: Engine, record: type) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(record))


def _balance(engine: Engine, customer_id: str, brand: BrandProfile) -> int | None:
    context = ContextStore(engine).load(customer_id, as_of=AS_OF, brand=brand)
    return None if context.loyalty is None else context.loyalty.balance


ROWS = [
    entry("17850", "earned", 300, "2011-03-01T10:00:00+00:00", "order:536365"),
    entry("17850", "earned", 200, "2011-04-01T10:00:00+01:00", "order:536366"),
    entry("17850", "redeemed", 150, "2011-05-01T10:00:00Z", "reward:gift-wrap:1"),
    entry("13047", "earned", 40, "2011-06-01T09:00:00+00:00", "order:540001"),
    entry("13047", "tier_change", "", "2011-06-02T09:00:00+00:00", "crm:upgrade:7", "evergreen"),
]


@pytest.mark.parametrize("name", ["ledger.csv", "ledger.jsonl"])
def test_import_stores_entries(
    name: str,
    engine: Engine,
    write_ledger: LedgerWriter,
    program_file: ProgramFile,
    brand: BrandProfile,
) -> None:
    path = write_ledger(ROWS, name=name)

    report = import_ledger(path, engine, brand="hearth-and-holly", program_file=program_file)

    assert report.entries == 5
    assert report.new == 5
    assert report.customers == 2
    assert report.customers_created == 2
    assert _balance(engine, "17850", brand) == 350
    assert _balance(engine, "13047", brand) == 40
    context = ContextStore(engine).load("13047", as_of=AS_OF, brand=brand)
    assert context.loyalty is not None
    assert context.loyalty.tier == "evergreen"


def test_reimport_adds_nothing(
    engine: Engine, write_ledger: LedgerWriter, program_file: ProgramFile, brand: BrandProfile
) -> None:
    path = write_ledger(ROWS)
    import_ledger(path, engine, brand="hearth-and-holly", program_file=program_file)

    again = import_ledger(path, engine, brand="hearth-and-holly", program_file=program_file)

    assert again.new == 0
    assert again.updated == 0
    assert again.unchanged == 5
    assert _count(engine, LoyaltyEntryRecord) == 5
    assert _balance(engine, "17850", brand) == 350
    assert _count(engine, LoyaltyRunRecord) == 2


def test_reimport_updates_corrected_entry(
    engine: Engine, write_ledger: LedgerWriter, program_file: ProgramFile, brand: BrandProfile
) -> None:
    import_ledger(write_ledger(ROWS), engine, brand="hearth-and-holly", program_file=program_file)
    corrected = [dict(ROWS[0], points=320), *ROWS[1:]]

    report = import_ledger(
        write_ledger(corrected), engine, brand="hearth-and-holly", program_file=program_file
    )

    assert report.updated == 1
    assert report.new == 0
    assert _count(engine, LoyaltyEntryRecord) == 5
    assert _balance(engine, "17850", brand) == 370


def test_invalid_row_stores_nothing(
    engine: Engine, write_ledger: LedgerWriter, program_file: ProgramFile
) -> None:
    import_ledger(write_ledger(ROWS), engine, brand="hearth-and-holly", program_file=program_file)
    bad = [
        dict(ROWS[0], points=999),
        entry("17850", "earned", "lots", "2011-03-05T10:00:00+00:00", "order:9"),
        entry("17850", "earned", 10, "2011-03-05 10:00:00", "order:10"),
        entry("17850", "bonus", 10, "2011-03-05T10:00:00+00:00", "order:11"),
    ]
    path = write_ledger(bad)

    with pytest.raises(LedgerFileError) as caught:
        import_ledger(path, engine, brand="hearth-and-holly", program_file=program_file)

    message = str(caught.value)
    assert str(path) in message
    assert "line 3: field `points` value 'lots'" in message
    assert "line 4: field `at` value '2011-03-05 10:00:00'" in message
    assert "line 5: field `type` value 'bonus'" in message
    assert "stored ledger is unchanged" in message
    with engine.connect() as conn:
        points = conn.scalar(
            select(LoyaltyEntryRecord.points).where(LoyaltyEntryRecord.reference == "order:536365")
        )
    assert points == 300
    assert _count(engine, LoyaltyEntryRecord) == 5


def test_repeated_entry_in_file_is_rejected(
    engine: Engine, write_ledger: LedgerWriter, program_file: ProgramFile
) -> None:
    path = write_ledger([ROWS[0], dict(ROWS[0], points=50)])

    with pytest.raises(LedgerFileError, match="line 3: entry .* repeats line 2"):
        import_ledger(path, engine, brand="hearth-and-holly", program_file=program_file)

    assert _count(engine, LoyaltyEntryRecord) == 0


def test_unknown_tier_is_rejected(
    engine: Engine, write_ledger: LedgerWriter, program_file: ProgramFile
) -> None:
    path = write_ledger([dict(ROWS[4], tier="platinum")])

    with pytest.raises(LedgerFileError, match="field `tier` value 'platinum' is not a tier"):
        import_ledger(path, engine, brand="hearth-and-holly", program_file=program_file)


def test_wrong_columns_are_rejected(
    engine: Engine, write_ledger: LedgerWriter, program_file: ProgramFile
) -> None:
    columns = ("customer_id", "type", "pionts", "at", "reference")
    path = write_ledger([dict(ROWS[0], pionts=5)], columns=columns)

    with pytest.raises(LedgerFileError) as caught:
        import_ledger(path, engine, brand="hearth-and-holly", program_file=program_file)

    assert "missing columns ['points']" in str(caught.value)
    assert "unknown columns ['pionts']" in str(caught.value)


def test_missing_file_is_rejected(
    engine: Engine, tmp_path: Path, program_file: ProgramFile
) -> None:
    with pytest.raises(LedgerFileError, match="does not exist"):
        import_ledger(
            tmp_path / "absent.csv", engine, brand="hearth-and-holly", program_file=program_file
        )


def test_import_replaces_derived_entries_of_its_customers(
    extract_engine: Engine,
    write_ledger: LedgerWriter,
    program_file: ProgramFile,
    brand: BrandProfile,
) -> None:
    derive_ledger(
        extract_engine, brand="hearth-and-holly", program_file=program_file, as_of=EXTRACT_AS_OF
    )
    customer = "12680"
    derived = ContextStore(extract_engine).load(customer, as_of=EXTRACT_AS_OF, brand=brand)
    assert derived.loyalty is not None
    assert derived.loyalty.derived is True
    path = write_ledger([entry(customer, "earned", 42, "2011-06-01T10:00:00+00:00", "pos:1")])

    report = import_ledger(
        path, extract_engine, brand="hearth-and-holly", program_file=program_file
    )

    real = ContextStore(extract_engine).load(customer, as_of=EXTRACT_AS_OF, brand=brand)
    assert report.derived_entries_removed == len(derived.loyalty.history)
    assert report.customers_created == 0
    assert real.loyalty is not None
    assert real.loyalty.derived is False
    assert real.loyalty.balance == 42
    with extract_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CustomerRecord)) == 304


def test_interrupted_import_stores_nothing(
    engine: Engine,
    write_ledger: LedgerWriter,
    program_file: ProgramFile,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*args: object, **kwargs: object) -> str:
        raise RuntimeError("interrupted")

    monkeypatch.setattr("agent.loyalty.importer.record_run", fail)

    with pytest.raises(RuntimeError, match="interrupted"):
        import_ledger(
            write_ledger(ROWS), engine, brand="hearth-and-holly", program_file=program_file
        )

    assert _count(engine, LoyaltyEntryRecord) == 0
    assert _count(engine, CustomerRecord) == 0
