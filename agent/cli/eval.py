"""`aftercare eval ...`: run the golden set, compare runs and validate golden files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    console,
    error_console,
    fail,
    settings,
)
from agent.config import Settings
from agent.drafting.services import Services
from agent.evals.compare import Change, Comparison, Thresholds, compare_runs
from agent.evals.golden import DEFAULT_GOLDEN_DIR, GoldenSetError, load_golden
from agent.evals.report import fmt, write_reports
from agent.evals.results import CaseResult, RunRecord
from agent.evals.runner import EvalRunFailed, RunOptions, run_golden
from agent.evals.store import LATEST, EvalStore, RunNotFound, Selection
from agent.evals.summary import GroupStats, summarise
from agent.knowledge.brand import BrandNotFound, list_brands
from agent.knowledge.documents import InvalidKnowledgeDocument
from agent.knowledge.errors import KnowledgeStoreError
from agent.llm.base import LLMUnavailable

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Run the golden set offline, compare runs and fail on regressions.",
    no_args_is_help=True,
)

# Exit codes of `eval run` and `eval compare`: 0 no regression, 1 a regression beyond the
# thresholds, 2 the run itself failed (invalid golden file, model missing, unknown run).
RUN_FAILURES = (
    GoldenSetError,
    EvalRunFailed,
    LLMUnavailable,
    KnowledgeStoreError,
    InvalidKnowledgeDocument,
    BrandNotFound,
)


def _store(current: Settings) -> EvalStore:
    return EvalStore(Services(current).engine)


def _thresholds(current: Settings, pass_drop: float | None, kept_drop: float | None) -> Thresholds:
    defaults = Thresholds.from_settings(current)
    return Thresholds(
        defaults.max_pass_rate_drop if pass_drop is None else pass_drop,
        defaults.max_model_text_drop if kept_drop is None else kept_drop,
    )


def _resolve_baseline(
    store: EvalStore, reference: str | None, options: RunOptions
) -> RunRecord | None:
    if reference is None:
        return None
    try:
        return store.get(reference, selection=options.selection())
    except RunNotFound as error:
        if reference == LATEST:
            error_console.print(
                "[yellow]note:[/yellow] no completed run of the same golden set, tags and "
                "limit is stored yet, so this run has no baseline",
                highlight=False,
            )
            return None
        fail(str(error))


@app.command("run")
def run(
    golden: Path = typer.Option(
        DEFAULT_GOLDEN_DIR, "--golden", help="Golden YAML file, or a folder of them."
    ),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        help="Baseline run id, or `latest`: the newest completed run of the same cases.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the reports; <data dir>/evals/<run id> if unset."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Run at most N cases."),
    tags: list[str] = typer.Option(
        [], "--tag", help="Only cases carrying this tag; give it again for more tags."
    ),
    judge: bool = typer.Option(
        True, "--judge/--no-judge", help="Score with the LLM judge when one is configured."
    ),
    ingest: bool = typer.Option(
        True, "--ingest/--no-ingest", help="Bring the knowledge-base index up to date first."
    ),
    max_pass_rate_drop: float | None = typer.Option(
        None, "--max-pass-rate-drop", min=0, help="Allowed pass-rate drop in points."
    ),
    max_model_text_drop: float | None = typer.Option(
        None, "--max-model-text-drop", min=0, help="Allowed drop in model-text share, points."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Draft and score the golden set, store the run, write reports, compare with a baseline."""
    current = settings()
    thresholds = _thresholds(current, max_pass_rate_drop, max_model_text_drop)
    store = _store(current)
    options = RunOptions(golden=golden, tags=tags, limit=limit, judge=judge, ingest=ingest)
    before = _resolve_baseline(store, baseline, options)
    try:
        record = _run_with_progress(current, options)
    except RUN_FAILURES as error:
        fail(f"eval run failed: {error}", EXIT_BAD_INPUT)
    comparison = compare_runs(before, record, thresholds) if before is not None else None
    out = out or current.data_dir / "evals" / record.id
    try:
        paths = write_reports(record, out, comparison=comparison, baseline=before)
    except OSError as error:
        fail(f"run {record.id} is stored, but its reports cannot be written to {out}: {error}")
    if json_output:
        print(json.dumps(_run_json(record, comparison, paths), indent=2))
    else:
        _print_run(record, comparison)
        console.print(f"reports: {paths.markdown}, {paths.html}, {paths.junit}", highlight=False)
    if comparison is not None and comparison.regressed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _run_with_progress(current: Settings, options: RunOptions) -> RunRecord:
    if not console.is_terminal:
        return run_golden(current, options, on_start=_log_start, on_case=_log_case)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("drafting", total=None)

        def started(record: RunRecord, total: int) -> None:
            progress.update(task, total=total, description=f"run {record.id}")

        def scored(position: int, total: int, result: CaseResult) -> None:
            progress.update(task, completed=position)

        return run_golden(current, options, on_start=started, on_case=scored)


