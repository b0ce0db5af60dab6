"""Retention report: metrics, charts and sections from the stored extract and signals."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from agent.context.db import init_db, make_engine
from agent.signals.goals import GoalStatus, load_goals
from agent.signals.report import (
    DEFAULT_SECTIONS,
    REPORT_FILE,
    ReportData,
    ReportError,
    Section,
    cohort_retention,
    nps,
    read_surveys,
    write_report,
)
from tests.signals.conftest import ExtractDatabase
from tests.signals.test_goals import EXAMPLE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _orders(rows: list[tuple[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "date"])
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    frame["amount"] = 10.0
    frame["order_id"] = [str(i) for i in range(len(frame))]
    return frame


def test_cohort_retention_shares() -> None:
    orders = _orders(
        [
            ("a", "2011-01-05"),
            ("a", "2011-02-07"),
            ("b", "2011-01-20"),
            ("b", "2011-03-02"),
            ("c", "2011-01-25"),
            ("d", "2011-02-14"),
            ("d", "2011-03-14"),
        ]
    )
    table = cohort_retention(orders)
    assert list(table.index) == ["2011-01 (3)", "2011-02 (1)"]
    assert table.loc["2011-01 (3)", 0] == 1.0
    assert table.loc["2011-01 (3)", 1] == pytest.approx(1 / 3)
    assert table.loc["2011-01 (3)", 2] == pytest.approx(1 / 3)
    assert table.loc["2011-02 (1)", 1] == 1.0
    assert math.isnan(table.loc["2011-02 (1)", 2])


def test_nps_formula() -> None:
    assert nps([10, 9, 8, 7, 6, 0]) == pytest.approx(0.0)
    assert nps([10, 10, 3]) == pytest.approx(33.3)
    assert nps([]) is None


def test_report_on_extract(extract_db: ExtractDatabase, tmp_path: Path) -> None:
    goals = load_goals(EXAMPLE)
    result = write_report(
        extract_db.engine(), "hearth-and-holly", extract_db.as_of, tmp_path, goals=goals
    )
    text = result.path.read_text(encoding="utf-8")
    assert result.path == tmp_path / REPORT_FILE
    for title in ("Repeat purchases", "Churn", "Customer lifetime value", "Cohort retention"):
        assert f"## {title}" in text
    assert "No reviews recorded" in text
    assert "No survey scores." in text
    assert len(result.charts) == 4
    for chart in result.charts:
        assert chart.read_bytes()[:8] == PNG_SIGNATURE
        assert f"]({chart.name})" in text
    assert 0 < result.metrics["repeat_purchase_rate"] < 1
    assert 0 <= result.metrics["churn_rate"] <= 1
    assert result.metrics["mean_predicted_clv"] > 0
    assert result.metrics["nps"] is None
    assert result.metrics["average_rating"] is None
    statuses = {progress.goal.metric: progress.status for progress in result.goals}
    assert statuses["nps"] is GoalStatus.NO_DATA
    assert statuses["average_rating"] is GoalStatus.NO_DATA
    assert "| Keep churn under a quarter | churn_rate | <= 0.25 |" in text


def test_report_with_surveys(extract_db: ExtractDatabase, tmp_path: Path) -> None:
    surveys = tmp_path / "nps.csv"
    surveys.write_text("customer_id,score\n1,10\n2,9\n3,2\n4,8\n", encoding="utf-8")
    result = write_report(
        extract_db.engine(),
        "hearth-and-holly",
        extract_db.as_of,
        tmp_path / "out",
        surveys=read_surveys(surveys),
    )
    assert result.metrics["nps"] == pytest.approx(25.0)
    assert "NPS **+25.0** from 4 answers" in result.path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer_id,rating\n1,5\n", "lacks the columns ['score']"),
        ("customer_id,score\n1,11\n", "line 2: score '11'"),
        ("customer_id,score\n1,\n", "line 2: score ''"),
    ],
)
def test_bad_surveys_rejected(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "nps.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError) as error:
        read_surveys(path)
    assert expected in str(error.value)


def test_report_without_signals(extract_db: ExtractDatabase, tmp_path: Path) -> None:
    result = write_report(extract_db.engine(), "linen-and-lark", extract_db.as_of, tmp_path)
    text = result.path.read_text(encoding="utf-8")
    assert "aftercare signals refresh" in text
    assert result.metrics["churn_rate"] is None
    assert result.metrics["repeat_purchase_rate"] is not None


def test_report_extra_section(extract_db: ExtractDatabase, tmp_path: Path) -> None:
    def community(data: ReportData) -> Section:
        return Section("Community insights", f"{len(data.orders)} orders seen.")

    result = write_report(
        extract_db.engine(),
        "hearth-and-holly",
        extract_db.as_of,
        tmp_path,
        sections=[*DEFAULT_SECTIONS, community],
    )
    assert "## Community insights" in result.path.read_text(encoding="utf-8")


def test_report_without_orders(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    init_db(engine)
    with pytest.raises(ReportError, match="no live order"):
        write_report(engine, "hearth-and-holly", datetime(2011, 12, 9, tzinfo=UTC), tmp_path)
