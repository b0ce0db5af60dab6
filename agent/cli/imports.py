"""`aftercare import ...`: load customer data into the context store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli.common import console, fail, settings
from agent.context.db import init_db, make_engine
from agent.context.importer import ImportFileError, ImportReport, import_online_retail

logger = logging.getLogger(__name__)

app = typer.Typer(help="Import customer data into the context store.", no_args_is_help=True)

# Rows between two progress log lines when the output is not a terminal.
LOG_EVERY_ROWS = 100_000
MAX_PRINTED_EXAMPLES = 10


@app.command("online-retail")
def online_retail(
    path: Annotated[Path, typer.Argument(help="The UCI Online Retail CSV file, plain or gzipped.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the import report as JSON.")
    ] = False,
) -> None:
    """Import the UCI Online Retail file. Importing it again replaces its orders."""
    if not path.is_file():
        fail(f"file not found: {str(path)!r}. Give the path of an Online Retail CSV file.")

    database_url = settings().resolved_database_url
    engine = make_engine(database_url)
    try:
        init_db(engine)
        with _progress_reporter() as progress:
            report = import_online_retail(path, engine, progress=progress)
    except ImportFileError as exc:
        fail(str(exc))
    finally:
        engine.dispose()

    if as_json:
        # Plain output, because Rich would wrap long lines inside JSON strings.
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_report(report)


@contextmanager
def _progress_reporter() -> Iterator[Callable[[int], None]]:
    """Yield a progress callback that draws a Rich bar on a terminal and logs otherwise."""
    if not console.is_terminal:
        yield _log_progress()
        return

    columns = (TextColumn("importing"), BarColumn(), TextColumn("{task.completed:,} rows"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("import", total=None)
        yield lambda rows: bar.update(task, completed=rows)


def _log_progress() -> Callable[[int], None]:
    next_log = LOG_EVERY_ROWS

    def report(rows: int) -> None:
        nonlocal next_log
        if rows >= next_log:
            logger.info("read %d rows", rows)
            next_log = (rows // LOG_EVERY_ROWS + 1) * LOG_EVERY_ROWS

    return report


def _print_report(report: ImportReport) -> None:
    console.print(f"Imported {report.path}", highlight=False)
    table = Table(show_header=False)
    table.add_column("count")
    table.add_column("value", justify="right")
    counts = [
        ("rows read", report.rows_read),
        ("lines imported", report.lines_imported),
        ("customers", report.customers),
        ("orders", report.orders),
        ("cancelled orders", report.cancelled_orders),
        ("cancelled lines", report.cancellations),
        ("products", report.products),
        ("rows without customer (skipped)", report.rows_without_customer),
        ("malformed rows (skipped)", report.malformed),
        ("prices rounded to pence", report.prices_rounded),
    ]
    for label, value in counts:
        table.add_row(label, f"{value:,}")
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)

    examples = report.malformed_examples[:MAX_PRINTED_EXAMPLES]
    if examples:
        console.print(f"First {len(examples)} of {report.malformed:,} malformed rows:")
    for example in examples:
        console.print(f"  line {example.line_number}: {example.reason}", highlight=False)
