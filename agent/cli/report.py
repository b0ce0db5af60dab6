"""`aftercare report`: write the retention report (Markdown and PNG charts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agent.cli.common import console, fail, settings
from agent.cli.signals import AS_OF_HELP, brand_profile, open_engine, parse_as_of
from agent.signals.community import CommunityInputError, community_report_section
from agent.signals.fairness import FairnessInputError, fairness_report_section
from agent.signals.goals import GoalsFileError, load_goals
from agent.signals.report import DEFAULT_SECTIONS, ReportError, read_surveys, write_report

# Embedding runs at about 10 texts a second on 2 cores, so the default sample stays small.
COMMUNITY_SAMPLE = 1000


def report(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the report; data_dir/reports/<date> if unset."),
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    brand: Annotated[
        str | None, typer.Option("--brand", help="Brand id; the default brand if unset.")
    ] = None,
    goals: Annotated[
        Path | None,
        typer.Option("--goals", help="YAML file of goals (metric, target, deadline)."),
    ] = None,
    surveys: Annotated[
        Path | None,
        typer.Option("--surveys", help="CSV of NPS answers with customer_id and score (0-10)."),
    ] = None,
    reviews: Annotated[
        Path | None,
        typer.Option(
            "--reviews",
            help="Reviews CSV to mine for community topics; AFTERCARE_REVIEWS_CSV if unset.",
        ),
    ] = None,
    community_sample: Annotated[
        int, typer.Option("--community-sample", min=50, help="Review texts embedded for topics.")
    ] = COMMUNITY_SAMPLE,
    community: Annotated[
        bool,
        typer.Option("--community/--no-community", help="Add the community and fairness sections."),
    ] = True,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the metrics and goals as JSON.")
    ] = False,
) -> None:
    """Write the retention report: churn, CLV, cohorts, reviews, NPS, goals, topics, fairness."""
    moment = parse_as_of(as_of)
    profile = brand_profile(brand)
    try:
        goal_list = load_goals(goals) if goals else None
        answers = read_surveys(surveys) if surveys else None
    except (GoalsFileError, ReportError) as error:
        fail(str(error))
    folder = out or settings().data_dir / "reports" / f"{profile.brand_id}-{moment:%Y-%m-%d}"
    reviews_csv = reviews or settings().reviews_csv
    if reviews_csv is not None and not reviews_csv.is_file():
        fail(f"reviews file {str(reviews_csv)!r} not found; pass an existing CSV with --reviews")
    engine = open_engine()
    sections = list(DEFAULT_SECTIONS)
    if community:
        sections += [
            community_report_section(engine, reviews_csv=reviews_csv, sample_size=community_sample),
            fairness_report_section(engine, profile),
        ]
    try:
        result = write_report(
            engine,
            profile.brand_id,
            moment,
            folder,
            goals=goal_list,
            surveys=answers,
            sections=sections,
        )
    except (ReportError, CommunityInputError, FairnessInputError) as error:
        fail(str(error))
    finally:
        engine.dispose()

    goal_rows = [
        {
            "goal": item.goal.label,
            "metric": item.goal.metric,
            "target": item.goal.target,
            "current": item.current,
            "deadline": item.goal.deadline.isoformat(),
            "status": item.status.value,
        }
        for item in result.goals
    ]
    if json_output:
        payload = {
            "report": str(result.path),
            "charts": [str(chart) for chart in result.charts],
            "metrics": result.metrics,
            "goals": goal_rows,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    table = Table("metric", "value", title="Retention metrics", title_justify="left")
    for name, value in result.metrics.items():
        table.add_row(name, "n/a" if value is None else f"{value:,.4g}")
    console.print(table)
    for row in goal_rows:
        console.print(f"goal {row['goal']}: {row['status']}", highlight=False)
    console.print(f"report written to {result.path} with {len(result.charts)} charts")
