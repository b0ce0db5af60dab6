"""Terminal interaction for review: editing in $EDITOR and stepping through the queue."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from agent.domain import Draft
from agent.drafting.services import Services
from agent.review import workflow
from agent.review.display import SEVERITY_STYLE, status_text
from agent.review.errors import EditBlocked, InvalidEdit, NoChanges, ReviewError
from agent.review.recheck import Checked
from agent.review.store import DraftChanged
from agent.review.versions import DraftVersion

log = logging.getLogger(__name__)

DEFAULT_EDITOR = "vi"
KEYS_PROMPT = "[a]pprove  [r]eject  [e]dit  [s]kip  [q]uit > "


class EditorFailed(ReviewError):
    """The editor could not start, or exited with an error."""


class EditKept(ReviewError):
    """An edit was refused; the edited text is kept in `path` to fix and apply again."""

    def __init__(self, draft_id: str, reason: ReviewError, path: Path) -> None:
        super().__init__(
            f"{str(reason).rstrip('.')}. Your edit is kept in {path}, so fix it and apply it "
            f"with `aftercare review edit {draft_id} --input {path}`"
        )
        self.path = path


# --- editing --------------------------------------------------------------------------------


def editor_command() -> list[str]:
    """Return the editor command from $EDITOR, else $VISUAL, else vi, split like a shell."""
    # NOTE: EDITOR and VISUAL are the user's terminal settings, not Aftercare settings,
    # so they are read here instead of through agent.config.
    raw = os.environ.get("EDITOR") or os.environ.get("VISUAL") or DEFAULT_EDITOR
    command = shlex.split(raw)
    if not command:
        raise EditorFailed("$EDITOR is blank; set it to an editor command, such as `nano`")
    return command


def run_editor(path: Path) -> None:
    """Open `path` in the editor and wait; raise EditorFailed when it fails."""
    command = editor_command()
    try:
        result = subprocess.run([*command, str(path)], check=False)
    except OSError as error:
        raise EditorFailed(
            f"editor `{command[0]}` could not start: {error.strerror}; set $EDITOR to an "
            "installed editor; the draft was not changed"
        ) from error
    if result.returncode != 0:
        raise EditorFailed(
            f"editor `{command[0]}` exited with status {result.returncode}; "
            "the draft was not changed"
        )


def edit_in_editor(session: workflow.EditSession) -> tuple[str, Path]:
    """Write the session's text to a temporary file, open the editor, return the new text."""
    handle, name = tempfile.mkstemp(prefix=f"aftercare-{session.draft.id}-", suffix=".txt")
    path = Path(name)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(session.text)
    try:
        run_editor(path)
        edited = path.read_text(encoding="utf-8")
    except (EditorFailed, OSError, UnicodeDecodeError):
        path.unlink(missing_ok=True)
        raise
    if edited == session.text:
        path.unlink(missing_ok=True)
        raise NoChanges(session.draft.id)
    return edited, path


def edit_draft(
    services: Services,
    draft_id: str,
    reviewer: str,
    *,
    console: Console,
    as_of: datetime | None = None,
    input_file: Path | None = None,
    save_blocked: bool = False,
) -> DraftVersion:
    """Edit a draft's fields, check them, confirm a blocked result, and store a version.

    Raises a ReviewError subclass when nothing was stored, EditKept when the edited text
    was kept in a file for another try.
    """
    session = workflow.start_edit(services, draft_id, as_of=as_of)
    if not session.facts.reproduced:
        moment = f"{session.facts.as_of:%Y-%m-%d %H:%M}"
        console.print(
            f"[yellow]warning:[/yellow] the stored message could not be rendered again from "
            f"the customer's records; checks run as of {moment} UTC. Pass --as-of with the "
            "time the draft was made for.",
            highlight=False,
        )
    if input_file is not None:
        text, kept = read_input(input_file), None
    else:
        text, kept = edit_in_editor(session)
    try:
        checked = workflow.check_edit(services, session, text)
        print_checked(console, checked)
        allow = save_blocked or (bool(checked.blocking) and confirm_blocked(checked))
        version = workflow.save_edit(services, session, checked, reviewer, allow_blocked=allow)
    except NoChanges:
        if kept is not None:
            kept.unlink(missing_ok=True)
        raise
    except (InvalidEdit, EditBlocked) as error:
        if kept is None:
            raise
        raise EditKept(draft_id, error, kept) from error
    if kept is not None:
        kept.unlink(missing_ok=True)
    console.print(
        f"Stored version {version.number} of draft {draft_id}: ",
        status_text(version.status),
        highlight=False,
        sep="",
    )
    return version


