"""`aftercare review ...`: the copywriter's queue, edits, decisions, previews and exports.

Exit codes: 0 when the action was done, 1 when it was refused or its input was invalid,
and 2 for usage errors. Refusals include an unknown draft id, an edit that fails its
checks, approval with blocking findings, and an editor that failed or saved nothing.
Usage errors include an unknown option, an invalid option value, and a knowledge base
that is not set up.

The reviewer recorded in the audit trail is `--as NAME`, or else the login name.
"""

from __future__ import annotations

import getpass
import json
import re
import sys
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import typer

from agent.cli.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, console, error_console, fail
from agent.cli.common import settings as current_settings
from agent.cli.draft import parse_as_of
from agent.domain import Draft, DraftStatus, MessageKind
from agent.drafting.kinds import UnsupportedKind
from agent.drafting.pipeline import Ineligible
from agent.drafting.services import Services
from agent.knowledge.brand import BrandNotFound
from agent.knowledge.errors import KnowledgeStoreError
from agent.review import display, workflow
from agent.review.errors import ReviewError
from agent.review.export import ExportFormat, export_records, write_records
from agent.review.interactive import edit_draft, step_through
from agent.review.preview import write_atomically, write_preview
from agent.review.recheck import ContextUnavailable
from agent.review.store import DraftChanged, DraftNotFound, VersionNotFound
from agent.review.summary import summarize_customer

app = typer.Typer(
    help="Review drafts: list the queue, show, edit, approve, reject, regenerate, export.",
    invoke_without_command=True,
)

# Errors that stop an action before anything is stored. Each message states the reason.
ACTION_ERRORS = (
    DraftNotFound,
    VersionNotFound,
    DraftChanged,
    ReviewError,
    ContextUnavailable,
    Ineligible,
)
# Errors of the set-up rather than of the draft.
SETUP_ERRORS = (BrandNotFound, KnowledgeStoreError, UnsupportedKind)
SINCE_PATTERN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
SINCE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def build_services() -> Services:
    """Create the services for one command; tests replace this to use a scripted model."""
    return Services(current_settings())


def resolve_reviewer(name: str | None) -> str:
    if name is not None:
        if not name.strip():
            fail("--as is empty; give the reviewer's name")
        return name.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        fail("the login name could not be read; give the reviewer's name with --as NAME")


