"""The demo, end to end with the real local model on the shipped extract."""

from datetime import timedelta

import pytest

from agent.config import Settings
from agent.demo import run_demo
from agent.domain import DraftStatus
from agent.drafting.render import display_name
from agent.drafting.services import Services

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo"))
    return settings, run_demo(settings)


def test_demo_drafts_at_least_twelve(demo_run) -> None:
    _, result = demo_run
    assert len(result.drafts) >= 12


def test_demo_covers_every_core_kind(demo_run) -> None:
    _, result = demo_run
    assert {d.kind for d in result.drafts} == {
        "order_followup",
        "usage_tip",
        "review_request",
        "winback",
    }


def test_demo_covers_both_channels(demo_run) -> None:
    _, result = demo_run
    assert {d.channel for d in result.drafts} == {"email", "sms"}


def test_demo_drafts_are_not_blocked(demo_run) -> None:
    _, result = demo_run
    blocked = [(d.id, d.findings) for d in result.drafts if d.status == DraftStatus.BLOCKED]
    assert blocked == []


def test_demo_lists_only_bought_products(demo_run) -> None:
    settings, result = demo_run
    services = Services(settings)
    brand = services.brand(settings.default_brand)
    for draft in result.drafts:
        context = services.contexts.load(
            draft.customer_id, as_of=result.as_of + timedelta(seconds=1), brand=brand
        )
        bought = {display_name(d) for d in context.product_descriptions()}
        listed = [line[2:] for line in draft.text.splitlines() if line.startswith("- ")]
        named = [item for item in listed if not item.startswith("and ")]
        assert set(named) <= bought, draft.id


def test_demo_writes_previews(demo_run) -> None:
    _, result = demo_run
    assert all(path.is_file() for path in result.previews)
    assert any(path.suffix == ".html" for path in result.previews)


def test_demo_reports_ineligible_sms(demo_run) -> None:
    _, result = demo_run
    reasons = [reason for _, reason in result.ineligible]
    assert any(reason.startswith("compliance.consent") for reason in reasons)
