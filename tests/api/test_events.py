"""`/v1/events`: CRM webhook events land in the context store once, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.api.tables import DeliveryRecord, ProcessedEventRecord
from agent.context.tables import OrderLineRecord, ProductRecord
from agent.knowledge.brand import load_brand
from agent.loyalty.ledger import store_program
from agent.loyalty.program import load_program
from tests.api.support import AS_OF, PLACED_AT, Api, order_event
from tests.api.test_drafts_api import assert_problem, field_names


def load_context(api: Api, customer_id: str = "C100"):
    brand = load_brand(api.services.settings.kb_dir, "hearth-and-holly")
    return api.services.contexts.load(customer_id, as_of=AS_OF, brand=brand)


def count(api: Api, column) -> int:
    with Session(api.services.engine) as session:
        return session.scalar(select(func.count(column)))


def event(event_type: str, event_id: str, **fields) -> dict:
    body = {
        "type": event_type,
        "event_id": event_id,
        "occurred_at": (PLACED_AT + timedelta(days=1)).isoformat(),
        "customer_id": "C100",
    }
    return body | fields


def test_order_event_creates_customer_order_and_lines(api: Api) -> None:
    context = load_context(api)
    assert context.first_name == "Ada"
    assert [order.order_id for order in context.orders] == ["A1001"]
    [line] = context.orders[0].lines
    assert line.description == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert line.family == "candles-and-lighting"


def test_repeated_event_is_duplicate_and_changes_nothing(api: Api) -> None:
    lines_before = count(api, OrderLineRecord.id)
    again = api.client.post("/v1/events", json=order_event())
    assert again.status_code == 200
    assert again.json() == {"event_id": "evt-order-1", "type": "order", "duplicate": True}
    assert count(api, OrderLineRecord.id) == lines_before
    assert count(api, ProcessedEventRecord.event_id) == 1


def test_new_order_event_replaces_lines(api: Api) -> None:
    update = order_event(
        "evt-order-2",
        lines=[
            {
                "stock_code": "22423",
                "description": "REGENCY CAKESTAND 3 TIER",
                "quantity": 1,
                "unit_price": "12.75",
            },
            {
                "stock_code": "85123A",
                "description": "WHITE HANGING HEART T-LIGHT HOLDER",
                "quantity": 6,
                "unit_price": "2.55",
            },
        ],
    )
    assert api.client.post("/v1/events", json=update).status_code == 201
    [order] = load_context(api).orders
    assert [(line.stock_code, line.quantity) for line in order.lines] == [
        ("22423", 1),
        ("85123A", 6),
    ]
    assert count(api, ProductRecord.stock_code) == 2


def test_cancellation_marks_order_cancelled(api: Api) -> None:
    cancel = order_event("evt-order-3", status="cancelled")
    assert api.client.post("/v1/events", json=cancel).status_code == 201
    [order] = load_context(api).orders
    assert order.status == "cancelled"


def test_history_events_fill_the_context(api: Api) -> None:
    events = [
        event(
            "ticket",
            "evt-t1",
            ticket_id="T-1",
            category="damaged",
            subject="Broken holder",
            text="It arrived cracked.",
            opened_at=(PLACED_AT + timedelta(days=1)).isoformat(),
        ),
        event("review", "evt-r1", stock_code="85123A", rating=2, text="Cracked glass."),
        event("return", "evt-ret1", order_id="A1001", stock_code="85123A", reason="damaged"),
        event("consent", "evt-c1", channel="email", granted=True),
        event("message_sent", "evt-m1", kind="order_followup", channel="email"),
    ]
    for body in events:
        response = api.client.post("/v1/events", json=body)
        assert response.status_code == 201, (body["type"], response.text)
    context = load_context(api)
    assert [(t.ticket_id, t.status) for t in context.tickets] == [("T-1", "open")]
    assert [r.rating for r in context.reviews] == [2]
    assert [r.reason for r in context.returns] == ["damaged"]
    assert context.consent.email_marketing is True
    assert context.consent.sms_marketing is None
    assert [(m.kind, m.channel) for m in context.messages_sent] == [("order_followup", "email")]


def test_ticket_event_update_closes_ticket(api: Api) -> None:
    opened = (PLACED_AT + timedelta(days=1)).isoformat()
    closed = (PLACED_AT + timedelta(days=1, hours=3)).isoformat()
    first = event("ticket", "evt-t1", ticket_id="T-2", opened_at=opened)
    second = event(
        "ticket", "evt-t2", ticket_id="T-2", status="closed", opened_at=opened, closed_at=closed
    )
    for body in (first, second):
        assert api.client.post("/v1/events", json=body).status_code == 201
    assert [(t.ticket_id, t.status) for t in load_context(api).tickets] == [("T-2", "closed")]


def test_delivery_event_is_stored(api: Api) -> None:
    body = event("delivery", "evt-d1", order_id="A1001", status="delivered", carrier="Royal Mail")
    assert api.client.post("/v1/events", json=body).status_code == 201
    with Session(api.services.engine) as session:
        delivery = session.get(DeliveryRecord, "A1001")
    assert delivery.status == "delivered"
    assert delivery.delivered_at == PLACED_AT + timedelta(days=1)


def test_delivery_for_unknown_order_is_422(api: Api) -> None:
    body = event("delivery", "evt-d2", order_id="NOPE", status="shipped")
    problem = assert_problem(api.client.post("/v1/events", json=body), 422)
    assert "NOPE" in problem["detail"]
    assert count(api, ProcessedEventRecord.event_id) == 1


def test_order_of_other_customer_is_422(api: Api) -> None:
    body = order_event("evt-order-9", customer_id="C200")
    problem = assert_problem(api.client.post("/v1/events", json=body), 422)
    assert "A1001" in problem["detail"]


def test_naive_occurred_at_names_field(api: Api) -> None:
    body = order_event("evt-naive", occurred_at="2026-11-02T10:00:00")
    response = api.client.post("/v1/events", json=body)
    assert_problem(response, 422)
    assert field_names(response) == ["order.occurred_at"]


def test_unknown_event_type_is_422(api: Api) -> None:
    body = event("refund", "evt-x")
    assert_problem(api.client.post("/v1/events", json=body), 422)


def test_invalid_time_zone_names_field(api: Api) -> None:
    body = order_event("evt-zone", customer={"timezone": "Mars/Olympus"})
    response = api.client.post("/v1/events", json=body)
    assert_problem(response, 422)
    assert field_names(response) == ["order.customer.timezone"]


def _store_loyalty_program(api: Api) -> None:
    settings = api.services.settings
    program = load_program(settings.kb_dir, "hearth-and-holly")
    with api.services.engine.begin() as conn:
        store_program(conn, "hearth-and-holly", program)


def test_loyalty_event_adds_points(api: Api) -> None:
    _store_loyalty_program(api)
    body = event("loyalty", "evt-points-1", brand="hearth-and-holly", entry="earned")
    response = api.client.post("/v1/events", json=body | {"points": 120, "reference": "A1001"})
    assert response.status_code == 201, response.text
    account = load_context(api).loyalty
    assert account is not None
    assert account.balance == 120


def test_loyalty_overdraft_is_422(api: Api) -> None:
    _store_loyalty_program(api)
    body = event("loyalty", "evt-points-2", brand="hearth-and-holly", entry="redeemed")
    response = api.client.post("/v1/events", json=body | {"points": 500, "reference": "R1"})
    assert_problem(response, 422)
    assert load_context(api).loyalty is None


def test_loyalty_event_without_programme_is_422(api: Api) -> None:
    body = event("loyalty", "evt-points-3", brand="hearth-and-holly", entry="earned")
    response = api.client.post("/v1/events", json=body | {"points": 10, "reference": "A1001"})
    assert_problem(response, 422)
    assert "hearth-and-holly" in response.json()["detail"]
