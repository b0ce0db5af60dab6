"""`aftercare demo`: run the whole product on the shipped extract of real data."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from agent.cli.common import console, error_console, settings
from agent.cli.draft import STATUS_STYLE, print_draft
from agent.demo import DemoResult, run_demo


def print_summary(result: DemoResult) -> None:
    table = Table(title=f"{len(result.drafts)} drafts as of {result.as_of:%Y-%m-%d %H:%M %Z}")
    for column in ("draft", "customer", "kind", "channel", "status", "findings", "model", "ms"):
        table.add_column(column)
    for draft in result.drafts:
        style = STATUS_STYLE[draft.status]
        checks = ", ".join(sorted({f.check_id for f in draft.findings})) or "-"
        table.add_row(
            draft.id,
            draft.customer_id,
            draft.kind,
            draft.channel,
            f"[{style}]{draft.status}[/{style}]",
            checks,
            draft.model,
            str(draft.latency_ms),
        )
    console.print(table)
    for request, reason in result.ineligible:
        console.print(
            f"not drafted: {request.kind} by {request.channel} for customer "
            f"{request.customer_id}: {escape(reason)}",
            highlight=False,
        )


def print_plan(result: DemoResult) -> None:
    if result.refresh is not None:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(result.refresh.clv_methods.items()))
        console.print(
            f"computed signals of {result.refresh.customers} customers (CLV by {methods})",
            highlight=False,
        )
    if result.plan is not None:
        counts = ", ".join(f"{k} {n}" for k, n in sorted(result.plan.counts().items()))
        console.print(
            f"planned {len(result.plan.rows)} customers: {counts}; drafting the first of each kind",
            highlight=False,
        )


def demo(
    json_output: bool = typer.Option(False, "--json", help="Print the drafts as JSON lines."),
) -> None:
    """Import the shipped real-data extract, ingest the knowledge base and draft messages."""
    current = settings()
    result = run_demo(current, on_progress=lambda message: error_console.print(f"· {message}"))
    if json_output:
        for draft in result.drafts:
            print(json.dumps(draft.model_dump(mode="json", exclude={"html"})))
        return
    report = result.imported
    console.print(
        f"imported {report.lines_imported} order lines for {report.customers} customers; "
        f"ingested {result.ingested.chunks} knowledge-base chunks",
        highlight=False,
    )
    print_plan(result)
    for draft in result.drafts:
        print_draft(draft)
    print_summary(result)
    if result.previews:
        console.print(f"previews written to {result.previews[0].parent}", highlight=False)
