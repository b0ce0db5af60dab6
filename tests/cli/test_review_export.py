"""`aftercare review preview` and `aftercare review export`."""

import csv
import json

import pytest
from typer.testing import CliRunner

from agent.cli import common
from agent.cli.app import app
from agent.config import get_settings
from agent.domain import Channel
from agent.review import workflow
from tests.review.helpers import private_settings, scripted_services, seed_draft

runner = CliRunner()


@pytest.fixture
def services(prepared_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(common.console, "width", 400)
    monkeypatch.setattr(common.error_console, "width", 400)
    yield scripted_services(private_settings(prepared_data_dir, tmp_path, monkeypatch))
    get_settings.cache_clear()


def test_preview_writes_email_html(services, tmp_path) -> None:
    draft = seed_draft(services)
    target = tmp_path / "out" / "preview.html"
    result = runner.invoke(app, ["review", "preview", draft.id, "--out", str(target), "--no-open"])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == draft.html
    assert str(target) in result.stdout


def test_preview_default_path_in_data_folder(services) -> None:
    draft = seed_draft(services, channel=Channel.SMS)
    result = runner.invoke(app, ["review", "preview", draft.id, "--no-open"])
    assert result.exit_code == 0, result.output
    page = services.settings.data_dir / "previews" / f"{draft.id}.html"
    assert "segment(s)" in page.read_text(encoding="utf-8")


def test_preview_unknown_id_exits_1(services) -> None:
    result = runner.invoke(app, ["review", "preview", "doesnotexist", "--no-open"])
    assert result.exit_code == 1


def approved_pair(services):
    email = seed_draft(services)
    sms = seed_draft(services, channel=Channel.SMS)
    waiting = seed_draft(services)
    workflow.approve(services.drafts, email.id, "alice")
    workflow.approve(services.drafts, sms.id, "bob")
    return email, sms, waiting


def test_export_csv_file_has_approved_drafts(services, tmp_path) -> None:
    email, sms, waiting = approved_pair(services)
    out = tmp_path / "approved.csv"
    result = runner.invoke(app, ["review", "export", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Exported 2 draft(s)" in result.output
    with out.open(newline="", encoding="utf-8") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert set(rows) == {email.id, sms.id}
    assert rows[email.id]["approved_by"] == "alice"
    assert rows[email.id]["html"] == email.html
    assert rows[email.id]["text"] == email.text
    assert rows[sms.id]["channel"] == "sms"
    assert rows[sms.id]["customer_id"] == sms.customer_id
    assert rows[sms.id]["approved_at"]


def test_export_jsonl_to_stdout(services) -> None:
    email, sms, waiting = approved_pair(services)
    result = runner.invoke(app, ["review", "export", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["id"] for r in records} == {email.id, sms.id}
    assert all(r["approved_by"] in ("alice", "bob") for r in records)
    expected = {"id", "customer_id", "channel", "kind", "subject", "text", "html", "send_after"}
    assert expected <= set(records[0])


def test_export_other_status(services) -> None:
    email, sms, waiting = approved_pair(services)
    result = runner.invoke(app, ["review", "export", "--status", "ready", "--format", "jsonl"])
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == [waiting.id]


def test_export_unknown_format_is_usage_error(services) -> None:
    result = runner.invoke(app, ["review", "export", "--format", "xml"])
    assert result.exit_code == 2


def test_export_to_unwritable_path(services, tmp_path) -> None:
    approved_pair(services)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["review", "export", "--out", str(blocker / "x.csv")])
    assert result.exit_code == 2
    assert "cannot write the export" in result.output
