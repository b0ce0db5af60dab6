"""`aftercare review` and `aftercare review list`: the queue of drafts waiting for review."""

import json

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from agent.domain import Channel, MessageKind
from agent.review import workflow
from tests.review.helpers import private_settings, scripted_services, seed_draft

runner = CliRunner()
REVIEW_REQUEST = json.dumps(
    {
        "subject": "How are you finding your new things?",
        "body": "We hope you are enjoying your order. Would you tell us what you think?",
    }
)


@pytest.fixture
def services(prepared_data_dir, tmp_path, monkeypatch):
    yield scripted_services(private_settings(prepared_data_dir, tmp_path, monkeypatch))
    get_settings.cache_clear()


def listed(*args: str) -> list[dict]:
    result = runner.invoke(app, ["review", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_queue_lists_open_drafts_oldest_first(services) -> None:
    first = seed_draft(services)
    blocked = seed_draft(services, blocked=True)
    approved = seed_draft(services)
    workflow.approve(services.drafts, approved.id, "alice")
    ids = [item["id"] for item in listed()]
    assert ids == [first.id, blocked.id]


def test_queue_record_fields(services) -> None:
    draft = seed_draft(services, blocked=True)
    (item,) = listed()
    assert item["id"] == draft.id
    assert item["brand"] == "hearth-and-holly"
    assert item["customer_id"] == draft.customer_id
    assert item["kind"] == "order_followup"
    assert item["channel"] == "email"
    assert item["status"] == "blocked"
    assert item["findings"] == len(draft.findings)
    assert item["age_seconds"] >= 0


def test_review_without_command_shows_table(services) -> None:
    draft = seed_draft(services)
    result = runner.invoke(app, ["review"])
    assert result.exit_code == 0, result.output
    assert draft.id in result.stdout
    assert "status" in result.stdout


def test_empty_queue_says_so(services) -> None:
    result = runner.invoke(app, ["review", "list"])
    assert result.exit_code == 0
    assert "No drafts waiting for review." in result.stdout


def test_status_option_repeats(services) -> None:
    ready = seed_draft(services)
    blocked = seed_draft(services, blocked=True)
    rejected = seed_draft(services)
    workflow.reject(services.drafts, rejected.id, "bob", "off brand")
    assert [i["id"] for i in listed("--status", "blocked")] == [blocked.id]
    both = {i["id"] for i in listed("--status", "rejected", "--status", "ready")}
    assert both == {ready.id, rejected.id}


def test_kind_and_brand_filters(services) -> None:
    seed_draft(services)
    review = seed_draft(services, kind=MessageKind.REVIEW_REQUEST, output=REVIEW_REQUEST)
    assert [i["id"] for i in listed("--kind", "review_request")] == [review.id]
    assert listed("--brand", "linen-and-lark") == []
    assert len(listed("--brand", "hearth-and-holly")) == 2


def test_since_duration_and_date(services) -> None:
    seed_draft(services)
    assert len(listed("--since", "2d")) == 1
    assert len(listed("--since", "2999-01-01")) == 0
    assert len(listed("--since", "2000-01-01")) == 1


def test_invalid_since_is_usage_error(services) -> None:
    result = runner.invoke(app, ["review", "list", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "invalid --since 'yesterday'" in result.output


def test_limit_caps_rows(services) -> None:
    for _ in range(3):
        seed_draft(services, channel=Channel.SMS)
    assert len(listed("--limit", "2")) == 2


def test_unknown_status_is_usage_error(services) -> None:
    result = runner.invoke(app, ["review", "list", "--status", "sent"])
    assert result.exit_code == 2