def read_input(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidEdit(f"edit file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidEdit(f"edit file {path} cannot be read as UTF-8 text: {error}") from None


def print_checked(console: Console, checked: Checked) -> None:
    if not checked.draft.findings:
        console.print("The edit passes every check.")
        return
    console.print("The edit has these findings:")
    for finding in checked.draft.findings:
        line = Text("  ")
        line.append(finding.severity.value, style=SEVERITY_STYLE[finding.severity])
        line.append(f" {finding.check_id}: {finding.message}")
        console.print(line)


def confirm_blocked(checked: Checked) -> bool:
    """Ask whether to store a version that fails a blocking check; no input means no."""
    try:
        return click.confirm("Store this edit as a blocked version?", default=False)
    except click.exceptions.Abort:
        return False


# --- stepping through the queue -------------------------------------------------------------


def read_key(console: Console, prompt: str) -> str:
    """Read one key press on a terminal, else the first character of a line; '' at the end.

    Ctrl-C on a terminal reads as q.
    """
    console.print(prompt, end="", markup=False, highlight=False)
    if sys.stdin.isatty():
        try:
            key = click.getchar()
        except (KeyboardInterrupt, EOFError):
            key = "q"
        console.print(key if key.isprintable() else "")
        return key.lower()
    line = sys.stdin.readline()
    if not line:
        console.print()
        return ""
    return line.strip()[:1].lower()


def read_text(question: str) -> str | None:
    """Prompt for a line of text; None when the input ends or the line is blank."""
    try:
        line = click.prompt(question, default="", show_default=False)
    except click.exceptions.Abort:
        return None
    return line.strip() or None


def step_through(
    services: Services,
    reviewer: str,
    fetch: Callable[[set[str]], list[Draft]],
    show: Callable[[str], Draft],
    *,
    console: Console,
) -> Counter[str]:
    """Show each draft `fetch` returns and act on one key, until the queue ends or q.

    `fetch(skipped)` returns the queue, of which the first draft not in `skipped` is shown.
    Returns how many drafts were approved, rejected, edited and skipped.
    """
    done: Counter[str] = Counter()
    skipped: set[str] = set()
    while True:
        draft = next((d for d in fetch(skipped) if d.id not in skipped), None)
        if draft is None:
            console.print("No more drafts waiting for review.")
            break
        console.rule(f"draft {draft.id}")
        show(draft.id)
        action = act_on(services, reviewer, draft, console=console)
        if action == "quit":
            break
        if action == "skip":
            skipped.add(draft.id)
        if action:
            done[action] += 1
    summary = ", ".join(f"{count} {action}" for action, count in done.items() if action != "quit")
    console.print(f"Done: {summary or 'nothing changed'}.")
    return done


def act_on(services: Services, reviewer: str, draft: Draft, *, console: Console) -> str:
    """Read keys until one acts on `draft`; return the action taken, '' to show it again."""
    while True:
        key = read_key(console, KEYS_PROMPT)
        try:
            if key in ("q", ""):
                return "quit"
            if key == "s":
                return "skip"
            if key == "a":
                return approve_step(services, reviewer, draft, console)
            if key == "r":
                return reject_step(services, reviewer, draft, console)
            if key == "e":
                edit_draft(services, draft.id, reviewer, console=console)
                return "edited"
        except (ReviewError, LookupError, DraftChanged) as error:
            # The draft is shown again, so the reviewer can choose another action.
            console.print(Text.assemble(("error: ", "red"), str(error)))
            return ""
        console.print(f"Unknown key {key!r}; press a, r, e, s or q.", highlight=False)


def approve_step(services: Services, reviewer: str, draft: Draft, console: Console) -> str:
    override = None
    if workflow.blocking_findings(draft):
        override = read_text("This draft has blocking findings. Override reason (empty cancels)")
        if override is None:
            console.print("Not approved.")
            return ""
    workflow.approve(services.drafts, draft.id, reviewer, override=override)
    console.print(f"Approved draft {draft.id}.", highlight=False)
    return "approved"


def reject_step(services: Services, reviewer: str, draft: Draft, console: Console) -> str:
    reason = read_text("Reason for rejecting (empty cancels)")
    if reason is None:
        console.print("Not rejected.")
        return ""
    workflow.reject(services.drafts, draft.id, reviewer, reason)
    console.print(f"Rejected draft {draft.id}.", highlight=False)
    return "rejected"
