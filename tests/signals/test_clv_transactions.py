"""The per-customer summary and the context-store loader of agent.signals.transactions."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.signals.transactions import (
    clean_transactions,
    count_purchases_between,
    cutoff_of,
    load_transactions,
    summarize_transactions,
)

RETAIL_HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def table(*rows: tuple[object, object, object]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def test_summary_matches_published_cdnow_summary(shared_data_dir: Path) -> None:
    transactions = pd.read_csv(shared_data_dir / "cdnow_sample_transactions.csv.gz")
    summary, notes = summarize_transactions(transactions, date(1997, 9, 30), unit_days=7.0)
    published = pd.read_csv(shared_data_dir / "cdnow_customers_summary_with_transactions.csv")
    published["customer_id"] = published["ID"].astype(str)
    merged = summary.merge(published, on="customer_id", validate="one_to_one")
    assert len(merged) == 2357
    assert (merged["frequency"] == merged["x"]).all()
    # The published file rounds to 2 decimals.
    assert (merged["recency"] - merged["t_x"]).abs().max() < 0.005 + 1e-9
    assert (merged["T_x"] - merged["T_y"]).abs().max() < 0.005 + 1e-9
    assert (merged["monetary_value"] - merged["zbar"]).abs().max() < 0.005 + 1e-9
    assert int(summary["frequency"].sum()) == 2457
    assert len(notes) == 1  # the holdout rows after as_of


def test_same_day_orders_are_one_purchase() -> None:
    transactions = table(
        ("a", "2024-01-01 09:00", 10.0),
        ("a", "2024-01-01 17:00", 5.0),
        ("a", "2024-01-11 12:00", 30.0),
        ("a", "2024-01-21 12:00", 50.0),
    )
    summary, notes = summarize_transactions(transactions, date(2024, 1, 31))
    row = summary.iloc[0]
    assert notes == []
    assert row["frequency"] == 2
    assert row["recency"] == 20.0
    assert row["T"] == 30.0
    assert row["monetary_value"] == 40.0  # the mean of the two repeat purchases
    assert row["mean_spend"] == pytest.approx(95.0 / 3)


def test_float_ids_lose_their_decimals() -> None:
    transactions = table((17850.0, "2024-01-01", 10.0), (float("nan"), "2024-01-02", 10.0))
    summary, notes = summarize_transactions(transactions, date(2024, 1, 31))
    assert summary["customer_id"].tolist() == ["17850"]
    assert notes == ["dropped 1 transactions without a customer_id"]


def test_weeks_divide_days_by_seven() -> None:
    transactions = table(("a", "2024-01-01", 10.0), ("a", "2024-01-15", 10.0))
    summary, _ = summarize_transactions(transactions, date(2024, 1, 29), unit_days=7.0)
    assert summary.iloc[0]["recency"] == 2.0
    assert summary.iloc[0]["T"] == 4.0


def test_one_time_buyer_has_zero_repeat_spend() -> None:
    summary, _ = summarize_transactions(table(("a", "2024-01-01", 10.0)), date(2024, 1, 2))
    row = summary.iloc[0]
    assert row["frequency"] == 0
    assert row["recency"] == 0.0
    assert row["T"] == 1.0
    assert row["monetary_value"] == 0.0
    assert row["mean_spend"] == 10.0


def test_date_cutoff_is_end_of_day() -> None:
    cutoff = cutoff_of(date(2024, 1, 31))
    assert cutoff.tzinfo is not None
    assert cutoff > pd.Timestamp("2024-01-31 23:59:59", tz="UTC")
    assert cutoff < pd.Timestamp("2024-02-01", tz="UTC")


def test_naive_datetime_cutoff_is_utc() -> None:
    assert cutoff_of(datetime(2024, 1, 31, 12)) == pd.Timestamp("2024-01-31 12:00", tz="UTC")


def test_aware_dates_compare_in_utc() -> None:
    transactions = table(("a", "2024-01-31T23:30:00-02:00", 10.0))  # 01:30 UTC the next day
    clean = clean_transactions(transactions, date(2024, 1, 31))
    assert clean.purchases.empty
    assert "after as_of" in clean.notes[0]


def test_count_purchases_between_excludes_start_day() -> None:
    transactions = table(
        ("a", "2024-01-31 10:00", 1.0),
        ("a", "2024-02-01 10:00", 1.0),
        ("a", "2024-02-01 11:00", 1.0),
        ("a", "2024-02-10 10:00", 1.0),
        ("b", "2024-03-01 10:00", 1.0),
    )
    counts = count_purchases_between(transactions, date(2024, 1, 31), date(2024, 2, 29))
    assert counts.to_dict() == {"a": 2}


def write_retail_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(RETAIL_HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture
def retail_engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    rows = [
        ["536365", "85123A", "HEART HOLDER", "6", "2010-12-01 08:26:00", "2.55", "17850", "UK"],
        ["536365", "71053", "METAL LANTERN", "2", "2010-12-01 08:26:00", "3.39", "17850", "UK"],
        ["536366", "22633", "HAND WARMER", "4", "2010-12-01 09:00:00", "1.85", "17850", "UK"],
        ["C536367", "22633", "HAND WARMER", "-4", "2010-12-02 10:00:00", "1.85", "17850", "UK"],
        ["536368", "22960", "JAM MAKING SET", "3", "2010-12-05 10:00:00", "4.25", "13047", "UK"],
        ["536369", "22960", "JAM MAKING SET", "1", "2011-01-05 10:00:00", "4.25", "13047", "UK"],
    ]
    csv_path = write_retail_csv(tmp_path / "retail.csv", rows)
    engine = make_engine(f"sqlite:///{tmp_path / 'context.db'}")
    init_db(engine)
    import_online_retail(csv_path, engine)
    yield engine
    engine.dispose()


def test_loader_reads_live_orders_with_amounts(retail_engine) -> None:  # type: ignore[no-untyped-def]
    transactions = load_transactions(retail_engine)
    by_order = transactions.set_index("order_id")
    assert sorted(by_order.index) == ["536365", "536366", "536368", "536369"]
    assert by_order.loc["536365", "amount"] == pytest.approx(6 * 2.55 + 2 * 3.39)
    assert by_order.loc["536366", "amount"] == pytest.approx(4 * 1.85)
    assert by_order.loc["536365", "customer_id"] == "17850"
    assert str(transactions["date"].dt.tz) == "UTC"


def test_loader_as_of_leaves_out_later_orders(retail_engine) -> None:  # type: ignore[no-untyped-def]
    as_of = datetime(2010, 12, 31, tzinfo=UTC)
    transactions = load_transactions(retail_engine, as_of=as_of)
    assert sorted(transactions["order_id"]) == ["536365", "536366", "536368"]


def test_loader_rejects_naive_as_of(retail_engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="time zone-aware"):
        load_transactions(retail_engine, as_of=datetime(2010, 12, 31))


def test_loader_output_feeds_summary(retail_engine) -> None:  # type: ignore[no-untyped-def]
    summary, notes = summarize_transactions(load_transactions(retail_engine), date(2011, 1, 31))
    by_customer = summary.set_index("customer_id")
    assert notes == []
    # 17850 bought twice on 2010-12-01: one purchase day.
    assert by_customer.loc["17850", "frequency"] == 0
    assert by_customer.loc["17850", "mean_spend"] == pytest.approx(6 * 2.55 + 2 * 3.39 + 4 * 1.85)
    assert by_customer.loc["13047", "frequency"] == 1
    assert by_customer.loc["13047", "recency"] == 31.0
    assert by_customer.loc["13047", "monetary_value"] == pytest.approx(4.25)


def test_loader_on_empty_store(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    init_db(engine)
    try:
        transactions = load_transactions(engine)
    finally:
        engine.dispose()
    assert transactions.empty
    assert list(transactions.columns) == ["customer_id", "date", "amount", "order_id"]
