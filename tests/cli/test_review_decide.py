"""`aftercare review approve`, `reject` and `regenerate`, and the audit trail they leave."""

import getpass
import json

import pytest
from typer.testing import CliRunner

from agent.cli import common
from agent.cli import review as review_cli
from agent.cli.app import app
from agent.config import get_settings
from agent.domain import DraftStatus
from tests.review.helpers import private_settings, scripted_services, seed_draft

runner = CliRunner()
REGENERATED = json.dumps(
    {
        "subject": "Your order is packed and on its way",
        "body": "Thank you for your order, it is packed with care.",
    }
)


@pytest.fixture
def services(prepared_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(common.error_console, "width", 400)
    yield scripted_services(private_settings(prepared_data_dir, tmp_path, monkeypatch))
    get_settings.cache_clear()


def review(*args: str):
    return runner.invoke(app, ["review", *args])


def test_approve_records_reviewer(services) -> None:
    draft = seed_draft(services)
    result = review("approve", draft.id, "--as", "alice")
    assert result.exit_code == 0, result.output
    assert services.drafts.get(draft.id).status == DraftStatus.APPROVED
    event = services.drafts.history(draft.id)[-1]
    assert (event.action, event.reviewer) == ("approve", "alice")


def test_approve_defaults_to_login_name(services) -> None:
    draft = seed_draft(services)
    review("approve", draft.id)
    assert services.drafts.history(draft.id)[-1].reviewer == getpass.getuser()


def test_approve_blocked_draft_is_refused(services) -> None:
    draft = seed_draft(services, blocked=True)
    result = review("approve", draft.id, "--as", "alice")
    assert result.exit_code == 1
    assert "blocking findings (grounding.products)" in result.output
    assert services.drafts.get(draft.id).status == DraftStatus.BLOCKED
    assert services.drafts.history(draft.id) == []


def test_override_approves_blocked_draft(services) -> None:
    draft = seed_draft(services, blocked=True)
    result = review("approve", draft.id, "--as", "alice", "--override", "legal signed off")
    assert result.exit_code == 0, result.output
    event = services.drafts.history(draft.id)[-1]
    assert (event.action, event.reason) == ("override", "legal signed off")
    assert event.before.status == "blocked"
    assert event.after.status == "approved"


def test_approve_twice_is_refused(services) -> None:
    draft = seed_draft(services)
    review("approve", draft.id, "--as", "alice")
    result = review("approve", draft.id, "--as", "bob")
    assert result.exit_code == 1
    assert "already approved" in result.output
    assert len(services.drafts.history(draft.id)) == 1


def test_approve_unknown_id_exits_1(services) -> None:
    result = review("approve", "doesnotexist", "--as", "alice")
    assert result.exit_code == 1
    assert "draft `doesnotexist` not found" in result.output


def test_reject_records_reason(services) -> None:
    draft = seed_draft(services)
    result = review("reject", draft.id, "--reason", "reads like an advert", "--as", "bob")
    assert result.exit_code == 0, result.output
    assert services.drafts.get(draft.id).status == DraftStatus.REJECTED
    assert services.drafts.history(draft.id)[-1].reason == "reads like an advert"


def test_reject_needs_reason_option(services) -> None:
    draft = seed_draft(services)
    result = review("reject", draft.id)
    assert result.exit_code == 2
    assert services.drafts.get(draft.id).status == draft.status


def test_reject_blank_reason_exits_1(services) -> None:
    draft = seed_draft(services)
    result = review("reject", draft.id, "--reason", "  ", "--as", "bob")
    assert result.exit_code == 1
    assert "rejection reason is empty" in result.output


def test_blank_reviewer_is_usage_error(services) -> None:
    draft = seed_draft(services)
    result = review("approve", draft.id, "--as", " ")
    assert result.exit_code == 2
    assert "--as is empty" in result.output


def test_regenerate_stores_new_version(services, monkeypatch) -> None:
    draft = seed_draft(services)
    services.provider.outputs = [REGENERATED] * 3
    monkeypatch.setattr(review_cli, "build_services", lambda: services)
    result = review("regenerate", draft.id, "--note", "say it is packed", "--as", "alice")
    assert result.exit_code == 0, result.output
    assert "Stored version 2" in result.stdout
    stored = services.drafts.get(draft.id)
    assert stored.fields["subject"] == "Your order is packed and on its way"
    versions = services.drafts.versions(draft.id)
    assert versions[0].draft == draft
    assert versions[1].note == "say it is packed"
    event = services.drafts.history(draft.id)[-1]
    assert (event.action, event.reason) == ("regenerate", "say it is packed")
    prompt = " ".join(message.content for message in services.provider.calls[-1])
    assert "say it is packed" in prompt


def test_regenerate_needs_note(services) -> None:
    draft = seed_draft(services)
    assert review("regenerate", draft.id).exit_code == 2


def test_regenerate_inline_customer_exits_1(services) -> None:
    draft = seed_draft(services).model_copy(update={"id": "inline1", "customer_id": "web-77"})
    services.drafts.save(draft)
    result = review("regenerate", "inline1", "--note", "shorter", "--as", "alice")
    assert result.exit_code == 1
    assert "customer `web-77`" in result.output


@pytest.mark.slow
def test_regenerate_with_local_model(services) -> None:
    draft = seed_draft(services)
    result = review("regenerate", draft.id, "--note", "keep it warm and short", "--as", "alice")
    assert result.exit_code == 0, result.output
    versions = services.drafts.versions(draft.id)
    assert len(versions) == 2
    regenerated = versions[1].draft
    assert regenerated.model != "scripted"
    assert regenerated.fields["body"].startswith("Thank you for")
    assert regenerated.attempts >= 1
    assert services.drafts.get(draft.id).text == regenerated.text
