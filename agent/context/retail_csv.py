"""Read and validate the rows of a UCI Online Retail CSV file, plain or gzipped.

The file has one row per invoice line with the columns in `EXPECTED_COLUMNS`. An invoice
number that starts with "C" is a cancellation, whose negative quantities are returned as
positive numbers.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, TextIO
from zoneinfo import ZoneInfo

EXPECTED_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
GZIP_MAGIC = b"\x1f\x8b"
# InvoiceDate is the shop's local time without an offset.
SOURCE_TIMEZONE = ZoneInfo("Europe/London")
# ISO-style dates such as "2011-12-09 12:50:00", then US month/day dates such as "12/9/2011 12:50".
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")
# Column limits, equal to the table columns and to the domain model's limits.
MAX_ORDER_ID = 32
MAX_STOCK_CODE = 32
MAX_CUSTOMER_ID = 64
MAX_DESCRIPTION = 200
MAX_UNIT_PRICE = Decimal("99999999.99")
CENTS = Decimal("0.01")

# The 38 country names of the Online Retail file. Names that are not a country map to None.
# NOTE: USA, Canada, Australia and Brazil span several time zones, and the file gives no
# region, so they map to the zone of their most populous region.
COUNTRY_TIMEZONES: dict[str, str | None] = {
    "Australia": "Australia/Sydney",
    "Austria": "Europe/Vienna",
    "Bahrain": "Asia/Bahrain",
    "Belgium": "Europe/Brussels",
    "Brazil": "America/Sao_Paulo",
    "Canada": "America/Toronto",
    "Channel Islands": "Europe/Jersey",
    "Cyprus": "Asia/Nicosia",
    "Czech Republic": "Europe/Prague",
    "Denmark": "Europe/Copenhagen",
    "EIRE": "Europe/Dublin",
    "European Community": None,
    "Finland": "Europe/Helsinki",
    "France": "Europe/Paris",
    "Germany": "Europe/Berlin",
    "Greece": "Europe/Athens",
    "Hong Kong": "Asia/Hong_Kong",
    "Iceland": "Atlantic/Reykjavik",
    "Israel": "Asia/Jerusalem",
    "Italy": "Europe/Rome",
    "Japan": "Asia/Tokyo",
    "Lebanon": "Asia/Beirut",
    "Lithuania": "Europe/Vilnius",
    "Malta": "Europe/Malta",
    "Netherlands": "Europe/Amsterdam",
    "Norway": "Europe/Oslo",
    "Poland": "Europe/Warsaw",
    "Portugal": "Europe/Lisbon",
    "RSA": "Africa/Johannesburg",
    "Saudi Arabia": "Asia/Riyadh",
    "Singapore": "Asia/Singapore",
    "Spain": "Europe/Madrid",
    "Sweden": "Europe/Stockholm",
    "Switzerland": "Europe/Zurich",
    "USA": "America/New_York",
    "United Arab Emirates": "Asia/Dubai",
    "United Kingdom": "Europe/London",
    "Unspecified": None,
}

# A CustomerID written by a float column, such as "17850.0".
_FLOAT_ID = re.compile(r"^(\d+)\.0*$")


class ImportFileError(Exception):
    """The import file is missing, unreadable or lacks the expected header."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"cannot import {str(path)!r}: {problem}. Expected a CSV file, plain or gzipped, "
            f"whose header has the columns {', '.join(EXPECTED_COLUMNS)}."
        )


class RowRejected(ValueError):
    """A row that cannot be imported. Its `reason` is reported with the row's line number."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Columns(NamedTuple):
    """The header's width and the position of each expected column in it."""

    width: int
    invoice: int
    stock_code: int
    description: int
    quantity: int
    date: int
    price: int
    customer: int
    country: int


@dataclass(slots=True)
class ParsedLine:
    """One valid row: an order line with the fields of its order and customer."""

    order_id: str
    customer_id: str
    country: str | None
    placed_at: datetime
    cancelled: bool
    stock_code: str
    description: str
    quantity: int
    unit_price: Decimal
    price_rounded: bool


# --- reading the file ----------------------------------------------------------------


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def open_text(path: Path) -> TextIO:
    """Open `path` as UTF-8 text, decompressing it when it starts with the gzip magic bytes."""
    if not path.is_file():
        problem = "it is a folder, not a file" if path.is_dir() else "the file does not exist"
        raise ImportFileError(path, problem)
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
    except OSError as exc:
        raise ImportFileError(path, f"the file cannot be opened: {exc.strerror}") from exc
    # Undecodable bytes become U+FFFD, so a stray byte spoils one value, not the import.
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open("r", encoding="utf-8-sig", errors="replace", newline="")


def read_columns(reader: Iterator[list[str]], path: Path) -> Columns:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ImportFileError(path, "the file is empty") from None
    except (OSError, EOFError, csv.Error) as exc:
        raise ImportFileError(path, f"reading the header failed: {exc}") from exc
    missing = [name for name in EXPECTED_COLUMNS if name not in header]
    if missing:
        found = _shorten(",".join(header), 80)
        raise ImportFileError(path, f"the header {found!r} lacks the columns {', '.join(missing)}")
    indexes = [header.index(name) for name in EXPECTED_COLUMNS]
    return Columns(len(header), *indexes)