@contextmanager
def handled_errors() -> Iterator[None]:
    """Turn workflow errors into a message and exit code 1 (2 for set-up errors)."""
    try:
        yield
    except Ineligible as error:
        fail(f"not drafted ({error.finding.check_id}): {error.finding.message}", 1)
    except ACTION_ERRORS as error:
        fail(str(error), EXIT_CHECK_FAILED)
    except SETUP_ERRORS as error:
        fail(str(error), EXIT_BAD_INPUT)


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """Parse `--since` as a duration before `now` (30m, 12h, 2d, 1w) or an ISO 8601 date."""
    if value is None:
        return None
    match = SINCE_PATTERN.match(value)
    if match:
        return now - timedelta(**{SINCE_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"invalid --since {value!r}: use a duration such as 2d, 12h, 30m or 1w, or a date")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


ReviewerOption = typer.Option(
    None, "--as", help="Reviewer name for the audit trail; the login name if unset."
)
AsOfOption = typer.Option(
    None,
    "--as-of",
    help="ISO 8601 time the draft was made for (UTC if no offset); found from the data if unset.",
)


# --- the queue ----------------------------------------------------------------------------


@app.callback()
def review(ctx: typer.Context) -> None:
    """Without a command, list the drafts waiting for review."""
    if ctx.invoked_subcommand is None:
        list_queue(status=None, kind=None, brand=None, since=None, limit=50, json_output=False)


def queue_drafts(
    services: Services,
    *,
    status: list[DraftStatus] | None,
    kind: list[MessageKind] | None,
    brand: str | None,
    since: str | None,
    limit: int | None,
) -> list[Draft]:
    return services.drafts.list(
        statuses=status or list(workflow.OPEN_STATUSES),
        kinds=kind,
        brand=brand,
        since=parse_since(since, datetime.now(UTC)),
        limit=limit,
        oldest_first=True,
    )


StatusOption = typer.Option(
    None, "--status", help="Only this status; repeat for several. Default: the open statuses."
)
KindOption = typer.Option(None, "--kind", help="Only this message kind; repeat for several.")
BrandOption = typer.Option(None, "--brand", help="Only drafts of this brand.")
SinceOption = typer.Option(
    None, "--since", help="Only drafts created since a date, or within a duration such as 2d."
)


@app.command("list")
def list_queue(
    status: list[DraftStatus] | None = StatusOption,
    kind: list[MessageKind] | None = KindOption,
    brand: str | None = BrandOption,
    since: str | None = SinceOption,
    limit: int = typer.Option(50, "--limit", min=1, help="Maximum number of drafts."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object per line."),
) -> None:
    """List drafts waiting for review, oldest first."""
    services = build_services()
    found = queue_drafts(services, status=status, kind=kind, brand=brand, since=since, limit=limit)
    now = datetime.now(UTC)
    if json_output:
        for draft in found:
            print(json.dumps(queue_record(draft, now)))
        return
    if not found:
        console.print("No drafts waiting for review.")
        return
    console.print(display.queue_table(found, now))


def queue_record(draft: Draft, now: datetime) -> dict[str, object]:
    return {
        "id": draft.id,
        "brand": draft.brand,
        "customer_id": draft.customer_id,
        "kind": draft.kind.value,
        "channel": draft.channel.value,
        "status": draft.status.value,
        "findings": len(draft.findings),
        "created_at": draft.created_at.isoformat(),
        "age_seconds": int((now - draft.created_at).total_seconds()),
    }


# --- one draft --------------------------------------------------------------------------------


def show_draft(services: Services, draft_id: str, *, json_output: bool = False) -> Draft:
    """Print the review view of one draft and return it."""
    draft = services.drafts.get(draft_id)
    versions = services.drafts.versions(draft_id)
    now = datetime.now(UTC)
    summary = summarize_customer(services, draft.customer_id, services.brand(draft.brand), now)
    if json_output:
        payload = {
            "draft": draft.model_dump(mode="json"),
            "customer": summary.model_dump(mode="json"),
            "versions": [v.model_dump(mode="json") for v in versions],
            "history": [e.model_dump(mode="json") for e in services.drafts.history(draft_id)],
        }
        print(json.dumps(payload))
    else:
        console.print(display.draft_view(draft, versions, summary, now))
    return draft


@app.command("show")
def show(
    draft_id: str = typer.Argument(..., help="Draft id."),
    json_output: bool = typer.Option(
        False, "--json", help="Print the draft, customer, versions and history as JSON."
    ),
) -> None:
    """Show a draft with its findings marked, sources, customer, attempts and versions."""
    with handled_errors():
        show_draft(build_services(), draft_id, json_output=json_output)


@app.command("edit")
def edit(
    draft_id: str = typer.Argument(..., help="Draft id."),
    reviewer: str | None = ReviewerOption,
    as_of: str | None = AsOfOption,
    input_file: Path | None = typer.Option(
        None, "--input", help="Apply the fields in this file instead of opening an editor."
    ),
    save_blocked: bool = typer.Option(
        False, "--save-blocked", help="Store the edit even when it fails a blocking check."
    ),
) -> None:
    """Edit a draft's fields in $EDITOR (then $VISUAL, then vi); store them as a new version.

    The file has one `name: value` line per short field, a `---` line, then the body.
    The checks run again on save. An edit that fails them is kept in a file to fix.
    """
    name = resolve_reviewer(reviewer)
    with handled_errors():
        edit_draft(
            build_services(),
            draft_id,
            name,
            console=console,
            as_of=parse_as_of(as_of),
            input_file=input_file,
            save_blocked=save_blocked,
        )


@app.command("diff")
def diff(
    draft_id: str = typer.Argument(..., help="Draft id."),
    from_version: int | None = typer.Option(
        None, "--from", min=1, help="Older version; the one before --to if unset."
    ),
    to_version: int | None = typer.Option(
        None, "--to", min=1, help="Newer version; the latest if unset."
    ),
) -> None:
    """Print the unified diff between two versions of a draft's message."""
    with handled_errors():
        store = build_services().drafts
        versions = store.versions(draft_id)
        new = store.version(draft_id, to_version) if to_version else versions[-1]
        if from_version is None and new.number == 1:
            fail(f"draft `{draft_id}` has only version 1; there is nothing to compare", 1)
        old = store.version(draft_id, from_version or new.number - 1)
    lines = display.unified_diff(old, new)
    if not lines:
        console.print(f"Versions {old.number} and {new.number} have the same message.")
        return
    console.print(display.diff_text(lines), end="")


@app.command("history")
def history(
    draft_id: str = typer.Argument(..., help="Draft id."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON event per line."),
) -> None:
    """Show the audit trail of a draft: who edited, approved, rejected or regenerated it."""
    with handled_errors():
        events = build_services().drafts.history(draft_id)
    if json_output:
        for event in events:
            print(event.model_dump_json())
        return
    if not events:
        console.print(f"No review actions on draft {draft_id} yet.")
        return
    console.print(display.history_table(events))


# --- decisions ----------------------------------------------------------------------------


@app.command("approve")
def approve(
    draft_id: str = typer.Argument(..., help="Draft id."),
    reviewer: str | None = ReviewerOption,
    override: str | None = typer.Option(
        None, "--override", help="Reason to approve despite blocking findings; it is recorded."
    ),
) -> None:
    """Approve a draft. A draft with blocking findings needs --override REASON."""
    name = resolve_reviewer(reviewer)
    with handled_errors():
        approved = workflow.approve(build_services().drafts, draft_id, name, override=override)
    console.print(f"Approved draft {approved.id} as {name}.", highlight=False)


@app.command("reject")
def reject(
    draft_id: str = typer.Argument(..., help="Draft id."),
    reason: str = typer.Option(..., "--reason", help="Why the draft is rejected; recorded."),
    reviewer: str | None = ReviewerOption,
) -> None:
    """Reject a draft with a reason."""
    name = resolve_reviewer(reviewer)
    with handled_errors():
        rejected = workflow.reject(build_services().drafts, draft_id, name, reason)
    console.print(f"Rejected draft {rejected.id} as {name}.", highlight=False)


@app.command("regenerate")
def regenerate(
    draft_id: str = typer.Argument(..., help="Draft id."),
    note: str = typer.Option(..., "--note", help="Instruction for the model, such as 'shorter'."),
    reviewer: str | None = ReviewerOption,
    as_of: str | None = AsOfOption,
) -> None:
    """Draft the message again with a note for the model; store it as a new version."""
    name = resolve_reviewer(reviewer)
    services = build_services()
    with handled_errors():
        version = workflow.regenerate(services, draft_id, name, note, as_of=parse_as_of(as_of))
    draft = version.draft
    console.print(
        f"Stored version {version.number} of draft {draft.id}: ",
        display.status_text(draft.status),
        f", {len(draft.findings)} finding(s), model {draft.model}.",
        highlight=False,
        sep="",
    )


@app.command("next")
def next_draft(
    reviewer: str | None = ReviewerOption,
    status: list[DraftStatus] | None = StatusOption,
    kind: list[MessageKind] | None = KindOption,
    brand: str | None = BrandOption,
) -> None:
    """Step through the queue, oldest first, one key per draft.

    Keys: a approve, r reject (prompts for the reason), e edit, s skip, q quit. On a terminal a
    single key press acts; when stdin is not a terminal, each action is read as a line and
    its first character counts, and the end of input quits.
    """
    name = resolve_reviewer(reviewer)
    services = build_services()
    step_through(
        services,
        name,
        lambda skip: queue_drafts(
            services, status=status, kind=kind, brand=brand, since=None, limit=len(skip) + 1
        ),
        show=lambda draft_id: show_draft(services, draft_id),
        console=console,
    )


# --- preview and export -----------------------------------------------------------------------


@app.command("preview")
def preview(
    draft_id: str = typer.Argument(..., help="Draft id."),
    out: Path | None = typer.Option(
        None, "--out", help="HTML file to write; previews/<id>.html in the data folder if unset."
    ),
    no_open: bool = typer.Option(False, "--no-open", help="Write the file without opening it."),
) -> None:
    """Write a draft as an HTML page (the email, or the SMS in a bubble) and open it."""
    services = build_services()
    with handled_errors():
        draft = services.drafts.get(draft_id)
    target = out or services.settings.data_dir / "previews" / f"{draft.id}.html"
    try:
        path = write_preview(draft, target)
    except OSError as error:
        fail(f"cannot write the preview to {target}: {error.strerror}")
    console.print(f"Wrote {path}", highlight=False)
    if not no_open and not webbrowser.open(path.as_uri()):
        error_console.print(f"No browser found; open {path} yourself.", highlight=False)


@app.command("export")
def export(
    status: list[DraftStatus] = typer.Option(
        [DraftStatus.APPROVED], "--status", help="Drafts with this status; repeat for several."
    ),
    export_format: ExportFormat = typer.Option(ExportFormat.CSV, "--format", help="File format."),
    out: Path | None = typer.Option(None, "--out", help="File to write; stdout if unset."),
    kind: list[MessageKind] | None = KindOption,
    brand: str | None = BrandOption,
    since: str | None = SinceOption,
) -> None:
    """Export drafts for a sending platform: ids, texts, HTML, send time and approval."""
    services = build_services()
    drafts = queue_drafts(services, status=status, kind=kind, brand=brand, since=since, limit=None)
    records = export_records(services.drafts, drafts)
    if out is None:
        write_records(records, sys.stdout, export_format)
        return
    buffer = StringIO()
    count = write_records(records, buffer, export_format)
    target = out.expanduser().resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, buffer.getvalue())
    except OSError as error:
        fail(f"cannot write the export to {out}: {error.strerror}")
    error_console.print(f"Exported {count} draft(s) to {out}", highlight=False)