def _log_start(record: RunRecord, total: int) -> None:
    log.info("eval run %s started with %d case(s)", record.id, total)


def _log_case(position: int, total: int, result: CaseResult) -> None:
    log.info(
        "case %d/%d %s: %s, %s",
        position,
        total,
        result.case_id,
        result.outcome.value,
        "passed" if result.passed else "failed",
    )


def _stats_table(title: str, groups: list[GroupStats]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("group", no_wrap=True, min_width=14)
    for header in ("cases", "passed", "pass rate", "model text kept", "median s", "voice"):
        table.add_column(header, justify="right")
    for group in groups:
        latency = group.latency_median_ms
        table.add_row(
            group.name,
            str(group.cases),
            str(group.passed),
            fmt(group.pass_rate, suffix="%"),
            fmt(group.kept_share, suffix="%"),
            fmt(latency / 1000 if latency is not None else None, 2),
            fmt(group.voice_mean, 3),
        )
    return table


def _print_run(record: RunRecord, comparison: Comparison | None) -> None:
    summary = summarise(record.cases)
    title = f"Eval run {record.id} ({record.status.value})"
    console.print(_stats_table(title, [summary.overall, *summary.by_kind, *summary.by_channel]))
    failing = [case for case in record.cases if not case.passed]
    for case in failing:
        problems = "; ".join(c.name for c in case.failed_checks()) or case.error or ""
        console.print(
            f"  [red]fail[/red] {escape(case.case_id)} ({case.outcome.value}): {escape(problems)}",
            highlight=False,
        )
    if comparison is not None:
        _print_comparison(comparison)


def _print_comparison(comparison: Comparison) -> None:
    table = Table(
        title=f"Compared with {comparison.baseline_id}", title_justify="left", show_lines=False
    )
    for header in ("case", "change", "kind", "channel", "failing now"):
        table.add_column(header)
    for item in comparison.changes:
        if item.change in (Change.UNCHANGED, Change.ADDED, Change.REMOVED):
            continue
        style = {"regression": "red", "improvement": "green"}.get(item.change.value, "yellow")
        table.add_row(
            escape(item.case_id),
            f"[{style}]{item.change.value}[/{style}]",
            item.kind,
            item.channel,
            escape("; ".join(item.failed_now()) or "-"),
        )
    console.print(table)
    console.print(
        f"pass rate {fmt(comparison.pass_rate_before)}% -> {fmt(comparison.pass_rate_after)}% "
        f"over {comparison.shared} shared case(s); changed inputs: "
        f"{', '.join(comparison.input_changes) or 'none'}",
        highlight=False,
    )
    if comparison.regressed:
        for reason in comparison.reasons:
            console.print(f"[red]regression:[/red] {escape(reason)}", highlight=False)
    else:
        console.print("[green]no regression[/green]")


def _comparison_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "baseline": comparison.baseline_id,
        "candidate": comparison.candidate_id,
        "regressed": comparison.regressed,
        "reasons": comparison.reasons,
        "shared_cases": comparison.shared,
        "pass_rate_before": comparison.pass_rate_before,
        "pass_rate_after": comparison.pass_rate_after,
        "model_text_kept_before": comparison.kept_before,
        "model_text_kept_after": comparison.kept_after,
        "changed_inputs": comparison.input_changes,
        "changes": [
            {
                "case_id": item.case_id,
                "change": item.change.value,
                "kind": item.kind,
                "channel": item.channel,
                "failing_now": item.failed_now(),
            }
            for item in comparison.changes
            if item.change is not Change.UNCHANGED
        ],
    }


