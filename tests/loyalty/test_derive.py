"""`derive_ledger` on the real Online Retail extract: exact points, idempotent, as_of aware."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, func, select

from agent.context.store import ContextStore
from agent.demo import EXTRACT_PATH
from agent.domain import BrandProfile
from agent.loyalty.derive import derive_ledger
from agent.loyalty.importer import import_ledger
from agent.loyalty.program import ProgramFile
from agent.loyalty.tables import LoyaltyEntryRecord
from tests.loyalty.conftest import EXTRACT_AS_OF, LedgerWriter, entry

BRAND = "hearth-and-holly"


def _invoice_points() -> pd.DataFrame:
    """Points per invoice computed from the raw CSV, independently of the importer."""
    raw = pd.read_csv(EXTRACT_PATH, dtype={"CustomerID": "string", "InvoiceNo": "string"})
    raw = raw.dropna(subset=["CustomerID"])
    raw["customer_id"] = raw["CustomerID"].str.replace(r"\.0$", "", regex=True)
    local = pd.to_datetime(raw["InvoiceDate"]).dt.tz_localize("Europe/London")
    raw["placed_at"] = local.dt.tz_convert(UTC)
    raw["amount"] = raw["Quantity"].abs() * raw["UnitPrice"].round(2)
    invoices = raw.groupby("InvoiceNo").agg(
        customer_id=("customer_id", "first"),
        placed_at=("placed_at", "min"),
        amount=("amount", "sum"),
    )
    invoices["cancelled"] = invoices.index.str.startswith("C")
    floor = invoices["amount"].round(2).map(lambda value: math.floor(value + 1e-9))
    invoices["points"] = floor.where(~invoices["cancelled"], -floor)
    return invoices[invoices["points"] != 0]


def _accounts(engine: Engine, brand: BrandProfile, as_of: datetime) -> dict:
    store = ContextStore(engine, classify=lambda description, profile: None)
    with engine.connect() as conn:
        ids = conn.scalars(select(LoyaltyEntryRecord.customer_id).distinct()).all()
    return {cid: store.load(cid, as_of=as_of, brand=brand).loyalty for cid in ids}


def test_derived_points_match_orders(
    extract_engine: Engine, program_file: ProgramFile, brand: BrandProfile
) -> None:
    report = derive_ledger(
        extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF
    )
    invoices = _invoice_points()
    window_start = EXTRACT_AS_OF - relativedelta(months=12)
    recent = invoices[invoices["placed_at"] > window_start]
    expected_qualifying = recent.groupby("customer_id")["points"].sum().clip(lower=0)
    with_cancellations = set(invoices.loc[invoices["cancelled"], "customer_id"])

    accounts = _accounts(extract_engine, brand, EXTRACT_AS_OF)

    assert report.customers == 304
    assert report.entries == len(invoices)
    assert report.points_earned == invoices.loc[invoices["points"] > 0, "points"].sum()
    assert len(accounts) == 304
    for customer_id, account in accounts.items():
        qualifying = int(expected_qualifying.get(customer_id, 0))
        assert account.derived is True
        assert account.qualifying_points == qualifying, customer_id
        tier = program_file.program.tier_for_points(qualifying)
        assert account.tier == tier.tier_id, customer_id
        higher = [t for t in program_file.program.tiers if t.min_points > qualifying]
        if higher:
            assert account.points_to_next_tier == higher[0].min_points - qualifying, customer_id
        if customer_id not in with_cancellations:
            # No debits, so the balance is every lot still within its 12 months.
            assert account.balance == qualifying, customer_id


def test_derive_twice_gives_same_ledger(extract_engine: Engine, program_file: ProgramFile) -> None:
    first = derive_ledger(
        extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF
    )
    with extract_engine.connect() as conn:
        before = conn.execute(
            select(LoyaltyEntryRecord.entry_key, LoyaltyEntryRecord.points).order_by(
                LoyaltyEntryRecord.entry_key
            )
        ).all()

    second = derive_ledger(
        extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF
    )

    with extract_engine.connect() as conn:
        after = conn.execute(
            select(LoyaltyEntryRecord.entry_key, LoyaltyEntryRecord.points).order_by(
                LoyaltyEntryRecord.entry_key
            )
        ).all()
    assert after == before
    assert second.replaced_entries == first.entries
    assert second.points_earned == first.points_earned


def test_derive_uses_orders_up_to_as_of(extract_engine: Engine, program_file: ProgramFile) -> None:
    early = datetime(2011, 6, 30, 23, 0, tzinfo=UTC)

    report = derive_ledger(extract_engine, brand=BRAND, program_file=program_file, as_of=early)

    invoices = _invoice_points()
    assert report.entries == int((invoices["placed_at"] <= early).sum())
    with extract_engine.connect() as conn:
        latest = conn.scalar(select(func.max(LoyaltyEntryRecord.at)))
    assert latest is not None
    assert latest <= early


def test_derive_skips_customers_with_real_ledger(
    extract_engine: Engine, program_file: ProgramFile, write_ledger: LedgerWriter
) -> None:
    path = write_ledger([entry("12680", "earned", 42, "2011-06-01T10:00:00+00:00", "pos:1")])
    import_ledger(path, extract_engine, brand=BRAND, program_file=program_file)

    report = derive_ledger(
        extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF
    )

    assert report.customers_with_real_ledger == 1
    assert report.customers == 303
    with extract_engine.connect() as conn:
        rows = conn.execute(
            select(LoyaltyEntryRecord.source, LoyaltyEntryRecord.points).where(
                LoyaltyEntryRecord.customer_id == "12680"
            )
        ).all()
    assert rows == [("imported", 42)]


def test_derive_rejects_naive_as_of(extract_engine: Engine, program_file: ProgramFile) -> None:
    with pytest.raises(ValueError, match="time zone-aware"):
        derive_ledger(
            extract_engine, brand=BRAND, program_file=program_file, as_of=datetime(2011, 12, 9)
        )


def test_interrupted_derive_keeps_previous_ledger(
    extract_engine: Engine, program_file: ProgramFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    derive_ledger(extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF)
    with extract_engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(LoyaltyEntryRecord))

    def fail(*args: object, **kwargs: object) -> str:
        raise RuntimeError("interrupted")

    monkeypatch.setattr("agent.loyalty.derive.record_run", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        derive_ledger(
            extract_engine,
            brand=BRAND,
            program_file=program_file,
            as_of=datetime(2011, 3, 1, tzinfo=UTC),
        )

    with extract_engine.connect() as conn:
        after = conn.scalar(select(func.count()).select_from(LoyaltyEntryRecord))
    assert after == before
