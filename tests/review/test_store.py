from datetime import UTC, datetime

import pytest
from sqlalchemy import delete

from agent.context.db import init_db, make_engine
from agent.domain import Draft, DraftStatus, Finding, Severity, Source
from agent.review.audit import ReviewAction
from agent.review.store import DraftChanged, DraftNotFound, DraftStore, VersionNotFound
from agent.review.versions import DraftVersionRow, VersionOrigin


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


def test_save_stores_first_version(store: DraftStore) -> None:
    draft = make_draft("a1", DraftStatus.NEEDS_REVIEW)
    store.save(draft)
    versions = store.versions("a1")
    assert [v.number for v in versions] == [1]
    assert versions[0].origin == VersionOrigin.DRAFTED
    assert versions[0].draft == draft


def test_list_filters_combine(store: DraftStore) -> None:
    store.save(make_draft("a1", DraftStatus.READY, minute=1))
    store.save(make_draft("a2", DraftStatus.BLOCKED, minute=2))
    other = make_draft("a3", DraftStatus.READY, minute=3).model_copy(update={"brand": "other"})
    store.save(other)
    found = store.list(statuses=[DraftStatus.READY, DraftStatus.BLOCKED], brand="hearth-and-holly")
    assert {d.id for d in found} == {"a1", "a2"}
    assert [d.id for d in store.list(kinds=["winback"])] == []


def test_list_since_and_oldest_first(store: DraftStore) -> None:
    for minute, draft_id in enumerate(["a1", "a2", "a3"]):
        store.save(make_draft(draft_id, DraftStatus.READY, minute=minute))
    since = datetime(2026, 12, 4, 12, 1, tzinfo=UTC)
    assert [d.id for d in store.list(since=since, oldest_first=True)] == ["a2", "a3"]


def test_list_without_limit_returns_all(store: DraftStore) -> None:
    for minute in range(3):
        store.save(make_draft(f"a{minute}", DraftStatus.READY, minute=minute))
    assert len(store.list(limit=None)) == 3
    assert len(store.list(limit=2)) == 2


def edited(draft: Draft, body: str) -> Draft:
    return draft.model_copy(update={"fields": draft.fields | {"body": body}, "text": body})


def test_add_version_updates_draft_and_history(store: DraftStore) -> None:
    draft = make_draft("a1", DraftStatus.NEEDS_REVIEW)
    store.save(draft)
    version = store.add_version(
        "a1",
        edited(draft, "Thanks again."),
        author="alice",
        action=ReviewAction.EDIT,
        origin=VersionOrigin.EDIT,
        expected_version=1,
    )
    assert version.number == 2
    assert store.get("a1").fields["body"] == "Thanks again."
    assert store.versions("a1")[0].draft == draft
    events = store.history("a1")
    assert [e.action for e in events] == [ReviewAction.EDIT]
    assert events[0].before.fields["body"] == "Thank you for your order."
    assert events[0].after.fields["body"] == "Thanks again."
    assert events[0].changed_fields() == ["body"]


def test_stale_version_changes_nothing(store: DraftStore) -> None:
    draft = make_draft("a1", DraftStatus.NEEDS_REVIEW)
    store.save(draft)
    kwargs = {"author": "alice", "action": ReviewAction.EDIT, "origin": VersionOrigin.EDIT}
    store.add_version("a1", edited(draft, "First edit."), expected_version=1, **kwargs)
    with pytest.raises(DraftChanged) as error:
        store.add_version("a1", edited(draft, "Second edit."), expected_version=1, **kwargs)
    assert "version 2" in str(error.value)
    assert store.get("a1").fields["body"] == "First edit."
    assert len(store.versions("a1")) == 2
    assert len(store.history("a1")) == 1


def test_refused_decision_changes_nothing(store: DraftStore) -> None:
    store.save(make_draft("a1", DraftStatus.BLOCKED))

    def refuse(draft: Draft) -> ReviewAction:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        store.decide(
            "a1", status=DraftStatus.APPROVED, reviewer="bob", reason=None, action_for=refuse
        )
    assert store.get("a1").status == DraftStatus.BLOCKED
    assert store.history("a1") == []


def test_draft_without_versions_gets_first_on_edit(store: DraftStore) -> None:
    draft = make_draft("a1", DraftStatus.READY)
    store.save(draft)
    with store.engine.begin() as connection:
        connection.execute(delete(DraftVersionRow))
    assert [v.number for v in store.versions("a1")] == [1]
    store.add_version(
        "a1",
        edited(draft, "Edited."),
        author="alice",
        action=ReviewAction.EDIT,
        origin=VersionOrigin.EDIT,
        expected_version=1,
    )
    versions = store.versions("a1")
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].draft.fields["body"] == "Thank you for your order."


def test_unknown_version_lists_existing(store: DraftStore) -> None:
    store.save(make_draft("a1", DraftStatus.READY))
    with pytest.raises(VersionNotFound) as error:
        store.version("a1", 7)
    assert "versions are 1" in str(error.value)


def test_history_of_unknown_draft_raises(store: DraftStore) -> None:
    with pytest.raises(DraftNotFound):
        store.history("missing")
