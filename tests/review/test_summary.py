"""The customer summary beside a draft: counts and consent, no PII beyond the first name."""

from datetime import UTC, datetime

from agent.review.summary import summarize_customer
from tests.review.helpers import latest_moment, seed_draft


def test_summary_counts_orders(services) -> None:
    draft = seed_draft(services)
    brand = services.brand(draft.brand)
    moment = latest_moment(services)
    summary = summarize_customer(services, draft.customer_id, brand, moment)
    context = services.contexts.load(draft.customer_id, as_of=moment, brand=brand)
    assert summary.found
    assert summary.orders == len(context.orders)
    assert summary.last_order_at == context.last_order().placed_at
    assert summary.open_tickets == context.open_ticket_count()


def test_summary_without_signals_says_so(services) -> None:
    draft = seed_draft(services)
    summary = summarize_customer(
        services, draft.customer_id, services.brand(draft.brand), datetime.now(UTC)
    )
    assert summary.signals is None
    assert summary.signals_note.startswith("signals not computed")


def test_summary_of_unknown_customer(services) -> None:
    summary = summarize_customer(
        services, "web-77", services.brand("hearth-and-holly"), datetime.now(UTC)
    )
    assert not summary.found
    assert summary.orders == 0


def test_summary_has_no_contact_fields() -> None:
    from agent.review.summary import CustomerSummary

    fields = set(CustomerSummary.model_fields)
    assert not fields & {"email", "phone", "address", "last_name", "country"}
