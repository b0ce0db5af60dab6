"""`aftercare signals ...`: compute customer signals and show one customer's."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import Engine

from agent.cli.common import EXIT_CHECK_FAILED, console, error_console, fail, settings
from agent.context.db import init_db, make_engine
from agent.context.store import ContextStore
from agent.domain import BrandProfile
from agent.knowledge.brand import BrandNotFound, load_brand
from agent.knowledge.documents import InvalidKnowledgeDocument
from agent.signals.refresh import RefreshError, RefreshReport, refresh_signals
from agent.signals.store import (
    CustomerSignals,
    SignalsNotComputed,
    customer_known,
    signals_for,
)

logger = logging.getLogger(__name__)

app = typer.Typer(help="Compute and show customer signals: CLV, churn, RFM and more.")

# Customers between two progress log lines when the output is not a terminal.
LOG_EVERY_CUSTOMERS = 500
# A latest order this long before as_of probably means --as-of was forgotten.
OLD_DATA_DAYS = 365

AS_OF_HELP = (
    "Compute as of this ISO 8601 date or time; a date means the end of that day in UTC, "
    "and a time without an offset is UTC. Now if unset."
)


# --- helpers shared by the signals, plan and report commands -------------------------------


def parse_as_of(value: str | None) -> datetime:
    """Parse --as-of; a bare date is the end of that day in UTC, capped at the current time.

    A moment after the current time is rejected, because no data exists for it yet.
    """
    now = datetime.now(UTC)
    if value is None:
        return now
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).date()
            moment = min(datetime.combine(day, time.max, UTC), now)
            if day > now.date():
                moment = datetime.combine(day, time.min, UTC)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"invalid --as-of {value!r}: use ISO 8601, such as 2011-12-09 or 2011-12-09T12:00Z")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > now:
        fail(
            f"--as-of {value} is in the future; pass a moment up to now ({now:%Y-%m-%d %H:%M} UTC)"
        )
    return moment


def open_engine() -> Engine:
    engine = make_engine(settings().resolved_database_url)
    init_db(engine)
    return engine


def brand_profile(brand: str | None) -> BrandProfile:
    current = settings()
    try:
        return load_brand(current.kb_dir, brand or current.default_brand)
    except (BrandNotFound, InvalidKnowledgeDocument) as error:
        fail(str(error))


def warn_if_old_data(engine: Engine, as_of: datetime) -> None:
    """Print a hint when the newest order is long before `as_of`, such as for old data sets."""
    latest = ContextStore(engine).latest_order_time()
    if latest is not None and (as_of - latest).days > OLD_DATA_DAYS:
        error_console.print(
            f"note: the latest order is from {latest:%Y-%m-%d}, {(as_of - latest).days:,} days "
            f"before as_of; pass --as-of {latest:%Y-%m-%d} to score as of the end of the data",
            highlight=False,
        )


@contextmanager
def progress_reporter(label: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a (done, total) callback: a Rich bar on a terminal, log lines otherwise."""
    if not error_console.is_terminal:
        yield _log_progress(label)
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=error_console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _log_progress(label: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        if done % LOG_EVERY_CUSTOMERS == 0 or done == total:
            logger.info("%s: %d of %d customers", label, done, total)

    return report


# --- refresh ----------------------------------------------------------------------------


@app.command("refresh")
def refresh(
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    brand: Annotated[
        str | None, typer.Option("--brand", help="Brand id; the default brand if unset.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compute every customer's signals and replace the stored ones in one transaction."""
    moment = parse_as_of(as_of)
    profile = brand_profile(brand)
    engine = open_engine()
    if as_of is None:
        warn_if_old_data(engine, moment)
    try:
        with progress_reporter("scoring customers") as progress:
            report = refresh_signals(engine, profile, moment, progress=progress)
    except RefreshError as error:
        fail(str(error))
    finally:
        engine.dispose()
    if json_output:
        typer.echo(json.dumps(_report_dict(report), indent=2))
        return
    _print_refresh(report)


def _report_dict(report: RefreshReport) -> dict[str, object]:
    return {
        "refresh_id": report.refresh_id,
        "brand": report.brand,
        "as_of": report.as_of.isoformat(),
        "customers": report.customers,
        "skipped_later_customers": report.skipped_later_customers,
        "seconds": round(report.seconds, 2),
        "clv_seconds": round(report.clv_seconds, 2),
        "clv_methods": report.clv_methods,
        "segments": report.segments,
        "review_due": report.review_due,
        "notes": report.notes,
    }


def _print_refresh(report: RefreshReport) -> None:
    console.print(
        f"Stored signals of {report.customers:,} customers for brand {report.brand} as of "
        f"{report.as_of:%Y-%m-%d %H:%M %Z} in {report.seconds:.1f} s",
        highlight=False,
    )
    if report.skipped_later_customers:
        console.print(
            f"{report.skipped_later_customers:,} customers whose first order is after as_of "
            "were left out",
            highlight=False,
        )
    table = Table("count", "value", show_header=False)
    for method, count in sorted(report.clv_methods.items()):
        table.add_row(f"CLV by {method}", f"{count:,}")
    for segment, count in sorted(report.segments.items(), key=lambda item: -item[1]):
        table.add_row(f"RFM segment {segment}", f"{count:,}")
    table.add_row("review requests due", f"{report.review_due:,}")
    console.print(table)
    for note in report.notes:
        console.print(f"note: {escape(note)}", highlight=False)


# --- show -------------------------------------------------------------------------------


@app.command("show")
def show(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    brand: Annotated[
        str | None, typer.Option("--brand", help="Brand id; the latest of any brand if unset.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the signals as JSON.")] = False,
) -> None:
    """Show one customer's stored signals with their inputs and the method that scored CLV."""
    engine = open_engine()
    try:
        if not customer_known(engine, customer_id):
            fail(f"customer {customer_id!r} not found in the context store; check the id")
        signals = signals_for(engine, customer_id, brand=brand)
    except SignalsNotComputed as error:
        fail(str(error), EXIT_CHECK_FAILED)
    finally:
        engine.dispose()
    if json_output:
        typer.echo(signals.model_dump_json(indent=2))
        return
    print_signals(signals)


def _table(title: str, rows: list[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("signal")
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, _format(value))
    return table


def _format(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "-"
    return str(value)


def print_signals(signals: CustomerSignals) -> None:
    clv, rfm, sentiment, review = signals.clv, signals.rfm, signals.sentiment, signals.review
    console.print(
        f"Customer {signals.customer_id}, brand {signals.brand}, as of "
        f"{signals.as_of:%Y-%m-%d %H:%M} UTC (refresh {signals.refresh_id})",
        highlight=False,
    )
    interval = (
        f"{clv.clv_low:,.2f} to {clv.clv_high:,.2f}"
        if clv.clv_low is not None
        else "none (MAP fit or rules)"
    )
    console.print(
        _table(
            f"CLV and churn, scored by {clv.method}",
            [
                ("p_alive", clv.p_alive),
                ("expected purchases", clv.expected_purchases),
                ("predicted CLV", clv.predicted_clv),
                ("CLV interval", interval),
                ("horizon days", clv.horizon_days),
                ("repeat purchase days (input)", clv.frequency),
                ("recency days (input)", clv.recency_days),
                ("tenure days (input)", clv.tenure_days),
                ("mean spend per purchase (input)", clv.monetary),
                ("why rules scored it", clv.fallback_reason),
            ],
        )
    )
    console.print(
        _table(
            f"RFM segment {rfm.segment}",
            [
                ("scores R / F / M", f"{rfm.r_score} / {rfm.f_score} / {rfm.m_score}"),
                ("days since last order", rfm.recency_days),
                ("live orders", rfm.orders),
                ("total spend", rfm.monetary),
            ],
        )
    )
    console.print(
        _table(
            "Sentiment of reviews and tickets (VADER)",
            [
                ("texts", sentiment.texts),
                ("mean compound", sentiment.mean_compound),
                ("label", sentiment.label),
                ("latest compound", sentiment.latest_compound),
                ("latest written", sentiment.latest_at),
                ("negative texts, last 90 days", sentiment.recent_negative),
            ],
        )
    )
    _print_advocacy(signals)
    console.print(
        _table(
            f"Review request: {review.status}",
            [
                ("order", review.order_id),
                ("delivered", review.delivered_at),
                ("delivery estimated", review.delivery_estimated),
                ("usage window days", review.window_days),
                ("window from", review.window_source),
                ("families", review.families),
                ("due", review.due_at),
                ("blocked by", review.blockers),
            ],
        )
    )


def _print_advocacy(signals: CustomerSignals) -> None:
    advocacy = signals.advocacy
    table = Table(
        "input",
        "raw",
        "scaled",
        "weight",
        "status",
        title=f"Advocate score {advocacy.score} (coverage {advocacy.coverage:.2f})",
        title_justify="left",
    )
    for name, item in advocacy.inputs.items():
        status = item.status + (f": {item.note}" if item.note else "")
        table.add_row(name, _format(item.raw), _format(item.scaled), f"{item.weight:.2f}", status)
    console.print(table)
