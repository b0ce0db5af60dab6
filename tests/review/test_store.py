from datetime import UTC, datetime

import pytest

from agent.context.db import init_db, make_engine
from agent.domain import Draft, DraftStatus, Finding, Severity, Source
from agent.review.store import DraftNotFound, DraftStore


@pytest.fixture
def store(tmp_path) -> DraftStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'drafts.db'}")
    init_db(engine)
    return DraftStore(engine)


def make_draft(draft_id: str, status: DraftStatus, minute: int = 0) -> Draft:
    return Draft(
        id=draft_id,
        created_at=datetime(2026, 12, 4, 12, minute, tzinfo=UTC),
        customer_id="17850",
        brand="hearth-and-holly",
        kind="order_followup",
        channel="email",
        status=status,
        subject="Your order is on its way",
        text="Hello,\n\nThank you for your order.\n",
        html="<p>Hello,</p>",
        fields={"subject": "Your order is on its way", "body": "Thank you for your order."},
        findings=[Finding(check_id="voice.length", severity=Severity.WARN, message="long")],
        sources=[
            Source(doc_id="voice", chunk_id="voice-0", title="Voice", doc_type="voice", score=0.5)
        ],
        model="SmolLM2-135M-Instruct.Q4_1",
        attempts=1,
        prompt_tokens=480,
        completion_tokens=40,
        latency_ms=2900,
    )


def test_saved_draft_reads_back_equal(store: DraftStore) -> None:
    draft = make_draft("a1", DraftStatus.NEEDS_REVIEW)
    store.save(draft)
    assert store.get("a1") == draft


def test_created_at_keeps_time_zone(store: DraftStore) -> None:
    store.save(make_draft("a1", DraftStatus.READY))
    assert store.get("a1").created_at.tzinfo is not None


def test_unknown_id_names_it(store: DraftStore) -> None:
    with pytest.raises(DraftNotFound) as error:
        store.get("missing")
    assert "missing" in str(error.value)


def test_list_filters_by_status(store: DraftStore) -> None:
    store.save(make_draft("a1", DraftStatus.READY, minute=1))
    store.save(make_draft("a2", DraftStatus.BLOCKED, minute=2))
    assert [d.id for d in store.list(status=DraftStatus.BLOCKED)] == ["a2"]


def test_list_newest_first(store: DraftStore) -> None:
    store.save(make_draft("a1", DraftStatus.READY, minute=1))
    store.save(make_draft("a2", DraftStatus.READY, minute=2))
    assert [d.id for d in store.list()] == ["a2", "a1"]


def test_duplicate_id_keeps_first(store: DraftStore) -> None:
    from sqlalchemy.exc import IntegrityError

    store.save(make_draft("a1", DraftStatus.READY))
    with pytest.raises(IntegrityError):
        store.save(make_draft("a1", DraftStatus.BLOCKED))
    assert store.get("a1").status == DraftStatus.READY