def read_records(reader: Any, path: Path) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """Yield (start line, row, None) per record, or (start line, None, reason) for a bad one."""
    previous_end = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield previous_end + 1, None, f"unreadable CSV record: {exc}"
        except (OSError, EOFError) as exc:
            # A truncated or corrupt gzip stream ends the import, and the caller rolls back.
            raise ImportFileError(
                path, f"reading failed near line {previous_end + 1}: {exc}"
            ) from exc
        else:
            if row:
                yield previous_end + 1, row, None
        previous_end = reader.line_num


# --- parsing one row -----------------------------------------------------------------


def _repair_mojibake(text: str) -> str:
    """Decode UTF-8 text that was misread as Latin-1, such as "Â£" for "£"."""
    if "Â" not in text and "Ã" not in text:
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _normalise_customer_id(value: str) -> str:
    value = value.strip()
    match = _FLOAT_ID.match(value)
    return match.group(1) if match else value


def _parse_quantity(value: str, cancelled: bool) -> int:
    try:
        quantity = int(value.strip())
    except ValueError:
        raise RowRejected(f"Quantity {_shorten(value)!r} is not a whole number") from None
    if quantity == 0:
        raise RowRejected("Quantity is zero")
    if cancelled and quantity > 0:
        raise RowRejected(f"Quantity {quantity} is positive on a cancellation invoice")
    if not cancelled and quantity < 0:
        raise RowRejected(f"Quantity {quantity} is negative on an invoice that is not cancelled")
    return abs(quantity)


def _parse_price(value: str) -> tuple[Decimal, bool]:
    """Return the price rounded half up to pence, and whether rounding changed it."""
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        raise RowRejected(f"UnitPrice {_shorten(value)!r} is not a number") from None
    if not price.is_finite():
        raise RowRejected(f"UnitPrice {_shorten(value)!r} is not a finite number")
    if price < 0:
        raise RowRejected(f"UnitPrice {value.strip()} is negative")
    if price > MAX_UNIT_PRICE:
        raise RowRejected(f"UnitPrice {value.strip()} is above the maximum {MAX_UNIT_PRICE}")
    rounded = price.quantize(CENTS, rounding=ROUND_HALF_UP)
    return rounded, rounded != price


def _required_text(value: str, column: str, max_length: int) -> str:
    value = value.strip()
    if not value:
        raise RowRejected(f"{column} is empty")
    if len(value) > max_length:
        raise RowRejected(f"{column} {_shorten(value)!r} is longer than {max_length} characters")
    return value


class DateParser:
    """Parse InvoiceDate as London time and convert it to UTC, caching repeated values."""

    def __init__(self) -> None:
        self._cache: dict[str, datetime] = {}

    def parse(self, value: str) -> datetime:
        cached = self._cache.get(value)
        if cached is None:
            cached = self._parse_uncached(value.strip())
            self._cache[value] = cached
        return cached

    @staticmethod
    def _parse_uncached(value: str) -> datetime:
        for date_format in DATE_FORMATS:
            try:
                local = datetime.strptime(value, date_format)
            except ValueError:
                continue
            return local.replace(tzinfo=SOURCE_TIMEZONE).astimezone(UTC)
        raise RowRejected(
            f"InvoiceDate {_shorten(value)!r} is not a valid date such as 2011-12-09 12:50:00"
        )


def parse_row(row: list[str], columns: Columns, dates: DateParser) -> ParsedLine | None:
    """Return the row as an order line, or None when it has no CustomerID."""
    if len(row) != columns.width:
        raise RowRejected(f"expected {columns.width} columns, found {len(row)}")
    customer_id = _normalise_customer_id(row[columns.customer])
    if not customer_id:
        return None
    if len(customer_id) > MAX_CUSTOMER_ID:
        raise RowRejected(f"CustomerID is longer than {MAX_CUSTOMER_ID} characters")

    order_id = _required_text(row[columns.invoice], "InvoiceNo", MAX_ORDER_ID)
    cancelled = order_id.upper().startswith("C")
    stock_code = _required_text(row[columns.stock_code], "StockCode", MAX_STOCK_CODE)
    description = _required_text(
        _repair_mojibake(row[columns.description]), "Description", MAX_DESCRIPTION
    )
    quantity = _parse_quantity(row[columns.quantity], cancelled)
    unit_price, price_rounded = _parse_price(row[columns.price])
    placed_at = dates.parse(row[columns.date])
    country = row[columns.country].strip() or None
    return ParsedLine(
        order_id=order_id,
        customer_id=customer_id,
        country=country,
        placed_at=placed_at,
        cancelled=cancelled,
        stock_code=stock_code,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        price_rounded=price_rounded,
    )
