"""Drafting with the real local model for real customers from the shipped extract."""

from datetime import timedelta

import pytest

from agent.domain import Channel, DraftRequest, DraftStatus, MessageKind
from agent.drafting.pipeline import Drafter
from agent.drafting.services import Services

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_services(prepared_data_dir):
    from agent.config import Settings

    return Services(Settings(data_dir=prepared_data_dir, llm_timeout_s=120))


@pytest.mark.parametrize(
    "kind", [MessageKind.ORDER_FOLLOWUP, MessageKind.USAGE_TIP, MessageKind.REVIEW_REQUEST]
)
def test_real_model_drafts_email(real_services: Services, kind: MessageKind) -> None:
    as_of = real_services.contexts.latest_order_time() + timedelta(hours=1)
    max_days = 60 if kind == MessageKind.REVIEW_REQUEST else 10
    customer = real_services.contexts.recent_customers(as_of=as_of, max_days=max_days, limit=1)[0]
    request = DraftRequest(customer_id=customer, kind=kind, channel=Channel.EMAIL, as_of=as_of)
    draft = Drafter(real_services).draft(request)
    assert draft.model.startswith("SmolLM2")
    assert draft.attempts >= 1
    assert draft.completion_tokens > 0
    assert draft.status != DraftStatus.BLOCKED
    assert "grounding.products" not in {f.check_id for f in draft.findings}
    assert real_services.drafts.get(draft.id).text == draft.text


def test_real_model_writes_followup_fields(real_services: Services) -> None:
    as_of = real_services.contexts.latest_order_time() + timedelta(hours=1)
    customers = real_services.contexts.recent_customers(as_of=as_of, max_days=10, limit=4)
    drafter = Drafter(real_services)
    drafts = [
        drafter.draft(
            DraftRequest(
                customer_id=c, kind=MessageKind.ORDER_FOLLOWUP, channel=Channel.EMAIL, as_of=as_of
            )
        )
        for c in customers
    ]
    model_written = [d for d in drafts if "body" not in d.fallback_fields]
    assert model_written, [d.findings for d in drafts]


def test_real_model_timeout_falls_back(prepared_data_dir) -> None:
    from agent.config import Settings

    settings = Settings(data_dir=prepared_data_dir, llm_timeout_s=0.001, llm_max_retries=1)
    services = Services(settings)
    as_of = services.contexts.latest_order_time() + timedelta(hours=1)
    customer = services.contexts.recent_customers(as_of=as_of, max_days=10, limit=1)[0]
    request = DraftRequest(
        customer_id=customer, kind=MessageKind.ORDER_FOLLOWUP, channel=Channel.EMAIL, as_of=as_of
    )
    draft = Drafter(services).draft(request)
    assert draft.status == DraftStatus.NEEDS_REVIEW
    assert "llm.failed" in {f.check_id for f in draft.findings}
    assert draft.fallback_fields == ["subject", "body"]
    assert services.drafts.get(draft.id).status == DraftStatus.NEEDS_REVIEW
