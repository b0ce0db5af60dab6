from agent.domain import OrderStatus
from agent.guardrails.delivery import check_delivery_status
from tests.guardrails.factories import make_context, make_fields, make_input, make_order

IN_TRANSIT = make_context(orders=[make_order(status=OrderStatus.SHIPPED, delivered_at=None)])


def test_arrived_claim_blocked_in_transit() -> None:
    fields = make_fields(subject="Your order has arrived")
    findings = check_delivery_status(make_input(context=IN_TRANSIT, fields=fields))
    assert [f.check_id for f in findings] == ["grounding.delivery_status"]
    assert findings[0].field == "subject"


def test_in_transit_claim_blocked_when_delivered() -> None:
    fields = make_fields(body="Thank you for your order. It is on its way to you.")
    findings = check_delivery_status(make_input(fields=fields))
    assert findings[0].span == "on its way"


def test_matching_claim_passes() -> None:
    fields = make_fields(subject="Your order is on its way")
    assert check_delivery_status(make_input(context=IN_TRANSIT, fields=fields)) == []


def test_neutral_copy_passes() -> None:
    fields = make_fields(subject="Your order", body="Thank you for shopping with us.")
    assert check_delivery_status(make_input(fields=fields)) == []


ESTIMATED = make_context(orders=[make_order(delivery_estimated=True)])


def test_firm_arrival_blocked_for_estimate() -> None:
    fields = make_fields(subject="Your order has arrived")
    findings = check_delivery_status(make_input(context=ESTIMATED, fields=fields))
    assert findings[0].span == "has arrived"


def test_hedged_arrival_passes_for_estimate() -> None:
    fields = make_fields(body="Thank you for your order. We hope everything arrived safely.")
    assert check_delivery_status(make_input(context=ESTIMATED, fields=fields)) == []
