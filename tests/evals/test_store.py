"""Stored eval runs in a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.context.db import make_engine
from agent.evals.results import RunStatus
from agent.evals.store import LATEST, EvalStore, RunNotFound, Selection, new_run_id
from tests.evals.conftest import case_result, run_record


@pytest.fixture
def store(tmp_path: Path) -> EvalStore:
    return EvalStore(make_engine(f"sqlite:///{tmp_path / 'runs.db'}"))


def stored_run(store: EvalStore, run_id: str, started: datetime, status=RunStatus.COMPLETED):
    record = run_record(run_id, [], started_at=started, status=RunStatus.RUNNING, tags=["smoke"])
    store.start(record)
    store.add_case(run_id, 1, case_result("a", True))
    store.add_case(run_id, 2, case_result("b", False))
    store.add_case(run_id, 3, case_result("c", True))
    store.finish(run_id, status)
    return record


def test_run_round_trip(store: EvalStore) -> None:
    stored_run(store, "run-1", datetime(2011, 12, 9, 12, tzinfo=UTC))
    loaded = store.get("run-1")
    assert loaded.status is RunStatus.COMPLETED
    assert loaded.finished_at is not None
    assert loaded.tags == ["smoke"]
    assert loaded.versions["prompts_hash"] == "p" * 64
    assert [case.case_id for case in loaded.cases] == ["a", "b", "c"]
    assert loaded.cases[1].checks[0].detail == "expected ready, got needs_review"


def test_latest_is_newest_completed(store: EvalStore) -> None:
    stored_run(store, "run-1", datetime(2011, 12, 9, 12, tzinfo=UTC))
    stored_run(store, "run-2", datetime(2011, 12, 10, 12, tzinfo=UTC))
    stored_run(store, "run-3", datetime(2011, 12, 11, 12, tzinfo=UTC), RunStatus.INTERRUPTED)
    assert store.get(LATEST).id == "run-2"
    assert store.get(LATEST, exclude="run-2").id == "run-1"


def test_latest_of_same_selection(store: EvalStore) -> None:
    stored_run(store, "full", datetime(2011, 12, 9, 12, tzinfo=UTC))
    quick = run_record(
        "quick", [], started_at=datetime(2011, 12, 10, 12, tzinfo=UTC), tags=["basic"], limit=2
    )
    store.start(quick)
    store.finish("quick", RunStatus.COMPLETED)
    assert store.get(LATEST).id == "quick"
    assert store.get(LATEST, selection=Selection.of(quick)).id == "quick"
    full_selection = Selection(golden_path="evals/golden", tags=("smoke",))
    assert store.get(LATEST, selection=full_selection).id == "full"
    with pytest.raises(RunNotFound):
        store.get(LATEST, selection=Selection(golden_path="other.yaml"))


def test_unknown_run_names_list_command(store: EvalStore) -> None:
    with pytest.raises(RunNotFound, match="aftercare eval list"):
        store.get("nope")


def test_latest_without_runs(store: EvalStore) -> None:
    with pytest.raises(RunNotFound, match="no completed eval run"):
        store.get(LATEST)


def test_list_counts_cases(store: EvalStore) -> None:
    stored_run(store, "run-1", datetime(2011, 12, 9, 12, tzinfo=UTC))
    stored_run(store, "run-2", datetime(2011, 12, 10, 12, tzinfo=UTC))
    rows = store.list(limit=5)
    assert [(record.id, cases, passed) for record, cases, passed in rows] == [
        ("run-2", 3, 2),
        ("run-1", 3, 2),
    ]


def test_finished_run_keeps_error(store: EvalStore) -> None:
    store.start(run_record("run-1", [], status=RunStatus.RUNNING))
    store.finish("run-1", RunStatus.FAILED, error="every case failed")
    assert store.get("run-1").error == "every case failed"


def test_run_ids_sort_by_time() -> None:
    early = new_run_id(datetime(2011, 12, 9, 12, tzinfo=UTC))
    late = new_run_id(datetime(2011, 12, 9, 12, 0, 1, tzinfo=UTC))
    assert early.startswith("20111209-120000-")
    assert early < late
