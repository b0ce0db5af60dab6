"""Signals refresh: every customer scored and stored at once, bad input rejected or
scored by rules, and an interrupted refresh that leaves the previous signals intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent.config import PROJECT_ROOT
from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.knowledge.brand import load_brand
from agent.signals.refresh import RefreshError, refresh_signals
from agent.signals.rfm import Segment
from agent.signals.store import (
    CustomerSignalsRecord,
    SignalsNotComputed,
    latest_refresh,
    load_brand_signals,
    signals_for,
)
from agent.signals.timing import ReviewStatus
from tests.signals.conftest import ExtractDatabase
from tests.signals.factories import brand, write_retail_csv

CLV_METHODS = {"bg_nbd+gamma_gamma", "rfm_rules", "none"}


def _stored(engine, brand_id: str = "hearth-and-holly") -> tuple[int, set[str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                func.count(), func.group_concat(CustomerSignalsRecord.refresh_id.distinct())
            ).where(CustomerSignalsRecord.brand == brand_id)
        ).one()
    return rows[0], set((rows[1] or "").split(",")) - {""}


def _import(tmp_path: Path, rows) -> object:
    engine = make_engine(f"sqlite:///{tmp_path / 'small.db'}")
    init_db(engine)
    import_online_retail(write_retail_csv(tmp_path / "small.csv", rows), engine)
    return engine


def test_refresh_scores_every_customer(extract_db: ExtractDatabase) -> None:
    engine = extract_db.engine()
    report = extract_db.refresh
    signals = load_brand_signals(engine, "hearth-and-holly")
    assert report.customers == len(signals) == 304
    assert set(report.clv_methods) <= CLV_METHODS
    assert report.clv_methods.get("bg_nbd+gamma_gamma", 0) > 0
    assert sum(report.segments.values()) == report.customers
    assert any("bg_nbd fitted" in note for note in report.notes)
    segments = {segment.value for segment in Segment}
    statuses = {status.value for status in ReviewStatus}
    for item in signals.values():
        assert item.rfm.segment in segments
        assert item.review.status in statuses
        assert 0 <= item.advocacy.score <= 100
        assert item.clv.p_alive is not None
        assert 0 <= item.clv.p_alive <= 1
        # allow_nan=False raises on any NaN or infinity left in the stored payload.
        json.dumps(item.model_dump(mode="json"), allow_nan=False)


def test_refresh_recorded(extract_db: ExtractDatabase) -> None:
    info = latest_refresh(extract_db.engine(), "hearth-and-holly")
    assert info is not None
    assert info.refresh_id == extract_db.refresh.refresh_id
    assert info.as_of == extract_db.as_of
    assert info.customers == 304


def test_signals_for_one_customer(extract_db: ExtractDatabase) -> None:
    engine = extract_db.engine()
    some_id = next(iter(load_brand_signals(engine, "hearth-and-holly")))
    signals = signals_for(engine, some_id)
    assert signals.customer_id == some_id
    assert signals.brand == "hearth-and-holly"
    assert signals_for(engine, some_id, brand="hearth-and-holly") == signals


def test_signals_for_missing_names_command(extract_db: ExtractDatabase) -> None:
    with pytest.raises(SignalsNotComputed, match="aftercare signals refresh"):
        signals_for(extract_db.engine(), "no-such-customer")
    with pytest.raises(SignalsNotComputed, match="--brand linen-and-lark"):
        signals_for(extract_db.engine(), "12347", brand="linen-and-lark")


def test_interrupted_refresh_keeps_previous(extract_copy: ExtractDatabase) -> None:
    engine = extract_copy.engine()
    before = _stored(engine)

    def interrupt(done: int, total: int) -> None:
        if done == 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        refresh_signals(
            engine, brand(), extract_copy.as_of - timedelta(days=30), progress=interrupt
        )
    assert _stored(engine) == before
    assert before[1] == {extract_copy.refresh.refresh_id}


def test_refresh_replaces_one_brand(extract_copy: ExtractDatabase) -> None:
    engine = extract_copy.engine()
    before = _stored(engine)
    other = load_brand(PROJECT_ROOT / "kb", "linen-and-lark")
    report = refresh_signals(engine, other, extract_copy.as_of)
    assert _stored(engine, "linen-and-lark") == (304, {report.refresh_id})
    assert _stored(engine) == before
    again = refresh_signals(engine, brand(), extract_copy.as_of)
    assert _stored(engine) == (304, {again.refresh_id})


def test_future_as_of_rejected(extract_db: ExtractDatabase) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(RefreshError, match="in the future"):
        refresh_signals(extract_db.engine(), brand(), future)


def test_naive_as_of_rejected(extract_db: ExtractDatabase) -> None:
    with pytest.raises(RefreshError, match="no time zone"):
        refresh_signals(extract_db.engine(), brand(), datetime(2011, 12, 1))


def test_as_of_before_data_rejected(extract_db: ExtractDatabase) -> None:
    with pytest.raises(RefreshError, match="no customer has an order"):
        refresh_signals(extract_db.engine(), brand(), datetime(2009, 1, 1, tzinfo=UTC))


def test_earlier_as_of_skips_later_customers(extract_copy: ExtractDatabase) -> None:
    report = refresh_signals(extract_copy.engine(), brand(), datetime(2011, 3, 1, tzinfo=UTC))
    assert report.skipped_later_customers > 0
    assert report.customers + report.skipped_later_customers == 304


def test_single_purchase_base_falls_back(tmp_path: Path) -> None:
    rows = [
        (
            f"5000{i}",
            "85123A",
            "WHITE HANGING HEART T-LIGHT HOLDER",
            2,
            f"2011-0{1 + i % 8}-10 10:00",
            "2.55",
            f"9000{i}",
        )
        for i in range(8)
    ]
    # A cancellation: an invoice starting with C and a negative quantity.
    rows.append(
        (
            "C50001",
            "85123A",
            "WHITE HANGING HEART T-LIGHT HOLDER",
            -2,
            "2011-02-11 10:00",
            "2.55",
            "90001",
        )
    )
    engine = _import(tmp_path, rows)
    report = refresh_signals(engine, brand(), datetime(2011, 12, 1, tzinfo=UTC))
    assert report.customers == 8
    assert report.clv_methods == {"rfm_rules": 8}
    assert any("fewer than" in note for note in report.notes)
    for item in load_brand_signals(engine, "hearth-and-holly").values():
        assert item.clv.fallback_reason is not None
        assert item.rfm.segment in {"new", "need_attention", "hibernating"}
        json.dumps(item.model_dump(mode="json"), allow_nan=False)


def test_few_repeat_buyers_fall_back(tmp_path: Path) -> None:
    rows = []
    for i in range(6):
        rows.append(
            (
                f"6000{i}",
                "22423",
                "REGENCY CAKESTAND 3 TIER",
                1,
                "2011-03-01 10:00",
                "12.75",
                f"8000{i}",
            )
        )
        if i < 3:
            rows.append(
                (
                    f"6100{i}",
                    "22423",
                    "REGENCY CAKESTAND 3 TIER",
                    1,
                    "2011-06-01 10:00",
                    "12.75",
                    f"8000{i}",
                )
            )
    engine = _import(tmp_path, rows)
    report = refresh_signals(engine, brand(), datetime(2011, 12, 1, tzinfo=UTC))
    assert report.clv_methods == {"rfm_rules": 6}
    assert any("only 3 customers have a repeat purchase" in note for note in report.notes)
    signals = load_brand_signals(engine, "hearth-and-holly")
    assert signals["80000"].rfm.orders == 2
    assert signals["80005"].rfm.orders == 1