def _run_json(record: RunRecord, comparison: Comparison | None, paths: Any) -> dict[str, Any]:
    summary = summarise(record.cases)
    overall = summary.overall
    return {
        "run_id": record.id,
        "status": record.status.value,
        "cases": overall.cases,
        "passed": overall.passed,
        "pass_rate": overall.pass_rate,
        "model_text_kept": overall.kept_share,
        "outcomes": summary.outcomes,
        "by_kind": {
            group.name: {
                "cases": group.cases,
                "pass_rate": group.pass_rate,
                "model_text_kept": group.kept_share,
            }
            for group in summary.by_kind
        },
        "failing": [case.case_id for case in record.cases if not case.passed],
        "comparison": _comparison_json(comparison) if comparison is not None else None,
        "reports": {
            "markdown": str(paths.markdown),
            "html": str(paths.html),
            "junit": str(paths.junit),
        },
    }


@app.command("compare")
def compare(
    baseline: str = typer.Argument(..., help="Baseline run id, or `latest`."),
    candidate: str = typer.Argument(..., help="Run id to compare with the baseline."),
    max_pass_rate_drop: float | None = typer.Option(
        None, "--max-pass-rate-drop", min=0, help="Allowed pass-rate drop in points."
    ),
    max_model_text_drop: float | None = typer.Option(
        None, "--max-model-text-drop", min=0, help="Allowed drop in model-text share, points."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """List per-case regressions and improvements of CANDIDATE against BASELINE."""
    current = settings()
    store = _store(current)
    try:
        after = store.get(candidate)
        before = store.get(baseline, exclude=after.id, selection=Selection.of(after))
    except RunNotFound as error:
        fail(str(error))
    comparison = compare_runs(
        before, after, _thresholds(current, max_pass_rate_drop, max_model_text_drop)
    )
    if json_output:
        print(json.dumps(_comparison_json(comparison), indent=2))
    else:
        _print_comparison(comparison)
    if comparison.regressed:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("list")
def list_runs(
    limit: int = typer.Option(20, "--limit", min=1, help="Maximum number of runs."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List stored eval runs, newest first."""
    rows = _store(settings()).list(limit=limit)
    if json_output:
        for record, cases, passed in rows:
            line = {
                "run_id": record.id,
                "started_at": record.started_at.isoformat(),
                "status": record.status.value,
                "cases": cases,
                "passed": passed,
                "tags": record.tags,
                "model": record.versions.get("model"),
            }
            print(json.dumps(line))
        return
    table = Table("run", "started", "status", "cases", "passed", "tags", "model")
    for record, cases, passed in rows:
        table.add_row(
            record.id,
            f"{record.started_at:%Y-%m-%d %H:%M}",
            record.status.value,
            str(cases),
            str(passed),
            ", ".join(record.tags) or "-",
            str(record.versions.get("model", "-")),
        )
    console.print(table)


@app.command("validate")
def validate(
    golden: Path = typer.Argument(DEFAULT_GOLDEN_DIR, help="Golden YAML file, or a folder."),
) -> None:
    """Check golden files without drafting: count the cases per kind, channel and tag."""
    current = settings()
    try:
        loaded = load_golden(golden, brands=list_brands(current.kb_dir))
    except GoldenSetError as error:
        fail(str(error))
    counts: dict[tuple[str, str], int] = {}
    for _, case in loaded.cases:
        key = (case.kind.value, case.channel.value)
        counts[key] = counts.get(key, 0) + 1
    table = Table(
        "kind", "channel", "cases", title=f"{len(loaded)} valid case(s)", title_justify="left"
    )
    for (kind, channel), count in sorted(counts.items()):
        table.add_row(kind, channel, str(count))
    console.print(table)
    tags = ", ".join(f"{tag} {count}" for tag, count in loaded.tags().items())
    console.print(f"tags: {tags or 'none'}", highlight=False)
