"""`aftercare review next`: stepping through the queue with one key per draft."""

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import common
from agent.cli.app import app
from agent.config import get_settings
from agent.domain import DraftStatus
from tests.review.helpers import private_settings, scripted_services, seed_draft, write_script

runner = CliRunner()
REPO_ROOT = Path(__file__).resolve().parents[2]
NEW_BODY = "Thank you for shopping with us. We hope it arrives safely."
# Seconds to wait for the terminal to show an expected text. The command starts in about
# 3 seconds on an idle machine, and a loaded machine can be several times slower.
SCREEN_WAIT_S = 120


@pytest.fixture
def services(prepared_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(common.console, "width", 200)
    yield scripted_services(private_settings(prepared_data_dir, tmp_path, monkeypatch))
    get_settings.cache_clear()


def step(keys: str):
    return runner.invoke(app, ["review", "next", "--as", "carol"], input=keys)


def test_approve_then_reject_then_end(services) -> None:
    first = seed_draft(services)
    second = seed_draft(services)
    result = step("a\nr\ntoo formal\n")
    assert result.exit_code == 0, result.output
    assert services.drafts.get(first.id).status == DraftStatus.APPROVED
    assert services.drafts.get(second.id).status == DraftStatus.REJECTED
    assert services.drafts.history(second.id)[-1].reason == "too formal"
    assert services.drafts.history(first.id)[-1].reviewer == "carol"
    assert "No more drafts waiting for review." in result.stdout
    assert "1 approved, 1 rejected" in result.stdout


def test_draft_view_is_shown(services) -> None:
    draft = seed_draft(services)
    result = step("q\n")
    assert f"draft {draft.id}" in result.stdout
    assert draft.fields["body"] in result.stdout
    assert "[a]pprove" in result.stdout


def test_skip_moves_on_and_quit_stops(services) -> None:
    first = seed_draft(services)
    second = seed_draft(services)
    result = step("s\nq\n")
    assert result.exit_code == 0
    assert f"draft {second.id}" in result.stdout
    assert services.drafts.get(first.id).status == first.status
    assert services.drafts.get(second.id).status == second.status
    assert "1 skip" in result.stdout


def test_end_of_input_quits(services) -> None:
    draft = seed_draft(services)
    result = step("")
    assert result.exit_code == 0
    assert services.drafts.get(draft.id).status == draft.status


def test_blocked_draft_asks_override(services) -> None:
    draft = seed_draft(services, blocked=True)
    result = step("a\n\na\nchecked the product list\n")
    assert result.exit_code == 0, result.output
    assert "Not approved." in result.stdout
    event = services.drafts.history(draft.id)[-1]
    assert (event.action, event.reason) == ("override", "checked the product list")


def test_empty_reason_cancels_reject(services) -> None:
    draft = seed_draft(services)
    result = step("r\n\nq\n")
    assert "Not rejected." in result.stdout
    assert services.drafts.get(draft.id).status == draft.status


def test_unknown_key_asks_again(services) -> None:
    draft = seed_draft(services)
    result = step("x\na\n")
    assert "Unknown key 'x'" in result.stdout
    assert services.drafts.get(draft.id).status == DraftStatus.APPROVED


def test_edit_key_opens_editor(services, tmp_path, monkeypatch) -> None:
    draft = seed_draft(services)
    script = (
        "import pathlib, sys\n"
        "path = pathlib.Path(sys.argv[1])\n"
        f"path.write_text(path.read_text().replace({draft.fields['body']!r}, {NEW_BODY!r}))\n"
    )
    monkeypatch.setenv("EDITOR", str(write_script(tmp_path / "editor.py", script)))
    result = step("e\na\n")
    assert result.exit_code == 0, result.output
    stored = services.drafts.get(draft.id)
    assert stored.fields["body"] == NEW_BODY
    assert stored.status == DraftStatus.APPROVED
    assert [e.action for e in services.drafts.history(draft.id)] == ["edit", "approve"]


def test_empty_queue(services) -> None:
    result = step("")
    assert result.exit_code == 0
    assert "No more drafts waiting for review." in result.stdout


# --- a real terminal ------------------------------------------------------------------------


class Tmux:
    """A private tmux server, addressed by its own socket name so no other session is touched."""

    def __init__(self) -> None:
        self.socket = f"aftercare-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        )
        return result.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "review", "-S", "-200")

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + SCREEN_WAIT_S
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.5)
        raise AssertionError(f"{text!r} did not appear on the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_next_in_real_terminal(services, tmp_path) -> None:
    draft = seed_draft(services)
    script = tmp_path / "run.sh"
    env = {
        "AFTERCARE_DATA_DIR": os.environ["AFTERCARE_DATA_DIR"],
        "AFTERCARE_CHROMA_PATH": os.environ["AFTERCARE_CHROMA_PATH"],
        "ORT_DISABLE_TELEMETRY": "1",
        "TERM": "xterm-256color",
    }
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    command = [sys.executable, "-m", "agent.cli.app", "review", "next", "--as", "tmuxer"]
    # The screen size comes from the terminal, not from variables the test process may have.
    script.write_text(
        f"unset COLUMNS LINES\n{exports}cd {shlex.quote(str(REPO_ROOT))}\n"
        f"{shlex.join(command)}\n"
        "echo EXIT=$?\nsleep 60\n"
    )

    tmux = Tmux()
    try:
        tmux.run("new-session", "-d", "-s", "review", "-x", "160", "-y", "50", f"sh {script}")
        screen = tmux.wait_for("[a]pprove")
        assert f"draft {draft.id}" in screen
        assert "Subject:" in screen
        tmux.run("send-keys", "-t", "review", "a")
        screen = tmux.wait_for("EXIT=")
    finally:
        tmux.close()

    assert f"Approved draft {draft.id}." in screen
    assert "EXIT=0" in screen
    assert services.drafts.get(draft.id).status == DraftStatus.APPROVED
    assert services.drafts.history(draft.id)[-1].reviewer == "tmuxer"
