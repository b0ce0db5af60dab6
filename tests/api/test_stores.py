"""The stores the API uses, on SQLite and PostgreSQL: drafts, requests, keys and events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from agent.api.draft_requests import IdempotencyMismatch, RequestStatus, RequestStore
from agent.api.event_writer import EventWriter
from agent.api.events import ConsentEvent, OrderEvent
from agent.api.keys import create_api_key, verify_api_key
from agent.cli.serve import JsonLineFormatter
from agent.context.db import init_db, make_engine
from agent.domain import Draft, DraftRequest, DraftStatus
from agent.review.store import DraftStore
from tests.api.support import draft_payload, order_event


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    init_db(engine)
    yield engine
    engine.dispose()


def make_draft(draft_id: str, status: DraftStatus, created_at: datetime, kind: str) -> Draft:
    return Draft(
        id=draft_id,
        created_at=created_at,
        customer_id="C100",
        brand="hearth-and-holly",
        kind=kind,
        channel="email",
        status=status,
        subject="Your order",
        text="Hello",
        fields={"subject": "Your order", "body": "Hello"},
        model="scripted",
    )


def test_draft_list_filters_on_both_backends(engine) -> None:
    store = DraftStore(engine)
    noon = datetime(2026, 11, 4, 12, tzinfo=UTC)
    store.save(make_draft("d1", DraftStatus.READY, noon, "order_followup"))
    store.save(make_draft("d2", DraftStatus.BLOCKED, noon + timedelta(hours=1), "winback"))
    assert [d.id for d in store.list()] == ["d2", "d1"]
    assert [d.id for d in store.list(status=DraftStatus.READY)] == ["d1"]
    assert [d.id for d in store.list(kinds=["winback"])] == ["d2"]
    assert [d.id for d in store.list(since=noon + timedelta(minutes=30))] == ["d2"]
    assert [d.id for d in store.list(until=noon + timedelta(minutes=30))] == ["d1"]
    assert store.get("d1").created_at == noon


def test_request_idempotency_on_both_backends(engine) -> None:
    store = RequestStore(engine)
    request = DraftRequest.model_validate(draft_payload())
    first, created = store.create(request, api_key_id="k1", idempotency_key="same")
    again, created_again = store.create(request, api_key_id="k1", idempotency_key="same")
    assert created
    assert not created_again
    assert again.id == first.id
    other = DraftRequest.model_validate(draft_payload(channel="sms"))
    with pytest.raises(IdempotencyMismatch):
        store.create(other, api_key_id="k1", idempotency_key="same")
    assert store.start(first.id).status is RequestStatus.RUNNING
    assert store.start(first.id) is None
    store.fail(first.id, {"status": 503, "detail": "index missing"}, final=False)
    retried, created_retry = store.create(request, api_key_id="k1", idempotency_key="same")
    assert created_retry
    assert retried.id != first.id


def test_job_rows_keep_order_on_both_backends(engine) -> None:
    store = RequestStore(engine)
    requests = [DraftRequest.model_validate(draft_payload(customer_id=f"C{n}")) for n in range(5)]
    job, created = store.create_job(requests, api_key_id=None, idempotency_key=None)
    assert created
    stored = store.job(job.id)
    assert [item.payload["customer_id"] for item in stored.items] == [f"C{n}" for n in range(5)]
    assert [item.id for item in store.unfinished()] == [item.id for item in stored.items]


def test_keys_and_events_on_both_backends(engine) -> None:
    key, token = create_api_key(engine, "crm")
    assert verify_api_key(engine, token) == key
    writer = EventWriter(engine)
    order = OrderEvent.model_validate(order_event())
    assert writer.apply(order) is True
    assert writer.apply(order) is False
    consent = ConsentEvent.model_validate(
        {
            "type": "consent",
            "event_id": "evt-consent",
            "occurred_at": "2026-11-03T09:00:00+01:00",
            "customer_id": "C100",
            "channel": "sms",
            "granted": False,
        }
    )
    assert writer.apply(consent) is True


def test_json_log_lines_are_json() -> None:
    import json

    record = logging.LogRecord("agent.api", logging.INFO, __file__, 1, "stored %s", ("d1",), None)
    line = json.loads(JsonLineFormatter().format(record))
    assert line["message"] == "stored d1"
    assert line["level"] == "INFO"
    assert line["logger"] == "agent.api"
