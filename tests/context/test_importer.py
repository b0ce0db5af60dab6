"""The Online Retail importer on small CSV files written by each test."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from agent.context import importer
from agent.context.importer import (
    COUNTRY_TIMEZONES,
    EXPECTED_COLUMNS,
    ImportFileError,
    import_online_retail,
)
from agent.context.tables import CustomerRecord, OrderLineRecord, OrderRecord, ProductRecord
from agent.domain import OrderStatus
from tests.context.conftest import CsvWriter, csv_text, row


def _count(engine: Engine, record: type) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(record))


def _order(engine: Engine, order_id: str) -> OrderRecord:
    with engine.connect() as conn:
        return conn.execute(select(OrderRecord).where(OrderRecord.order_id == order_id)).one()


def _lines(engine: Engine, order_id: str) -> list:
    statement = (
        select(OrderLineRecord)
        .where(OrderLineRecord.order_id == order_id)
        .order_by(OrderLineRecord.id)
    )
    with engine.connect() as conn:
        return list(conn.execute(statement))


def _customer(engine: Engine, customer_id: str):
    with engine.connect() as conn:
        statement = select(CustomerRecord).where(CustomerRecord.customer_id == customer_id)
        return conn.execute(statement).one()


# --- counts ----------------------------------------------------------------------------


def test_import_counts_orders_and_skips(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv(
        [
            row(invoice="536365", stock_code="85123A"),
            row(invoice="536365", stock_code="71053", description="WHITE METAL LANTERN"),
            row(invoice="536366", stock_code="22633", customer="13047"),
            row(invoice="C536379", stock_code="71053", quantity="-1", customer="13047"),
            row(invoice="536414", stock_code="22139", customer=""),
        ]
    )

    report = import_online_retail(path, engine)

    assert report.rows_read == 5
    assert report.lines_imported == 4
    assert report.customers == 2
    assert report.orders == 3
    assert report.cancelled_orders == 1
    assert report.cancellations == 1
    assert report.products == 3
    assert report.rows_without_customer == 1
    assert report.malformed == 0
    assert report.malformed_examples == []
    assert report.path == str(path)
    assert report.seconds >= 0


def test_import_stores_rows_in_tables(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv(
        [
            row(invoice="536365", stock_code="85123A"),
            row(invoice="536365", stock_code="71053", description="WHITE METAL LANTERN"),
            row(invoice="536366", stock_code="22633", customer="13047"),
        ]
    )

    import_online_retail(path, engine)

    assert _count(engine, CustomerRecord) == 2
    assert _count(engine, ProductRecord) == 3
    assert _count(engine, OrderRecord) == 2
    assert _count(engine, OrderLineRecord) == 3
    assert [line.stock_code for line in _lines(engine, "536365")] == ["85123A", "71053"]


def test_report_counts_add_up(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv(
        [row(), row(customer=""), row(quantity="x"), row(invoice="536366", customer="13047")]
    )

    report = import_online_retail(path, engine)

    assert report.rows_read == (
        report.lines_imported + report.rows_without_customer + report.malformed
    )
    assert report.malformed == 1


def test_blank_lines_are_not_rows(tmp_path: Path, engine: Engine) -> None:
    text = csv_text([row()]) + "\n\n" + csv_text([row(invoice="536366")]).split("\n", 1)[1]
    path = tmp_path / "blank.csv"
    path.write_text(text, encoding="utf-8")

    report = import_online_retail(path, engine)

    assert report.rows_read == 2
    assert report.lines_imported == 2
    assert report.malformed == 0


# --- malformed rows ----------------------------------------------------------------------

# Each case is a row and the words expected in its reason. Case i is on line i + 2 of the file.
MALFORMED_CASES = [
    (row(date="2010-13-45 08:26:00"), "InvoiceDate '2010-13-45 08:26:00' is not a valid date"),
    (row(date=""), "InvoiceDate '' is not a valid date"),
    (row(quantity="six"), "Quantity 'six' is not a whole number"),
    (row(quantity="1.5"), "Quantity '1.5' is not a whole number"),
    (row(quantity="0"), "Quantity is zero"),
    (row(price="abc"), "UnitPrice 'abc' is not a number"),
    (row(price="NaN"), "UnitPrice 'NaN' is not a finite number"),
    (row(price="-1.50"), "UnitPrice -1.50 is negative"),
    (row(price="100000000"), "is above the maximum"),
    (row(description=""), "Description is empty"),
    (row(description="   "), "Description is empty"),
    (row(description="X" * 201), "longer than 200 characters"),
    (row(stock_code=""), "StockCode is empty"),
    (row(invoice=""), "InvoiceNo is empty"),
    (row(invoice="C536365", quantity="2"), "positive on a cancellation invoice"),
    (row(invoice="536999", quantity="-2"), "negative on an invoice that is not cancelled"),
    (row()[:7], "expected 8 columns, found 7"),
    (row() + ["extra"], "expected 8 columns, found 9"),
]


def test_malformed_rows_reported_by_line(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [case_row for case_row, _ in MALFORMED_CASES]
    path = write_csv(rows)

    report = import_online_retail(path, engine)

    assert report.malformed == len(MALFORMED_CASES)
    assert report.lines_imported == 0
    assert len(report.malformed_examples) == len(MALFORMED_CASES)
    for index, (_, expected) in enumerate(MALFORMED_CASES):
        example = report.malformed_examples[index]
        assert example.line_number == index + 2, expected
        assert expected in example.reason


def test_malformed_rows_do_not_stop_import(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(quantity="x"), row(invoice="536366"), row(price="?")])

    report = import_online_retail(path, engine)

    assert report.lines_imported == 1
    assert report.malformed == 2
    assert _count(engine, OrderRecord) == 1


def test_line_numbers_count_multiline_records(tmp_path: Path, engine: Engine) -> None:
    # The first record spans lines 2 and 3 because its description contains a newline.
    text = csv_text([row(description="TWO\nLINES"), row(quantity="bad")])
    path = tmp_path / "multiline.csv"
    path.write_text(text, encoding="utf-8")

    report = import_online_retail(path, engine)

    assert report.lines_imported == 1
    assert report.malformed_examples[0].line_number == 4


def test_oversized_field_is_malformed(write_csv: CsvWriter, engine: Engine) -> None:
    # Larger than the csv module's default field size limit of 131,072 characters.
    path = write_csv([row(description="X" * 140_000), row(invoice="536366")])

    report = import_online_retail(path, engine)

    assert report.malformed == 1
    assert "unreadable CSV record" in report.malformed_examples[0].reason
    assert report.malformed_examples[0].line_number == 2
    assert report.lines_imported == 1


def test_invoice_of_two_customers_is_malformed(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(customer="17850"), row(stock_code="71053", customer="13047")])

    report = import_online_retail(path, engine)

    assert report.malformed == 1
    assert "already belongs to another CustomerID" in report.malformed_examples[0].reason
    assert report.malformed_examples[0].line_number == 3
    assert _order(engine, "536365").customer_id == "17850"


def test_malformed_examples_are_capped(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(quantity="x")] * (importer.MAX_MALFORMED_EXAMPLES + 5))

    report = import_online_retail(path, engine)

    assert report.malformed == importer.MAX_MALFORMED_EXAMPLES + 5
    assert len(report.malformed_examples) == importer.MAX_MALFORMED_EXAMPLES


# --- values ------------------------------------------------------------------------------


def test_cancellation_stored_with_absolute_quantity(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(invoice="C536379", quantity="-4")])

    import_online_retail(path, engine)

    order = _order(engine, "C536379")
    assert order.status == OrderStatus.CANCELLED
    assert order.cancelled is True
    assert [line.quantity for line in _lines(engine, "C536379")] == [4]


def test_order_stored_as_placed(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row()])

    import_online_retail(path, engine)

    order = _order(engine, "536365")
    assert order.status == OrderStatus.PLACED
    assert order.cancelled is False


@pytest.mark.parametrize(
    ("local", "expected_utc"),
    [
        ("2011-06-01 10:00:00", datetime(2011, 6, 1, 9, 0, tzinfo=UTC)),  # BST, UTC+1
        ("2011-12-01 10:00:00", datetime(2011, 12, 1, 10, 0, tzinfo=UTC)),  # GMT
        ("12/1/2011 10:00", datetime(2011, 12, 1, 10, 0, tzinfo=UTC)),  # US month/day format
    ],
)
def test_invoice_date_is_london_time(
    write_csv: CsvWriter, engine: Engine, local: str, expected_utc: datetime
) -> None:
    path = write_csv([row(date=local)])

    import_online_retail(path, engine)

    placed_at = _order(engine, "536365").placed_at
    assert placed_at == expected_utc
    assert placed_at.tzinfo == UTC


def test_order_keeps_earliest_line_time(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv(
        [
            row(date="2010-12-01 16:58:00"),
            row(stock_code="71053", date="2010-12-01 16:57:00"),
        ]
    )

    import_online_retail(path, engine)

    assert _order(engine, "536365").placed_at == datetime(2010, 12, 1, 16, 57, tzinfo=UTC)


def test_split_invoice_keeps_all_lines(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(), row(invoice="536366", customer="13047"), row(stock_code="71053")])

    report = import_online_retail(path, engine)

    assert report.orders == 2
    assert [line.stock_code for line in _lines(engine, "536365")] == ["85123A", "71053"]


def test_float_customer_id_normalised(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(customer="17850.0"), row(invoice="536366", customer=" 17850 ")])

    report = import_online_retail(path, engine)

    assert report.customers == 1
    assert _order(engine, "536365").customer_id == "17850"
    assert _order(engine, "536366").customer_id == "17850"


def test_text_values_are_stripped(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(description="SET OF 3 CAKE TINS PANTRY DESIGN ")])

    import_online_retail(path, engine)

    assert _lines(engine, "536365")[0].description == "SET OF 3 CAKE TINS PANTRY DESIGN"


def test_mojibake_pound_sign_repaired(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row(stock_code="gift_0001_40", description="Gift Voucher Â£40.00")])

    import_online_retail(path, engine)

    assert _lines(engine, "536365")[0].description == "Gift Voucher £40.00"


@pytest.mark.parametrize(
    ("text", "expected", "rounded"),
    [
        ("2.55", Decimal("2.55"), 0),
        ("0", Decimal("0.00"), 0),
        ("0.001", Decimal("0.00"), 1),
        ("0.005", Decimal("0.01"), 1),
        ("38970.0", Decimal("38970.00"), 0),
    ],
)
def test_unit_price_stored_in_pence(
    write_csv: CsvWriter, engine: Engine, text: str, expected: Decimal, rounded: int
) -> None:
    path = write_csv([row(price=text)])

    report = import_online_retail(path, engine)

    assert _lines(engine, "536365")[0].unit_price == expected
    assert report.prices_rounded == rounded


@pytest.mark.parametrize(
    ("country", "timezone"),
    [
        ("United Kingdom", "Europe/London"),
        ("EIRE", "Europe/Dublin"),
        ("Channel Islands", "Europe/Jersey"),
        ("Unspecified", None),
        ("European Community", None),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_customer_timezone_from_country(
    write_csv: CsvWriter, engine: Engine, country: str, timezone: str | None
) -> None:
    path = write_csv([row(country=country)])

    import_online_retail(path, engine)

    customer = _customer(engine, "17850")
    assert customer.timezone == timezone
    assert customer.country == (country or None)


def test_country_map_names_valid_zones() -> None:
    assert len(COUNTRY_TIMEZONES) == 38
    for country, zone in COUNTRY_TIMEZONES.items():
        if zone is not None:
            assert ZoneInfo(zone).key == zone, country


def test_customer_country_from_latest_order(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv(
        [
            row(invoice="536366", date="2011-03-01 10:00:00", country="Belgium"),
            row(invoice="536365", date="2011-01-01 10:00:00", country="Spain"),
            row(invoice="536367", date="2011-04-01 10:00:00", country=""),
        ]
    )

    import_online_retail(path, engine)

    customer = _customer(engine, "17850")
    assert customer.country == "Belgium"
    assert customer.timezone == "Europe/Brussels"


def test_customer_has_no_name_or_consent(write_csv: CsvWriter, engine: Engine) -> None:
    import_online_retail(write_csv([row()]), engine)

    customer = _customer(engine, "17850")
    assert customer.first_name is None
    assert customer.email_marketing is None
    assert customer.sms_marketing is None


def test_product_gets_most_frequent_description(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv(
        [
            row(invoice="536365", description="RARE NAME"),
            row(invoice="536366", description="COMMON NAME"),
            row(invoice="536367", description="COMMON NAME"),
        ]
    )

    import_online_retail(path, engine)

    with engine.connect() as conn:
        description = conn.scalar(
            select(ProductRecord.description).where(ProductRecord.stock_code == "85123A")
        )
    assert description == "COMMON NAME"
    assert _lines(engine, "536365")[0].description == "RARE NAME"


# --- file handling -----------------------------------------------------------------------


def test_gzip_detected_without_gz_suffix(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row()], name="retail.csv", gzipped=True)

    report = import_online_retail(path, engine)

    assert report.lines_imported == 1


def test_plain_file_with_gz_suffix(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([row()], name="retail.csv.gz", gzipped=False)

    report = import_online_retail(path, engine)

    assert report.lines_imported == 1


def test_byte_order_mark_ignored(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text([row()]).encode("utf-8"))

    report = import_online_retail(path, engine)

    assert report.lines_imported == 1


def test_columns_found_by_header_name(write_csv: CsvWriter, engine: Engine) -> None:
    header = list(reversed(EXPECTED_COLUMNS))
    path = write_csv([list(reversed(row()))], header=header)

    report = import_online_retail(path, engine)

    assert report.lines_imported == 1
    assert _order(engine, "536365").customer_id == "17850"


def test_wrong_header_raises(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv([["1", "2"]], header=["customer_id", "amount"])

    with pytest.raises(ImportFileError) as caught:
        import_online_retail(path, engine)

    message = str(caught.value)
    assert str(path) in message
    assert "lacks the columns InvoiceNo" in message
    assert ", ".join(EXPECTED_COLUMNS) in message
    assert caught.value.path == path


def test_missing_file_raises(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "absent.csv"

    with pytest.raises(ImportFileError) as caught:
        import_online_retail(path, engine)

    assert str(path) in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_folder_raises(tmp_path: Path, engine: Engine) -> None:
    with pytest.raises(ImportFileError, match="folder"):
        import_online_retail(tmp_path, engine)


def test_empty_file_raises(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(ImportFileError, match="empty"):
        import_online_retail(path, engine)


# --- re-import and interruption ---------------------------------------------------------


def _table_counts(engine: Engine) -> dict[str, int]:
    records = (CustomerRecord, ProductRecord, OrderRecord, OrderLineRecord)
    return {record.__tablename__: _count(engine, record) for record in records}


def test_reimport_does_not_duplicate(write_csv: CsvWriter, engine: Engine) -> None:
    path = write_csv(
        [
            row(),
            row(stock_code="71053"),
            row(invoice="C536379", quantity="-1", customer="13047"),
        ]
    )
    import_online_retail(path, engine)
    before = _table_counts(engine)

    report = import_online_retail(path, engine)

    assert _table_counts(engine) == before
    assert before["order_lines"] == 3
    assert report.lines_imported == 3


def test_reimport_replaces_changed_order(write_csv: CsvWriter, engine: Engine) -> None:
    import_online_retail(write_csv([row(quantity="6"), row(stock_code="71053")]), engine)

    import_online_retail(write_csv([row(quantity="2")]), engine)

    lines = _lines(engine, "536365")
    assert [line.quantity for line in lines] == [2]


def test_reimport_keeps_orders_not_in_file(write_csv: CsvWriter, engine: Engine) -> None:
    import_online_retail(write_csv([row(invoice="536365")]), engine)

    import_online_retail(write_csv([row(invoice="536366")]), engine)

    assert _count(engine, OrderRecord) == 2


def test_interrupted_import_keeps_stored_data(
    write_csv: CsvWriter, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_online_retail(write_csv([row(quantity="6")]), engine)
    before = _table_counts(engine)
    # Small batches, so that several are written before the interruption.
    monkeypatch.setattr(importer, "BATCH_LINES", 2)
    monkeypatch.setattr(importer, "PROGRESS_EVERY_ROWS", 5)
    rows = [row(quantity="1")] + [row(invoice=str(600000 + i)) for i in range(9)]

    def interrupt(rows_read: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_online_retail(write_csv(rows), engine, progress=interrupt)

    assert _table_counts(engine) == before
    assert [line.quantity for line in _lines(engine, "536365")] == [6]


def test_truncated_gzip_raises_and_rolls_back(tmp_path: Path, engine: Engine) -> None:
    rows = [row(invoice=str(600000 + i), stock_code=f"S{i}") for i in range(2_000)]
    data = gzip.compress(csv_text(rows).encode("utf-8"))
    path = tmp_path / "truncated.csv.gz"
    path.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(ImportFileError, match="reading failed"):
        import_online_retail(path, engine)

    assert _count(engine, OrderLineRecord) == 0


def test_progress_reports_rows_read(
    write_csv: CsvWriter, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "PROGRESS_EVERY_ROWS", 2)
    calls: list[int] = []

    import_online_retail(write_csv([row()] * 5), engine, progress=calls.append)

    assert calls == [2, 4, 5]
