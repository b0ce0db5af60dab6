"""`/v1/drafts` over real loopback HTTP, on SQLite and PostgreSQL, with the real index."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.api.problems import PROBLEM_JSON
from agent.api.tables import DraftRequestRecord
from tests.api.support import AS_OF, Api, draft_payload


def field_names(response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    for member in ("type", "title", "detail", "instance"):
        assert body[member], member
    return body


def test_create_then_get_draft(api: Api) -> None:
    created = api.client.post("/v1/drafts", json=draft_payload())
    assert created.status_code == 201, created.text
    draft = created.json()
    assert created.headers["location"] == f"/v1/drafts/{draft['id']}"
    assert draft["customer_id"] == "C100"
    fetched = api.client.get(f"/v1/drafts/{draft['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == draft


def test_create_persists_request_as_done(api: Api) -> None:
    draft = api.client.post("/v1/drafts", json=draft_payload()).json()
    with Session(api.services.engine) as session:
        rows = list(session.scalars(select(DraftRequestRecord)))
    assert [(row.status, row.draft_id, row.attempts) for row in rows] == [("done", draft["id"], 1)]


def test_invalid_kind_names_field(api: Api) -> None:
    response = api.client.post("/v1/drafts", json=draft_payload(kind="newsletter"))
    body = assert_problem(response, 422)
    assert field_names(response) == ["kind"]
    assert "`kind`" in body["detail"]


def test_every_invalid_field_is_named(api: Api) -> None:
    response = api.client.post("/v1/drafts", json=draft_payload(kind="newsletter", channel="fax"))
    assert_problem(response, 422)
    assert sorted(field_names(response)) == ["channel", "kind"]


def test_naive_as_of_names_field(api: Api) -> None:
    response = api.client.post("/v1/drafts", json=draft_payload(as_of="2026-11-04T10:00:00"))
    body = assert_problem(response, 422)
    [error] = body["errors"]
    assert error["field"] == "as_of"
    assert "time zone" in error["message"]


def test_naive_time_in_inline_context_names_field(api: Api) -> None:
    context = {
        "customer_id": "inline-1",
        "orders": [
            {
                "order_id": "X1",
                "placed_at": "2026-11-02T10:00:00",
                "lines": [
                    {"stock_code": "1", "description": "MUG", "quantity": 1, "unit_price": 1}
                ],
            }
        ],
    }
    body = draft_payload(context=context)
    del body["customer_id"]
    response = api.client.post("/v1/drafts", json=body)
    assert_problem(response, 422)
    assert field_names(response) == ["context.orders[0].placed_at"]


def test_far_future_as_of_is_422_not_500(api: Api) -> None:
    response = api.client.post("/v1/drafts", json=draft_payload(as_of="9999-12-31T23:59:59-14:00"))
    body = assert_problem(response, 422)
    assert "as_of" in body["detail"]


def test_unknown_customer_is_404(api: Api) -> None:
    response = api.client.post("/v1/drafts", json=draft_payload(customer_id="no-such-customer"))
    body = assert_problem(response, 404)
    assert "no-such-customer" in body["detail"]


def test_ineligible_request_is_409_with_check_id(api: Api) -> None:
    response = api.client.post(
        "/v1/drafts", json=draft_payload(kind="review_request", channel="sms")
    )
    body = assert_problem(response, 409)
    assert body["check_id"] == "compliance.consent"


def test_unknown_draft_is_404(api: Api) -> None:
    body = assert_problem(api.client.get("/v1/drafts/doesnotexist"), 404)
    assert "doesnotexist" in body["detail"]


def test_unknown_route_is_problem(api: Api) -> None:
    assert_problem(api.client.get("/v1/nothing-here"), 404)


def test_same_idempotency_key_returns_same_draft(api: Api) -> None:
    headers = {"Idempotency-Key": "order-A1001-followup"}
    first = api.client.post("/v1/drafts", json=draft_payload(), headers=headers)
    calls = api.provider.calls
    second = api.client.post("/v1/drafts", json=draft_payload(), headers=headers)
    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert api.provider.calls == calls


def test_idempotency_key_with_other_body_is_422(api: Api) -> None:
    headers = {"Idempotency-Key": "key-1"}
    assert api.client.post("/v1/drafts", json=draft_payload(), headers=headers).status_code == 201
    other = draft_payload(channel="sms")
    body = assert_problem(api.client.post("/v1/drafts", json=other, headers=headers), 422)
    assert "key-1" in body["detail"]


def test_idempotent_failure_replays_same_problem(api: Api) -> None:
    headers = {"Idempotency-Key": "missing-customer"}
    payload = draft_payload(customer_id="nobody")
    first = api.client.post("/v1/drafts", json=payload, headers=headers)
    second = api.client.post("/v1/drafts", json=payload, headers=headers)
    assert_problem(first, 404)
    assert_problem(second, 404)
    assert second.json() == first.json()


def test_list_filters_by_status_kind_brand_and_time(api: Api) -> None:
    draft = api.client.post("/v1/drafts", json=draft_payload()).json()
    created = draft["created_at"]
    cases = {
        "": 1,
        f"?status={draft['status']}": 1,
        "?status=approved": 0,
        "?kind=order_followup": 1,
        "?kind=winback": 0,
        "?brand=hearth-and-holly": 1,
        "?brand=linen-and-lark": 0,
        "?limit=1": 1,
    }
    for query, expected in cases.items():
        page = api.client.get(f"/v1/drafts{query}").json()
        assert page["count"] == expected, query
    assert [d["id"] for d in api.client.get("/v1/drafts").json()["items"]] == [draft["id"]]
    since = api.client.get("/v1/drafts", params={"since": created}).json()
    until = api.client.get("/v1/drafts", params={"until": created}).json()
    assert since["count"] == 1
    assert until["count"] == 0


def test_list_rejects_naive_since(api: Api) -> None:
    response = api.client.get("/v1/drafts", params={"since": "2026-11-01T00:00:00"})
    assert_problem(response, 422)
    assert field_names(response) == ["since"]


def test_unknown_query_parameter_is_422(api: Api) -> None:
    response = api.client.get("/v1/drafts", params={"stauts": "ready"})
    body = assert_problem(response, 422)
    assert field_names(response) == ["stauts"]
    assert "`stauts`" in body["detail"]


def test_approve_then_reject_is_409(api: Api) -> None:
    draft = api.client.post("/v1/drafts", json=draft_payload()).json()
    url = f"/v1/drafts/{draft['id']}"
    if draft["status"] == "blocked":
        approval = {"reviewer": "sam", "override": "checked by hand"}
    else:
        approval = {"reviewer": "sam"}
    approved = api.client.post(f"{url}/approve", json=approval)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    rejected = api.client.post(f"{url}/reject", json={"reviewer": "kim", "reason": "too late"})
    assert_problem(rejected, 409)
    assert api.client.get(url).json()["status"] == "approved"


def test_reject_needs_reason(api: Api) -> None:
    draft = api.client.post("/v1/drafts", json=draft_payload()).json()
    response = api.client.post(f"/v1/drafts/{draft['id']}/reject", json={"reviewer": "kim"})
    assert_problem(response, 422)
    assert field_names(response) == ["reason"]


def test_reject_records_status(api: Api) -> None:
    draft = api.client.post("/v1/drafts", json=draft_payload()).json()
    response = api.client.post(
        f"/v1/drafts/{draft['id']}/reject", json={"reviewer": "kim", "reason": "off brand"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"


def test_approve_unknown_draft_is_404(api: Api) -> None:
    response = api.client.post("/v1/drafts/nosuchdraft/approve", json={"reviewer": "sam"})
    assert_problem(response, 404)


def test_inline_context_draft(api: Api) -> None:
    context = {
        "customer_id": "inline-7",
        "orders": [
            {
                "order_id": "X7",
                "placed_at": (AS_OF - timedelta(days=2)).isoformat(),
                "lines": [
                    {
                        "stock_code": "85123A",
                        "description": "WHITE HANGING HEART T-LIGHT HOLDER",
                        "quantity": 1,
                        "unit_price": "2.55",
                    }
                ],
            }
        ],
    }
    body = draft_payload(context=context)
    del body["customer_id"]
    response = api.client.post("/v1/drafts", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["customer_id"] == "inline-7"
