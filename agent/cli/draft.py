"""`aftercare draft` and `aftercare drafts ...`: draft one message and read stored drafts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from agent.cli.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, console, fail, settings
from agent.context.store import CustomerNotFound
from agent.domain import Channel, CustomerContext, Draft, DraftRequest, DraftStatus, MessageKind
from agent.drafting.kinds import UnsupportedKind
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.services import Services
from agent.guardrails.schedule import NoSendTime
from agent.guardrails.sms import count_sms
from agent.guardrails.zones import InvalidTimeZone
from agent.knowledge.brand import BrandNotFound
from agent.knowledge.errors import KnowledgeStoreError
from agent.review.store import DraftNotFound

drafts_app = typer.Typer(help="Read stored drafts.", no_args_is_help=True)

STATUS_STYLE = {
    DraftStatus.READY: "green",
    DraftStatus.NEEDS_REVIEW: "yellow",
    DraftStatus.BLOCKED: "red",
    DraftStatus.APPROVED: "bold green",
    DraftStatus.REJECTED: "dim",
}


def parse_as_of(value: str | None) -> datetime | None:
    """Parse an ISO 8601 date or time; a value without a UTC offset is read as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"invalid --as-of {value!r}: use ISO 8601, such as 2011-12-09T12:00:00+00:00")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_context_file(path: Path) -> CustomerContext:
    if not path.is_file():
        fail(f"context file not found: {path}")
    try:
        return CustomerContext.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as error:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc']) or '(root)'}`: {e['msg']}"
            for e in error.errors()
        )
        fail(f"invalid context in {path}: {problems}; see `aftercare schema context`")
    except UnicodeDecodeError:
        fail(f"context file {path} is not UTF-8 text")


def print_draft(draft: Draft) -> None:
    style = STATUS_STYLE[draft.status]
    title = f"draft {draft.id} · {draft.kind} · {draft.channel} · [{style}]{draft.status}[/{style}]"
    body = draft.text
    if draft.channel == Channel.SMS:
        count = count_sms(draft.text)
        body += f"\n\n({count.encoding}, {count.units} units, {count.segments} segment(s))"
    elif draft.subject:
        body = f"Subject: {draft.subject}\n\n{body}"
    console.print(Panel(escape(body), title=title, title_align="left", highlight=False))
    for finding in draft.findings:
        colour = "red" if finding.severity == "block" else "yellow"
        console.print(
            f"  [{colour}]{finding.severity}[/{colour}] {finding.check_id}: "
            f"{escape(finding.message)}",
            highlight=False,
        )
    sources = ", ".join(dict.fromkeys(s.doc_id for s in draft.sources)) or "none"
    console.print(
        f"  model {draft.model}, {draft.attempts} sample(s), "
        f"{draft.prompt_tokens}+{draft.completion_tokens} tokens, {draft.latency_ms} ms; "
        f"sources: {sources}",
        highlight=False,
    )


def draft(
    customer: str | None = typer.Option(None, "--customer", help="Stored customer id."),
    context: Path | None = typer.Option(
        None, "--context", help="JSON file with an inline context."
    ),
    kind: MessageKind = typer.Option(..., "--kind", help="Message kind."),
    channel: Channel = typer.Option(..., "--channel", help="Delivery channel."),
    brand: str | None = typer.Option(None, "--brand", help="Brand id; the default brand if unset."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Draft as of this ISO 8601 time (UTC if no offset); now if unset."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the stored draft as JSON."),
) -> None:
    """Draft one message for a stored customer or an inline context, and store it."""
    if (customer is None) == (context is None):
        fail("give exactly one of --customer ID or --context FILE.json")
    inline = load_context_file(context) if context else None
    request = DraftRequest(
        customer_id=customer,
        context=inline,
        kind=kind,
        channel=channel,
        brand=brand,
        as_of=parse_as_of(as_of),
    )
    try:
        result = Drafter(Services(settings())).draft(request)
    except (
        CustomerNotFound,
        BrandNotFound,
        UnsupportedKind,
        KnowledgeStoreError,
        InvalidTimeZone,
        NoSendTime,
    ) as error:
        fail(str(error), EXIT_BAD_INPUT)
    except Ineligible as error:
        fail(f"not drafted ({error.finding.check_id}): {error.finding.message}", EXIT_CHECK_FAILED)
    if json_output:
        print(result.model_dump_json())
    else:
        print_draft(result)
    if result.status == DraftStatus.BLOCKED:
        raise typer.Exit(EXIT_CHECK_FAILED)


@drafts_app.command("show")
def show(
    draft_id: str = typer.Argument(..., help="Draft id."),
    json_output: bool = typer.Option(False, "--json", help="Print the draft as JSON."),
) -> None:
    """Show one stored draft with its findings and sources."""
    try:
        stored = Services(settings()).drafts.get(draft_id)
    except DraftNotFound as error:
        fail(str(error))
    if json_output:
        print(stored.model_dump_json())
    else:
        print_draft(stored)


@drafts_app.command("list")
def list_drafts(
    status: DraftStatus | None = typer.Option(
        None, "--status", help="Only drafts with this status."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="Maximum number of drafts."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List stored drafts, newest first."""
    found = Services(settings()).drafts.list(status=status, limit=limit)
    if json_output:
        for item in found:
            print(json.dumps(item.model_dump(mode="json", exclude={"html"})))
        return
    table = Table("id", "created", "customer", "kind", "channel", "status", "findings")
    for item in found:
        table.add_row(
            item.id,
            f"{item.created_at:%Y-%m-%d %H:%M}",
            item.customer_id,
            item.kind,
            item.channel,
            item.status,
            str(len(item.findings)),
        )
    console.print(table)
