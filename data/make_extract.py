"""Write the Online Retail extract that ships in data/, from the full UCI file.

Usage: python data/make_extract.py SOURCE [--output PATH]

The output is byte-identical for the same source: customers are picked by the SHA-256 of
their id, rows keep their source order and text, and the gzip header has no time stamp.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "online_retail_extract.csv.gz"

RECENT_DAYS = 14
LAPSED_DAYS = 90
LAPSED_MIN_ORDERS = 3
CUSTOMERS_PER_GROUP = 100
# Customers with more rows than this are left out of the groups, which keeps the file small.
MAX_ROWS_PER_CUSTOMER = 400
# Rows without a CustomerID kept per kind, so that an import shows them being skipped.
ROWS_WITHOUT_CUSTOMER_PER_KIND = 3
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class CustomerHistory:
    line_indexes: list[int] = field(default_factory=list)
    live_orders: set[str] = field(default_factory=set)
    last_live_order: datetime | None = None
    has_sub_penny_price: bool = False


def read_source(source: Path) -> tuple[str, list[str]]:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines(keepends=True)
    return lines[0], lines[1:]


def summarise(rows: list[list[str]]) -> dict[str, CustomerHistory]:
    histories: dict[str, CustomerHistory] = defaultdict(CustomerHistory)
    for index, (invoice, _, _, _, date, price, customer, _) in enumerate(rows):
        if not customer:
            continue
        history = histories[customer]
        history.line_indexes.append(index)
        if 0 < float(price) < 0.01:
            history.has_sub_penny_price = True
        if invoice.startswith("C"):
            continue
        history.live_orders.add(invoice)
        placed_at = datetime.strptime(date, DATE_FORMAT)
        if history.last_live_order is None or placed_at > history.last_live_order:
            history.last_live_order = placed_at
    return histories


def group_of(history: CustomerHistory, end: datetime) -> str:
    last = history.last_live_order
    if last is not None and last >= end - timedelta(days=RECENT_DAYS):
        return "recent"
    lapsed = last is not None and last <= end - timedelta(days=LAPSED_DAYS)
    if lapsed and len(history.live_orders) >= LAPSED_MIN_ORDERS:
        return "lapsed"
    return "ordinary"


def stable_rank(customer_id: str) -> str:
    return hashlib.sha256(customer_id.encode()).hexdigest()


def pick_customers(histories: dict[str, CustomerHistory], end: datetime) -> set[str]:
    """Pick customers per group by hash order, plus every customer with a sub-penny price."""
    groups: dict[str, list[str]] = defaultdict(list)
    for customer_id in sorted(histories, key=stable_rank):
        history = histories[customer_id]
        if len(history.line_indexes) <= MAX_ROWS_PER_CUSTOMER:
            groups[group_of(history, end)].append(customer_id)
    picked = {cid for members in groups.values() for cid in members[:CUSTOMERS_PER_GROUP]}
    picked |= {cid for cid, history in histories.items() if history.has_sub_penny_price}
    return picked


def rows_without_customer(rows: list[list[str]]) -> list[int]:
    """Return the first few rows without a CustomerID of each kind, in source order."""
    kinds = {
        "empty description": lambda row: not row[2],
        "negative price": lambda row: float(row[5]) < 0,
        "negative quantity, not a cancellation": lambda row: (
            int(row[3]) < 0 and not row[0].startswith("C")
        ),
        "cancellation": lambda row: row[0].startswith("C"),
        "ordinary": lambda row: True,
    }
    chosen: list[int] = []
    for matches in kinds.values():
        found = [i for i, row in enumerate(rows) if not row[6] and matches(row) and i not in chosen]
        chosen.extend(found[:ROWS_WITHOUT_CUSTOMER_PER_KIND])
    return chosen


def write_extract(output: Path, header: str, lines: list[str]) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed:
        compressed.write((header + "".join(lines)).encode("utf-8"))
    output.write_bytes(buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the full Online Retail file, gzipped")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="extract to write")
    args = parser.parse_args(argv)

    header, lines = read_source(args.source)
    # Each record is one physical line, because no field in this file contains a newline.
    rows = [next(csv.reader([line])) for line in lines]
    end = max(datetime.strptime(row[4], DATE_FORMAT) for row in rows)
    histories = summarise(rows)
    picked = pick_customers(histories, end)

    indexes = {i for cid in picked for i in histories[cid].line_indexes}
    indexes.update(rows_without_customer(rows))
    selected = [lines[i] for i in sorted(indexes)]
    write_extract(args.output, header, selected)

    print(
        f"wrote {args.output}: {len(selected)} rows, {len(picked)} customers, "
        f"{args.output.stat().st_size} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
