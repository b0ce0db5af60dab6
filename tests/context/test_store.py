"""ContextStore: loading one customer's context and selecting customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from agent.context.importer import import_online_retail
from agent.context.store import ContextStore, CustomerNotFound
from agent.domain import BrandProfile, OrderStatus
from tests.context.conftest import CsvWriter, row

# London time equals UTC in winter. A test that depends on the offset either uses winter
# dates or gives the offset in a comment.
AS_OF = datetime(2011, 12, 9, 12, 0, tzinfo=UTC)


def _store(write_csv: CsvWriter, engine: Engine, rows: Sequence[list[str]]) -> ContextStore:
    report = import_online_retail(write_csv(rows), engine)
    assert report.malformed == 0, report.malformed_examples
    return ContextStore(engine)


def _order_rows(invoice: str, customer: str, date: str, price: str = "2.00") -> list[str]:
    return row(invoice=invoice, customer=customer, date=date, price=price)


# --- load ------------------------------------------------------------------------------


def test_load_customer_fields(write_csv: CsvWriter, engine: Engine, brand: BrandProfile) -> None:
    store = _store(write_csv, engine, [row(customer="12345", country="EIRE")])

    context = store.load("12345", as_of=AS_OF, brand=brand)

    assert context.customer_id == "12345"
    assert context.country == "EIRE"
    assert context.timezone == "Europe/Dublin"
    assert context.first_name is None
    assert context.consent.email_marketing is None
    assert context.consent.sms_marketing is None


def test_load_excludes_orders_after_as_of(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    rows = [
        row(invoice="536365", date="2011-12-01 10:00:00"),
        row(invoice="536366", date="2011-12-09 12:00:00"),
        row(invoice="536367", date="2011-12-09 12:01:00"),
    ]
    store = _store(write_csv, engine, rows)

    context = store.load("17850", as_of=AS_OF, brand=brand)

    assert [order.order_id for order in context.orders] == ["536365", "536366"]


def test_load_orders_oldest_first(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    rows = [
        row(invoice="536367", date="2011-11-03 10:00:00"),
        row(invoice="536365", date="2011-11-01 10:00:00"),
        row(invoice="536366", date="2011-11-02 10:00:00"),
    ]
    store = _store(write_csv, engine, rows)

    context = store.load("17850", as_of=AS_OF, brand=brand)

    assert [order.order_id for order in context.orders] == ["536365", "536366", "536367"]


def test_load_delivered_order(write_csv: CsvWriter, engine: Engine, brand: BrandProfile) -> None:
    store = _store(write_csv, engine, [row(date="2011-12-01 10:00:00")])

    order = store.load("17850", as_of=AS_OF, brand=brand).orders[0]

    assert order.status == OrderStatus.DELIVERED
    assert order.placed_at == datetime(2011, 12, 1, 10, 0, tzinfo=UTC)
    assert order.delivered_at == datetime(2011, 12, 6, 18, 0, tzinfo=UTC)
    assert order.delivery_estimated is True


def test_load_shipped_order(write_csv: CsvWriter, engine: Engine, brand: BrandProfile) -> None:
    store = _store(write_csv, engine, [row(date="2011-12-07 10:00:00")])

    order = store.load("17850", as_of=AS_OF, brand=brand).orders[0]

    assert order.status == OrderStatus.SHIPPED
    assert order.delivered_at is None
    assert order.delivery_estimated is False


def test_load_delivered_exactly_at_as_of(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    store = _store(write_csv, engine, [row(date="2011-12-01 10:00:00")])
    expected = datetime(2011, 12, 6, 18, 0, tzinfo=UTC)

    order = store.load("17850", as_of=expected, brand=brand).orders[0]

    assert order.status == OrderStatus.DELIVERED
    assert order.delivered_at == expected


def test_load_uses_brand_delivery_days(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    store = _store(write_csv, engine, [row(date="2011-12-07 10:00:00")])
    quick = brand.model_copy(update={"delivery_days": 1})

    order = store.load("17850", as_of=AS_OF, brand=quick).orders[0]

    assert order.status == OrderStatus.DELIVERED
    assert order.delivered_at == datetime(2011, 12, 8, 18, 0, tzinfo=UTC)


def test_load_cancelled_order(write_csv: CsvWriter, engine: Engine, brand: BrandProfile) -> None:
    store = _store(write_csv, engine, [row(invoice="C536379", quantity="-3")])

    order = store.load("17850", as_of=AS_OF, brand=brand).orders[0]

    assert order.status == OrderStatus.CANCELLED
    assert order.delivered_at is None
    assert order.delivery_estimated is False
    assert order.lines[0].quantity == 3


def test_load_lines_in_source_order(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    rows = [
        row(stock_code="85123A", description="WHITE HANGING HEART T-LIGHT HOLDER", price="2.55"),
        row(stock_code="21071", description="VINTAGE BILLBOARD DRINK ME MUG", quantity="12"),
        row(stock_code="POST", description="POSTAGE", price="0"),
    ]
    store = _store(write_csv, engine, rows)

    lines = store.load("17850", as_of=AS_OF, brand=brand).orders[0].lines

    assert [line.stock_code for line in lines] == ["85123A", "21071", "POST"]
    assert [line.quantity for line in lines] == [6, 12, 6]
    assert lines[0].unit_price == Decimal("2.55")
    assert lines[2].unit_price == Decimal("0.00")


def test_load_classifies_product_families(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    rows = [
        row(stock_code="85123A", description="WHITE HANGING HEART T-LIGHT HOLDER"),
        row(stock_code="21071", description="VINTAGE BILLBOARD DRINK ME MUG"),
        row(stock_code="22086", description="PAPER CHAIN KIT 50'S CHRISTMAS"),
    ]
    store = _store(write_csv, engine, rows)

    lines = store.load("17850", as_of=AS_OF, brand=brand).orders[0].lines

    assert [line.family for line in lines] == ["candles", "mugs", None]


def test_load_classifies_each_description_once(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    import_online_retail(
        write_csv([row(invoice="536365"), row(invoice="536366"), row(invoice="536367")]), engine
    )
    calls: list[str] = []

    def classify(description: str, profile: BrandProfile) -> str | None:
        calls.append(description)
        return "hearts"

    store = ContextStore(engine, classify=classify)
    context = store.load("17850", as_of=AS_OF, brand=brand)

    assert calls == ["WHITE HANGING HEART T-LIGHT HOLDER"]
    assert {order.lines[0].family for order in context.orders} == {"hearts"}


def test_load_as_of_other_zone(write_csv: CsvWriter, engine: Engine, brand: BrandProfile) -> None:
    store = _store(write_csv, engine, [row(date="2011-07-01 10:00:00")])  # 09:00 UTC
    just_before = datetime(2011, 7, 1, 4, 59, tzinfo=ZoneInfo("America/New_York"))
    at_placing = datetime(2011, 7, 1, 5, 0, tzinfo=ZoneInfo("America/New_York"))

    assert store.load("17850", as_of=just_before, brand=brand).orders == []
    assert len(store.load("17850", as_of=at_placing, brand=brand).orders) == 1


def test_load_customer_without_orders_yet(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    store = _store(write_csv, engine, [row(date="2011-12-10 10:00:00")])

    context = store.load("17850", as_of=AS_OF, brand=brand)

    assert context.orders == []
    assert context.last_order() is None


def test_load_unknown_customer_raises(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    store = _store(write_csv, engine, [row()])

    with pytest.raises(CustomerNotFound) as caught:
        store.load("99999", as_of=AS_OF, brand=brand)

    assert caught.value.customer_id == "99999"
    assert "'99999'" in str(caught.value)
    assert "aftercare import online-retail" in str(caught.value)
    assert isinstance(caught.value, LookupError)


def test_load_naive_as_of_rejected(
    write_csv: CsvWriter, engine: Engine, brand: BrandProfile
) -> None:
    store = _store(write_csv, engine, [row()])

    with pytest.raises(ValueError, match="`as_of` must be time zone-aware"):
        store.load("17850", as_of=datetime(2011, 12, 9), brand=brand)


# --- recent customers -----------------------------------------------------------------


def test_recent_most_recent_first_then_id(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        _order_rows("536365", "10001", "2011-12-01 10:00:00"),
        _order_rows("536366", "10003", "2011-12-08 10:00:00"),
        _order_rows("536367", "10002", "2011-12-08 10:00:00"),
        _order_rows("536368", "10004", "2011-12-05 10:00:00"),
    ]
    store = _store(write_csv, engine, rows)

    recent = store.recent_customers(as_of=AS_OF, max_days=14, limit=10)

    assert recent == ["10002", "10003", "10004", "10001"]


def test_recent_window_boundary(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        _order_rows("536365", "10001", "2011-11-25 12:00:00"),  # exactly 14 days before
        _order_rows("536366", "10002", "2011-11-25 11:59:00"),
    ]
    store = _store(write_csv, engine, rows)

    assert store.recent_customers(as_of=AS_OF, max_days=14, limit=10) == ["10001"]


def test_recent_skips_cancelled_last_order(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        _order_rows("536365", "10001", "2011-06-01 10:00:00"),
        row(invoice="C536366", customer="10001", quantity="-1", date="2011-12-08 10:00:00"),
    ]
    store = _store(write_csv, engine, rows)

    assert store.recent_customers(as_of=AS_OF, max_days=14, limit=10) == []


def test_recent_ignores_orders_after_as_of(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        _order_rows("536365", "10001", "2011-12-10 10:00:00"),
        _order_rows("536366", "10002", "2011-12-01 10:00:00"),
        _order_rows("536367", "10002", "2011-12-11 10:00:00"),
    ]
    store = _store(write_csv, engine, rows)

    assert store.recent_customers(as_of=AS_OF, max_days=14, limit=10) == ["10002"]


def test_recent_respects_limit(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        _order_rows(str(536365 + i), str(10001 + i), f"2011-12-0{i + 1} 10:00:00") for i in range(5)
    ]
    store = _store(write_csv, engine, rows)

    assert store.recent_customers(as_of=AS_OF, max_days=14, limit=2) == ["10005", "10004"]


# --- lapsed customers -----------------------------------------------------------------


def _three_orders(customer: str, first_invoice: int, month: int, price: str) -> list[list[str]]:
    return [
        _order_rows(str(first_invoice + i), customer, f"2011-{month:02d}-0{i + 1} 10:00:00", price)
        for i in range(3)
    ]


def test_lapsed_highest_spend_first(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        *_three_orders("10001", 540001, 3, "1.00"),
        *_three_orders("10002", 540011, 3, "5.00"),
        *_three_orders("10003", 540021, 4, "1.00"),
    ]
    store = _store(write_csv, engine, rows)

    lapsed = store.lapsed_customers(as_of=AS_OF, min_days=90, min_orders=3, limit=10)

    assert lapsed == ["10002", "10001", "10003"]


def test_lapsed_requires_min_days(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        *_three_orders("10001", 540001, 3, "1.00"),
        *_three_orders("10002", 540011, 3, "1.00"),
        _order_rows("540099", "10002", "2011-11-01 10:00:00"),
    ]
    store = _store(write_csv, engine, rows)

    lapsed = store.lapsed_customers(as_of=AS_OF, min_days=90, min_orders=3, limit=10)

    assert lapsed == ["10001"]


def test_lapsed_min_days_boundary(write_csv: CsvWriter, engine: Engine) -> None:
    cutoff = AS_OF - timedelta(days=90)  # 2011-09-10 12:00 UTC, 13:00 in London
    rows = [
        _order_rows("540001", "10001", "2011-01-01 10:00:00"),
        _order_rows("540002", "10001", "2011-09-10 13:00:00"),
        _order_rows("540003", "10002", "2011-01-01 10:00:00"),
        _order_rows("540004", "10002", "2011-09-10 13:01:00"),
    ]
    store = _store(write_csv, engine, rows)

    lapsed = store.lapsed_customers(as_of=AS_OF, min_days=90, min_orders=2, limit=10)

    assert cutoff == datetime(2011, 9, 10, 12, 0, tzinfo=UTC)
    assert lapsed == ["10001"]


def test_lapsed_cancelled_orders_do_not_count(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        _order_rows("540001", "10001", "2011-03-01 10:00:00"),
        _order_rows("540002", "10001", "2011-03-02 10:00:00"),
        row(invoice="C540003", customer="10001", quantity="-1", date="2011-03-03 10:00:00"),
        *_three_orders("10002", 540011, 3, "1.00"),
        row(invoice="C540099", customer="10002", quantity="-1", date="2011-12-01 10:00:00"),
    ]
    store = _store(write_csv, engine, rows)

    lapsed = store.lapsed_customers(as_of=AS_OF, min_days=90, min_orders=3, limit=10)

    assert lapsed == ["10002"]


def test_lapsed_ties_ordered_by_id(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [*_three_orders("10009", 540001, 3, "1.00"), *_three_orders("10001", 540011, 3, "1.00")]
    store = _store(write_csv, engine, rows)

    lapsed = store.lapsed_customers(as_of=AS_OF, min_days=90, min_orders=3, limit=10)

    assert lapsed == ["10001", "10009"]


def test_lapsed_respects_limit(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        *_three_orders("10001", 540001, 3, "1.00"),
        *_three_orders("10002", 540011, 3, "2.00"),
        *_three_orders("10003", 540021, 3, "3.00"),
    ]
    store = _store(write_csv, engine, rows)

    lapsed = store.lapsed_customers(as_of=AS_OF, min_days=90, min_orders=3, limit=2)

    assert lapsed == ["10003", "10002"]


# --- catalogue and latest order ---------------------------------------------------------


def test_catalogue_includes_line_variants(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        row(invoice="536365", description="HEART HOLDER"),
        row(invoice="536366", description="HEART HOLDER"),
        row(invoice="536367", description="HEART HOLDER WHITE"),
        row(invoice="536368", stock_code="21071", description="DRINK ME MUG"),
    ]
    store = _store(write_csv, engine, rows)

    assert store.catalogue() == frozenset({"HEART HOLDER", "HEART HOLDER WHITE", "DRINK ME MUG"})


def test_latest_order_time_includes_cancellations(write_csv: CsvWriter, engine: Engine) -> None:
    rows = [
        row(invoice="536365", date="2011-12-01 10:00:00"),
        row(invoice="C536366", quantity="-1", date="2011-12-09 12:50:00"),
    ]
    store = _store(write_csv, engine, rows)

    latest = store.latest_order_time()

    assert latest == datetime(2011, 12, 9, 12, 50, tzinfo=UTC)
    assert latest is not None
    assert latest.tzinfo == UTC


def test_empty_store(engine: Engine) -> None:
    store = ContextStore(engine)

    assert store.latest_order_time() is None
    assert store.catalogue() == frozenset()
    assert store.recent_customers(as_of=AS_OF, max_days=14, limit=10) == []
    assert store.lapsed_customers(as_of=AS_OF, min_days=90, min_orders=1, limit=10) == []
