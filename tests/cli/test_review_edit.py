"""`aftercare review edit` with $EDITOR set to small scripts that play the copywriter."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import common
from agent.cli.app import app
from agent.config import get_settings
from agent.domain import DraftStatus
from tests.review.helpers import (
    DISCOUNT_BODY,
    latest_moment,
    private_settings,
    scripted_services,
    seed_draft,
    write_script,
)

runner = CliRunner()
NEW_BODY = "Thank you for shopping with us. We hope it arrives safely."


@pytest.fixture
def services(prepared_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(common.console, "width", 200)
    monkeypatch.setattr(common.error_console, "width", 400)
    monkeypatch.delenv("VISUAL", raising=False)
    yield scripted_services(private_settings(prepared_data_dir, tmp_path, monkeypatch))
    get_settings.cache_clear()


def replacing_editor(tmp_path: Path, old: str, new: str) -> str:
    """Return an editor script that replaces `old` with `new` and keeps a copy of its input."""
    seen = tmp_path / "seen.txt"
    body = (
        "import pathlib, sys\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "text = path.read_text()\n"
        f"pathlib.Path({str(seen)!r}).write_text(text)\n"
        f"path.write_text(text.replace({old!r}, {new!r}))\n"
    )
    return str(write_script(tmp_path / "editor.py", body))


def edit(draft_id: str, *args: str, input: str | None = None):
    return runner.invoke(app, ["review", "edit", draft_id, "--as", "alice", *args], input=input)


def kept_path(output: str) -> Path:
    match = re.search(r"kept in (\S+?),", output)
    assert match, output
    return Path(match.group(1))


def test_editor_rewrite_stores_version(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], NEW_BODY))
    result = edit(draft.id)
    assert result.exit_code == 0, result.output
    assert "Stored version 2" in result.stdout
    stored = services.drafts.get(draft.id)
    assert stored.fields["body"] == NEW_BODY
    assert NEW_BODY in stored.text
    versions = services.drafts.versions(draft.id)
    assert versions[0].draft == draft
    assert versions[1].author == "alice"
    event = services.drafts.history(draft.id)[-1]
    assert (event.action, event.reviewer) == ("edit", "alice")


def test_editor_gets_documented_format(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], NEW_BODY))
    edit(draft.id)
    seen = (tmp_path / "seen.txt").read_text()
    assert seen.startswith(f"# Draft {draft.id}")
    assert f"subject: {draft.subject}\n" in seen
    assert f"---\n{draft.fields['body']}\n" in seen


def test_editor_error_leaves_draft(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    failing = write_script(tmp_path / "fail.py", "import sys\nsys.exit(1)\n")
    monkeypatch.setenv("EDITOR", str(failing))
    result = edit(draft.id)
    assert result.exit_code == 1
    assert "exited with status 1" in result.output
    assert "the draft was not changed" in result.output
    assert services.drafts.get(draft.id) == draft
    assert len(services.drafts.versions(draft.id)) == 1


def test_unchanged_file_saves_nothing(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    untouched = write_script(tmp_path / "noop.py", "import sys\n")
    monkeypatch.setenv("EDITOR", str(untouched))
    result = edit(draft.id)
    assert result.exit_code == 1
    assert "nothing saved" in result.output
    assert services.drafts.get(draft.id) == draft
    assert services.drafts.history(draft.id) == []


def test_comment_only_change_saves_nothing(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, "# Draft", "# My draft"))
    result = edit(draft.id)
    assert result.exit_code == 1
    assert "nothing saved" in result.output


def test_markup_is_refused_and_kept(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    broken = "Thank you for <b>shopping with us."
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], broken))
    result = edit(draft.id)
    assert result.exit_code == 1
    assert "contains HTML markup '<b>'" in result.output
    assert services.drafts.get(draft.id) == draft
    kept = kept_path(result.output)
    assert broken in kept.read_text()
    kept.write_text(kept.read_text().replace(broken, NEW_BODY))
    retried = edit(draft.id, "--input", str(kept))
    assert retried.exit_code == 0, retried.output
    assert services.drafts.get(draft.id).fields["body"] == NEW_BODY


def test_missing_separator_is_invalid(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, "\n---\n", "\n"))
    result = edit(draft.id)
    assert result.exit_code == 1
    assert "`---` line before the body is missing" in result.output
    assert services.drafts.get(draft.id) == draft


def test_blocking_edit_refused_without_confirmation(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], DISCOUNT_BODY))
    result = edit(draft.id, input="n\n")
    assert result.exit_code == 1
    assert "offers.code" in result.output
    assert "fails blocking checks" in result.output
    assert services.drafts.get(draft.id) == draft
    assert DISCOUNT_BODY in kept_path(result.output).read_text()


def test_blocking_edit_refused_without_input(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], DISCOUNT_BODY))
    result = edit(draft.id)
    assert result.exit_code == 1
    assert services.drafts.get(draft.id) == draft


def test_confirmed_blocking_edit_is_stored(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], DISCOUNT_BODY))
    result = edit(draft.id, input="y\n")
    assert result.exit_code == 0, result.output
    stored = services.drafts.get(draft.id)
    assert stored.status == DraftStatus.BLOCKED
    assert services.drafts.versions(draft.id)[0].draft == draft


def test_save_blocked_flag_skips_question(services, tmp_path) -> None:
    draft = seed_draft(services)
    edit_file = tmp_path / "edit.txt"
    edit_file.write_text(
        f"call_to_action: {draft.fields['call_to_action']}\n"
        f"subject: {draft.subject}\n---\n{DISCOUNT_BODY}\n"
    )
    result = edit(draft.id, "--input", str(edit_file), "--save-blocked")
    assert result.exit_code == 0, result.output
    assert services.drafts.get(draft.id).status == DraftStatus.BLOCKED


def test_visual_is_used_without_editor(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.setenv("VISUAL", replacing_editor(tmp_path, draft.fields["body"], NEW_BODY))
    result = edit(draft.id)
    assert result.exit_code == 0, result.output
    assert services.drafts.get(draft.id).fields["body"] == NEW_BODY


def test_missing_editor_program(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", str(tmp_path / "no-such-editor"))
    result = edit(draft.id)
    assert result.exit_code == 1
    assert "could not start" in result.output
    assert services.drafts.get(draft.id) == draft


def test_edit_unknown_id_exits_1(services, monkeypatch) -> None:
    monkeypatch.setenv("EDITOR", "true")
    result = edit("doesnotexist")
    assert result.exit_code == 1
    assert "doesnotexist" in result.output


def test_missing_input_file_exits_1(services, tmp_path) -> None:
    draft = seed_draft(services)
    result = edit(draft.id, "--input", str(tmp_path / "absent.txt"))
    assert result.exit_code == 1
    assert "edit file not found" in result.output


def test_moment_that_does_not_match_warns(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], NEW_BODY))
    result = edit(draft.id, "--as-of", "2030-01-01T00:00:00+00:00")
    assert "could not be rendered again" in result.stdout
    # By 2030 the order has arrived, so the subject "on its way" fails the delivery check.
    assert "grounding.delivery_status" in result.output
    assert result.exit_code == 1
    assert services.drafts.get(draft.id) == draft


def test_pinned_moment_is_recorded(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    moment = latest_moment(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], NEW_BODY))
    result = edit(draft.id, "--as-of", moment.isoformat())
    assert result.exit_code == 0, result.output
    assert "could not be rendered again" not in result.stdout
    assert services.drafts.versions(draft.id)[-1].as_of == moment


def test_inferred_moment_is_recorded(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, draft.fields["body"], NEW_BODY))
    result = edit(draft.id)
    assert "could not be rendered again" not in result.stdout
    assert services.drafts.versions(draft.id)[-1].as_of is not None
