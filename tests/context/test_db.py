"""Engine settings, schema creation and the UTC datetime column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from agent.context.db import SQLITE_BUSY_TIMEOUT_MS, init_db, make_engine, session_factory
from agent.context.tables import CustomerRecord, OrderLineRecord, OrderRecord, ProductRecord
from agent.domain import OrderStatus


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar()


def test_make_engine_creates_parent_folder(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "folder" / "context.db"

    engine = make_engine(f"sqlite:///{database}")
    init_db(engine)
    engine.dispose()

    assert database.is_file()


def test_sqlite_connection_settings(engine: Engine) -> None:
    assert _pragma(engine, "journal_mode") == "wal"
    assert _pragma(engine, "foreign_keys") == 1
    assert _pragma(engine, "busy_timeout") == SQLITE_BUSY_TIMEOUT_MS


def test_in_memory_sqlite_works() -> None:
    engine = make_engine("sqlite://")
    init_db(engine)

    assert _pragma(engine, "foreign_keys") == 1


def test_init_db_creates_tables_once(engine: Engine) -> None:
    init_db(engine)  # a second call leaves the existing tables alone

    names = set(inspect(engine).get_table_names())
    assert {"customers", "products", "orders", "order_lines"} <= names


def test_order_indexes_exist(engine: Engine) -> None:
    names = {index["name"] for index in inspect(engine).get_indexes("orders")}

    assert "ix_orders_customer_placed" in names
    assert "ix_orders_cancelled_placed_customer" in names


def test_foreign_keys_enforced(engine: Engine) -> None:
    order = {
        "order_id": "536365",
        "customer_id": "unknown",
        "placed_at": datetime(2011, 1, 1, tzinfo=UTC),
        "status": OrderStatus.PLACED,
        "cancelled": False,
    }

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(OrderRecord), order)


def test_negative_quantity_rejected_by_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(CustomerRecord), {"customer_id": "17850"})
        conn.execute(insert(ProductRecord), {"stock_code": "85123A", "description": "HEART"})
        conn.execute(
            insert(OrderRecord),
            {
                "order_id": "536365",
                "customer_id": "17850",
                "placed_at": datetime(2011, 1, 1, tzinfo=UTC),
                "status": OrderStatus.PLACED,
                "cancelled": False,
            },
        )
    line = {
        "order_id": "536365",
        "stock_code": "85123A",
        "description": "HEART",
        "quantity": -1,
        "unit_price": 1,
    }

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(OrderLineRecord), line)


def test_datetime_round_trips_as_utc(engine: Engine) -> None:
    london = datetime(2011, 6, 1, 10, 0, tzinfo=ZoneInfo("Europe/London"))
    sessions = session_factory(engine)
    with sessions() as session, session.begin():
        session.add(CustomerRecord(customer_id="17850"))
        session.add(
            OrderRecord(
                order_id="536365",
                customer_id="17850",
                placed_at=london,
                status=OrderStatus.PLACED,
                cancelled=False,
            )
        )

    with sessions() as session:
        placed_at = session.scalar(select(OrderRecord.placed_at))

    assert placed_at == london
    assert placed_at.tzinfo == UTC
    assert placed_at.hour == 9


def test_naive_datetime_rejected(engine: Engine) -> None:
    order = {
        "order_id": "536365",
        "customer_id": "17850",
        "placed_at": datetime(2011, 6, 1, 10, 0),
        "status": OrderStatus.PLACED,
        "cancelled": False,
    }

    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(CustomerRecord), {"customer_id": "17850"})
        conn.execute(insert(OrderRecord), order)


def test_session_objects_usable_after_commit(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        customer = CustomerRecord(customer_id="17850", country="EIRE")
        session.add(customer)
        session.commit()

    assert customer.country == "EIRE"
