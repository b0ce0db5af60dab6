"""Fixtures for the context tests: a fresh SQLite database, CSV writers and a brand."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agent.context.db import init_db, make_engine
from agent.domain import BrandProfile, ProductFamily

HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]

CsvWriter = Callable[..., Path]


def row(
    invoice: str = "536365",
    stock_code: str = "85123A",
    description: str = "WHITE HANGING HEART T-LIGHT HOLDER",
    quantity: str = "6",
    date: str = "2010-12-01 08:26:00",
    price: str = "2.55",
    customer: str = "17850",
    country: str = "United Kingdom",
) -> list[str]:
    """Build one Online Retail row from the text of each column."""
    return [invoice, stock_code, description, quantity, date, price, customer, country]


def csv_text(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.fixture
def write_csv(tmp_path: Path) -> CsvWriter:
    """Write rows under a header to a file, gzipped when `gzipped` is true."""
    counter = iter(range(1_000))

    def write(
        rows: Sequence[Sequence[str]],
        *,
        name: str | None = None,
        gzipped: bool = False,
        header: Sequence[str] = HEADER,
    ) -> Path:
        path = tmp_path / (name or f"retail_{next(counter)}.csv")
        data = csv_text(rows, header).encode("utf-8")
        path.write_bytes(gzip.compress(data) if gzipped else data)
        return path

    return write


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'context.db'}")
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def brand() -> BrandProfile:
    return BrandProfile(
        brand_id="test-brand",
        name="Test Brand",
        postal_address="1 Test Street, London",
        unsubscribe_url="https://shop.invalid/unsubscribe/{token}",
        review_url="{{review_link}}",
        shop_url="https://shop.invalid",
        sms_sender="TESTBRAND",
        delivery_days=3,
        families=[
            ProductFamily(
                family_id="candles",
                name="Candles and holders",
                keywords=["T-LIGHT", "CANDLE"],
                usage_window_days=30,
            ),
            ProductFamily(
                family_id="mugs",
                name="Mugs",
                keywords=["MUG"],
                usage_window_days=14,
            ),
        ],
    )
