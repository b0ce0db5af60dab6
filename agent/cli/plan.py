"""`aftercare plan`: choose one message kind, or none with a reason, for every customer."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.cli.common import EXIT_CHECK_FAILED, console, error_console, fail, settings
from agent.cli.signals import (
    AS_OF_HELP,
    brand_profile,
    open_engine,
    parse_as_of,
    progress_reporter,
)
from agent.domain import Channel
from agent.signals.planner import PlanResult, PlanRow, plan_customers
from agent.signals.store import SignalsNotComputed

CSV_COLUMNS = (
    "customer_id",
    "kind",
    "status",
    "channel",
    "send_at",
    "send_at_local",
    "zone",
    "reason",
    "signals",
    "findings",
)


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSONL = "jsonl"


def plan(
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Plan at most this many customers, by customer id."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or jsonl (one JSON per line).")
    ] = OutputFormat.TABLE,
    channel: Annotated[
        Channel, typer.Option("--channel", help="Channel the messages would go by.")
    ] = Channel.EMAIL,
    brand: Annotated[
        str | None, typer.Option("--brand", help="Brand id; the default brand if unset.")
    ] = None,
    holdout_share: Annotated[
        float | None,
        typer.Option(
            "--holdout-share",
            min=0.0,
            max=0.99,
            help="Share of customers held out of every message; AFTERCARE_PLAN_HOLDOUT_SHARE "
            "if unset.",
        ),
    ] = None,
) -> None:
    """Plan the next message for every customer as of a date, with the reason and signals."""
    moment = parse_as_of(as_of)
    profile = brand_profile(brand)
    share = settings().plan_holdout_share if holdout_share is None else holdout_share
    engine = open_engine()
    try:
        with progress_reporter("planning") as progress:
            result = plan_customers(
                engine,
                profile,
                moment,
                channel=channel,
                holdout_share=share,
                limit=limit,
                progress=progress,
            )
    except SignalsNotComputed as error:
        fail(str(error), EXIT_CHECK_FAILED)
    finally:
        engine.dispose()

    for warning in result.warnings:
        error_console.print(f"warning: {escape(warning)}", highlight=False)
    if output is OutputFormat.CSV:
        _write_csv(result.rows)
    elif output is OutputFormat.JSONL:
        for row in result.rows:
            typer.echo(json.dumps(row.as_dict()))
    else:
        _print_table(result)
    _print_summary(result)


def _write_csv(rows: list[PlanRow]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        values = row.as_dict()
        values["signals"] = json.dumps(values["signals"])
        values["findings"] = ";".join(f.check_id for f in row.findings)
        writer.writerow(values)


def _print_table(result: PlanResult) -> None:
    table = Table(title=f"Plan as of {result.as_of:%Y-%m-%d %H:%M} UTC, {result.channel} channel")
    for column in ("customer", "kind", "status", "send at (customer's zone)", "reason"):
        table.add_column(column)
    for row in result.rows:
        when = f"{row.send_at_local:%Y-%m-%d %H:%M} {row.zone}" if row.send_at_local else "-"
        table.add_row(
            row.customer_id,
            row.kind.value if row.kind else "-",
            row.status,
            when,
            escape(row.reason),
        )
    console.print(table)


def _print_summary(result: PlanResult) -> None:
    counts = ", ".join(f"{name} {count:,}" for name, count in sorted(result.counts().items()))
    rate = len(result.rows) / result.seconds if result.seconds > 0 else 0.0
    error_console.print(
        f"planned {len(result.rows):,} customers in {result.seconds:.1f} s "
        f"({rate:,.0f} customers/s): {counts}",
        highlight=False,
    )
