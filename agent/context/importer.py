"""Import the UCI Online Retail CSV file into the customer context tables.

An invoice becomes an order, and a cancellation invoice becomes a cancelled order with
positive quantities. Rows without a CustomerID are counted and skipped. Any other row that
cannot be read is counted as malformed and skipped, so no single row stops an import.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from agent.context.retail_csv import (
    COUNTRY_TIMEZONES,
    EXPECTED_COLUMNS,
    GZIP_MAGIC,
    Columns,
    DateParser,
    ImportFileError,
    RowRejected,
    open_text,
    parse_row,
    read_columns,
    read_records,
)
from agent.context.writer import OrderWriter

__all__ = [
    "COUNTRY_TIMEZONES",
    "EXPECTED_COLUMNS",
    "GZIP_MAGIC",
    "ImportFileError",
    "ImportReport",
    "MalformedRow",
    "import_online_retail",
]

logger = logging.getLogger(__name__)

MAX_MALFORMED_EXAMPLES = 50
# Order lines written per executemany call.
BATCH_LINES = 5_000
PROGRESS_EVERY_ROWS = 10_000


class MalformedRow(BaseModel):
    line_number: int = Field(
        description="Line of the file where the row starts, counting the header as line 1."
    )
    reason: str


class ImportReport(BaseModel):
    """Counts of one import. rows_read = lines_imported + rows_without_customer + malformed."""

    path: str
    rows_read: int = Field(description="Data rows in the file, without the header and blank lines.")
    lines_imported: int = Field(description="Rows stored as order lines, cancellations included.")
    customers: int = Field(description="Distinct customers among the imported lines.")
    orders: int = Field(description="Distinct invoices among the imported lines.")
    cancelled_orders: int = Field(description="Orders among `orders` that are cancellations.")
    products: int = Field(description="Distinct stock codes among the imported lines.")
    cancellations: int = Field(description="Imported lines that belong to cancellations.")
    rows_without_customer: int = Field(description="Rows skipped because CustomerID is empty.")
    malformed: int = Field(description="Rows skipped because a value is missing or invalid.")
    malformed_examples: list[MalformedRow] = Field(
        default_factory=list, description=f"The first {MAX_MALFORMED_EXAMPLES} malformed rows."
    )
    prices_rounded: int = Field(
        default=0, description="Imported lines whose UnitPrice had more than 2 decimal places."
    )
    seconds: float = Field(description="Wall-clock duration of the import.")


@dataclass
class _Tally:
    rows_read: int = 0
    rows_without_customer: int = 0
    malformed: int = 0
    examples: list[MalformedRow] = field(default_factory=list)

    def reject(self, line_number: int, reason: str) -> None:
        self.malformed += 1
        if len(self.examples) < MAX_MALFORMED_EXAMPLES:
            self.examples.append(MalformedRow(line_number=line_number, reason=reason))


def import_online_retail(
    path: Path, engine: Engine, *, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import an Online Retail CSV file, plain or gzipped, in one transaction.

    `progress` is called with the number of rows read so far, every `PROGRESS_EVERY_ROWS`
    rows and once at the end. If the import stops early, including through an exception
    raised by `progress`, nothing is stored and the previous data stays as it was.
    Raises ImportFileError when the file is missing, unreadable or has the wrong header.
    """
    path = Path(path)
    started = time.perf_counter()
    logger.info("importing Online Retail file %s", path)
    tally = _Tally()
    with open_text(path) as handle:
        reader = csv.reader(handle)
        columns = read_columns(reader, path)
        with engine.begin() as conn:
            writer = OrderWriter(conn, batch_lines=BATCH_LINES)
            _import_rows(reader, path, columns, writer, tally, progress)
            writer.finish()
    if progress is not None:
        progress(tally.rows_read)

    report = _build_report(path, writer, tally, time.perf_counter() - started)
    _log_report(report)
    return report


def _import_rows(
    reader: Any,
    path: Path,
    columns: Columns,
    writer: OrderWriter,
    tally: _Tally,
    progress: Callable[[int], None] | None,
) -> None:
    dates = DateParser()
    for line_number, row, error in read_records(reader, path):
        tally.rows_read += 1
        try:
            if row is None:
                raise RowRejected(error or "unreadable CSV record")
            line = parse_row(row, columns, dates)
            if line is None:
                tally.rows_without_customer += 1
            else:
                writer.add(line)
        except RowRejected as exc:
            tally.reject(line_number, exc.reason)
        if progress is not None and tally.rows_read % PROGRESS_EVERY_ROWS == 0:
            progress(tally.rows_read)


def _build_report(path: Path, writer: OrderWriter, tally: _Tally, seconds: float) -> ImportReport:
    return ImportReport(
        path=str(path),
        rows_read=tally.rows_read,
        lines_imported=writer.lines_written,
        customers=len(writer.customers),
        orders=len(writer.orders),
        cancelled_orders=sum(1 for state in writer.orders.values() if state.cancelled),
        products=len(writer.product_descriptions),
        cancellations=writer.cancelled_lines,
        rows_without_customer=tally.rows_without_customer,
        malformed=tally.malformed,
        malformed_examples=tally.examples,
        prices_rounded=writer.prices_rounded,
        seconds=round(seconds, 3),
    )


def _log_report(report: ImportReport) -> None:
    logger.info(
        "imported %s: %d rows read, %d lines, %d orders, %d customers in %.1f s",
        report.path,
        report.rows_read,
        report.lines_imported,
        report.orders,
        report.customers,
        report.seconds,
    )
    if report.malformed:
        first = report.malformed_examples[0]
        logger.warning(
            "skipped %d malformed rows in %s; the first, on line %d: %s",
            report.malformed,
            report.path,
            first.line_number,
            first.reason,
        )
