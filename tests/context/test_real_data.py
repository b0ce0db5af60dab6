"""Imports of the shipped extract and of the full UCI Online Retail file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agent.context.importer import import_online_retail
from agent.context.store import ContextStore
from agent.domain import BrandProfile, OrderStatus

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTRACT = REPO_ROOT / "data" / "online_retail_extract.csv.gz"
FULL_FILE_NAME = "online_retail_2010_2011.csv.gz"
LAST_INVOICE = datetime(2011, 12, 9, 12, 50, tzinfo=UTC)


def test_extract_is_small() -> None:
    assert EXTRACT.stat().st_size < 1_000_000


def test_extract_import_counts(engine: Engine) -> None:
    report = import_online_retail(EXTRACT, engine)

    assert report.rows_read == 24_554
    assert report.lines_imported == 24_540
    assert report.customers == 304
    assert report.orders == 1_592
    assert report.cancelled_orders == 231
    assert report.cancellations == 497
    assert report.products == 2_722
    assert report.rows_without_customer == 14
    assert report.malformed == 0
    assert report.prices_rounded == 4


def test_extract_has_recent_and_lapsed_buyers(engine: Engine, brand: BrandProfile) -> None:
    import_online_retail(EXTRACT, engine)
    store = ContextStore(engine)
    latest = store.latest_order_time()
    assert latest == LAST_INVOICE

    recent = store.recent_customers(as_of=latest, max_days=14, limit=1_000)
    lapsed = store.lapsed_customers(as_of=latest, min_days=90, min_orders=3, limit=1_000)

    assert len(recent) == 100
    assert len(lapsed) == 100
    context = store.load(lapsed[0], as_of=latest, brand=brand)
    live = [order for order in context.orders if order.status != OrderStatus.CANCELLED]
    assert len(live) >= 3
    assert latest - context.orders[-1].placed_at >= timedelta(days=90)


def test_extract_customers_load(engine: Engine, brand: BrandProfile) -> None:
    import_online_retail(EXTRACT, engine)
    store = ContextStore(engine)
    latest = store.latest_order_time()
    assert latest is not None

    for customer_id in store.recent_customers(as_of=latest, max_days=14, limit=20):
        context = store.load(customer_id, as_of=latest, brand=brand)
        assert context.last_order() is not None, customer_id


@pytest.mark.slow
def test_make_extract_reproduces_shipped_file(shared_data_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "extract.csv.gz"

    command = [
        sys.executable,
        str(REPO_ROOT / "data" / "make_extract.py"),
        str(shared_data_dir / FULL_FILE_NAME),
        "--output",
        str(output),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)

    assert completed.returncode == 0, completed.stderr
    assert output.read_bytes() == EXTRACT.read_bytes()


@pytest.mark.slow
def test_full_file_import_counts(shared_data_dir: Path, engine: Engine) -> None:
    report = import_online_retail(shared_data_dir / FULL_FILE_NAME, engine)

    assert report.rows_read == 541_909
    assert report.rows_without_customer == 135_080
    assert report.lines_imported == 406_829
    assert report.malformed == 0
    assert report.customers == 4_372
    assert report.orders == 22_190
    assert report.cancelled_orders == 3_654
    # 9,288 rows are cancellations, but 383 of them have no CustomerID and are skipped.
    assert report.cancellations == 8_905
    assert report.products == 3_684
    assert report.prices_rounded == 4
    assert ContextStore(engine).latest_order_time() == LAST_INVOICE
