"""`aftercare review show`, `diff` and `history`: one draft with everything a reviewer needs."""

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from agent.cli import common
from agent.cli.app import app
from agent.config import get_settings
from agent.domain import Channel
from agent.review import workflow
from tests.review.helpers import private_settings, scripted_services, seed_draft

runner = CliRunner()
NEW_BODY = "Thank you for shopping with us. We hope it arrives safely."


@pytest.fixture
def services(prepared_data_dir, tmp_path, monkeypatch):
    # A wide console keeps table cells on one line, so phrases can be found in the output.
    monkeypatch.setattr(common.console, "width", 200)
    yield scripted_services(private_settings(prepared_data_dir, tmp_path, monkeypatch))
    get_settings.cache_clear()


def show(*args: str):
    return runner.invoke(app, ["review", "show", *args])


def test_show_marks_finding_span(services) -> None:
    draft = seed_draft(services, blocked=True)
    result = show(draft.id)
    assert result.exit_code == 0, result.output
    assert "brings you joy[1]" in result.stdout
    assert "grounding.products" in result.stdout
    assert "name only products from the order" in result.stdout


def test_show_lists_sources_customer_and_attempts(services) -> None:
    draft = seed_draft(services)
    result = show(draft.id)
    output = result.stdout
    assert "Retrieved guidelines" in output
    assert draft.sources[0].doc_id[:10] in output
    assert f"Customer {draft.customer_id}" in output
    assert "orders:" in output
    assert "open tickets: 0" in output
    assert "consent: email" in output
    assert "signals not computed" in output
    assert "Model attempts" in output
    assert "Versions" in output


def test_show_sms_segment_count(services) -> None:
    draft = seed_draft(services, channel=Channel.SMS)
    result = show(draft.id)
    assert "SMS: 1 segment(s)" in result.stdout


def test_show_lists_earlier_versions(services) -> None:
    draft = seed_draft(services)
    workflow.edit(services, draft.id, {"body": NEW_BODY}, "alice")
    result = show(draft.id)
    assert "version 2" in result.stdout
    assert "drafted" in result.stdout
    assert "alice" in result.stdout


def test_show_json_has_versions_and_history(services) -> None:
    draft = seed_draft(services)
    workflow.edit(services, draft.id, {"body": NEW_BODY}, "alice")
    result = show(draft.id, "--json")
    payload = json.loads(result.stdout)
    assert payload["draft"]["fields"]["body"] == NEW_BODY
    assert [v["number"] for v in payload["versions"]] == [1, 2]
    assert payload["versions"][0]["draft"]["fields"]["body"] == draft.fields["body"]
    assert payload["history"][0]["action"] == "edit"
    assert payload["customer"]["found"] is True


def test_show_unknown_id_exits_1(services) -> None:
    result = show("doesnotexist")
    assert result.exit_code == 1
    assert "draft `doesnotexist` not found" in result.output


def test_diff_shows_changed_body(services) -> None:
    draft = seed_draft(services)
    workflow.edit(services, draft.id, {"body": NEW_BODY}, "alice")
    result = runner.invoke(app, ["review", "diff", draft.id])
    assert result.exit_code == 0, result.output
    assert "--- version 1" in result.stdout
    assert "+++ version 2" in result.stdout
    assert f"-{draft.fields['body']}" in result.stdout
    assert f"+{NEW_BODY}" in result.stdout


def test_diff_between_chosen_versions(services) -> None:
    draft = seed_draft(services)
    workflow.edit(services, draft.id, {"body": NEW_BODY}, "alice")
    workflow.edit(services, draft.id, {"subject": "Your order is packed"}, "alice")
    result = runner.invoke(app, ["review", "diff", draft.id, "--from", "1", "--to", "3"])
    assert "+Subject: Your order is packed" in result.stdout
    assert f"+{NEW_BODY}" in result.stdout


def test_diff_of_single_version_exits_1(services) -> None:
    draft = seed_draft(services)
    result = runner.invoke(app, ["review", "diff", draft.id])
    assert result.exit_code == 1
    assert "only version 1" in result.output


def test_diff_unknown_version_exits_1(services) -> None:
    draft = seed_draft(services)
    result = runner.invoke(app, ["review", "diff", draft.id, "--from", "1", "--to", "9"])
    assert result.exit_code == 1
    assert "no version 9" in result.output


def test_history_lists_every_action(services) -> None:
    draft = seed_draft(services, blocked=True)
    workflow.edit(services, draft.id, {"body": NEW_BODY}, "alice")
    workflow.reject(services.drafts, draft.id, "bob", "wrong season")
    result = runner.invoke(app, ["review", "history", draft.id, "--json"])
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["action"] for e in events] == ["edit", "reject"]
    assert events[0]["before"]["status"] == "blocked"
    assert events[0]["after"]["fields"]["body"] == NEW_BODY
    assert events[1]["reason"] == "wrong season"
    table = runner.invoke(app, ["review", "history", draft.id])
    assert "bob" in table.stdout
    assert "wrong season" in table.stdout


def test_history_of_untouched_draft(services) -> None:
    draft = seed_draft(services)
    result = runner.invoke(app, ["review", "history", draft.id])
    assert result.exit_code == 0
    assert "No review actions" in result.stdout


def test_show_send_after(services) -> None:
    draft = seed_draft(services)
    moment = datetime(2011, 12, 10, 8, 0, tzinfo=UTC)
    later = draft.model_copy(update={"id": "later1", "send_after": moment})
    services.drafts.save(later)
    result = show("later1")
    assert "send after 2011-12-10 08:00 UTC" in result.stdout
