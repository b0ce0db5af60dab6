"""Write an eval run's reports: Markdown, HTML with embedded charts, and JUnit XML."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from agent.evals import charts
from agent.evals.compare import Change, Comparison
from agent.evals.results import CaseResult, Outcome, RunRecord
from agent.evals.summary import GroupStats, RunSummary, summarise

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
JUNIT_NAME = "junit.xml"
SHORT_HASH = 12


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    junit: Path


def write_reports(
    run: RunRecord,
    out_dir: Path,
    *,
    comparison: Comparison | None = None,
    baseline: RunRecord | None = None,
) -> ReportPaths:
    """Write the three reports of `run` into `out_dir`, creating it, and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise(run.cases)
    baseline_summary = summarise(baseline.cases) if baseline is not None else None
    paths = ReportPaths(out_dir / MARKDOWN_NAME, out_dir / HTML_NAME, out_dir / JUNIT_NAME)
    paths.markdown.write_text(markdown_report(run, summary, comparison), encoding="utf-8")
    paths.html.write_text(html_report(run, summary, comparison, baseline_summary), encoding="utf-8")
    junit_tree(run).write(paths.junit, encoding="utf-8", xml_declaration=True)
    return paths


# --- shared formatting ---------------------------------------------------------------------


def fmt(value: float | int | None, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def short(value: object) -> str:
    return str(value)[:SHORT_HASH] if value else "-"


def stats_row(group: GroupStats) -> list[str]:
    latency = group.latency_median_ms
    p90 = group.latency_p90_ms
    return [
        group.name,
        str(group.cases),
        str(group.passed),
        fmt(group.pass_rate, suffix="%"),
        str(group.drafts),
        fmt(group.kept_share, suffix="%"),
        fmt(latency / 1000 if latency is not None else None, 2),
        fmt(p90 / 1000 if p90 is not None else None, 2),
        fmt(group.voice_mean, 3),
        fmt(group.reading_ease_mean),
        fmt(group.judge_mean, 2),
    ]


STATS_HEADERS = [
    "group",
    "cases",
    "passed",
    "pass rate",
    "drafts",
    "model text kept",
    "median s",
    "p90 s",
    "voice",
    "reading ease",
    "judge",
]


def input_rows(run: RunRecord) -> list[tuple[str, str]]:
    versions = run.versions
    rows = [
        ("provider", str(versions.get("provider", "-"))),
        ("model", str(versions.get("model", "-"))),
        ("model file sha256", short(versions.get("model_hash"))),
        ("prompts sha256", short(versions.get("prompts_hash"))),
        ("templates sha256", short(versions.get("templates_hash"))),
    ]
    kb = versions.get("kb_hashes") or {}
    if isinstance(kb, dict):
        rows += [(f"kb/{brand} sha256", short(value)) for brand, value in sorted(kb.items())]
    rows.append(("golden set sha256", short(run.golden_hash)))
    return rows


def failure_lines(case: CaseResult) -> list[str]:
    lines = [
        f"{check.name}: {check.detail}" if check.detail else check.name
        for check in case.failed_checks()
    ]
    if case.error and not lines:
        lines.append(case.error)
    return lines


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


# --- Markdown -------------------------------------------------------------------------------


def markdown_report(run: RunRecord, summary: RunSummary, comparison: Comparison | None) -> str:
    lines = [f"# Eval run {run.id}", ""]
    lines += [
        f"- Status: {run.status.value}",
        f"- Started: {run.started_at:%Y-%m-%d %H:%M:%S} UTC",
        f"- Golden set: `{run.golden_path}`"
        + (f", tags {', '.join(run.tags)}" if run.tags else "")
        + (f", limit {run.limit}" if run.limit else ""),
        f"- Outcomes: {', '.join(f'{k} {v}' for k, v in summary.outcomes.items()) or 'none'}",
        "",
        "## Inputs",
        "",
    ]
    lines += _table(["input", "value"], [[name, f"`{value}`"] for name, value in input_rows(run)])
    lines += ["", "## Summary", ""]
    groups = [summary.overall, *summary.by_kind, *summary.by_channel, *summary.by_brand]
    lines += _table(STATS_HEADERS, [stats_row(group) for group in groups])
    if comparison is not None:
        lines += ["", *_markdown_comparison(comparison)]
    lines += ["", *_markdown_failures(run)]
    flagged = [c for c in run.cases if c.judge is not None and c.judge.disagreement]
    if flagged:
        lines += ["", "## Judge disagreements", ""]
        lines += [f"- `{c.case_id}`: scores {c.judge.scores}" for c in flagged if c.judge]
    return "\n".join(lines) + "\n"


def _markdown_comparison(comparison: Comparison) -> list[str]:
    verdict = "regressed" if comparison.regressed else "no regression"
    lines = [f"## Compared with {comparison.baseline_id}: {verdict}", ""]
    lines += [f"- {reason}" for reason in comparison.reasons]
    lines += [
        f"- Shared cases: {comparison.shared}; pass rate {fmt(comparison.pass_rate_before)}% "
        f"-> {fmt(comparison.pass_rate_after)}%; model text kept "
        f"{fmt(comparison.kept_before)}% -> {fmt(comparison.kept_after)}%",
        f"- Changed inputs: {', '.join(comparison.input_changes) or 'none'}",
        "",
    ]
    for change in (Change.REGRESSION, Change.IMPROVEMENT, Change.CHANGED):
        items = comparison.of(change)
        if not items:
            continue
        lines += [f"### {change.value.capitalize()}s ({len(items)})", ""]
        rows = [
            [f"`{item.case_id}`", item.kind, item.channel, "; ".join(item.failed_now()) or "-"]
            for item in items
        ]
        lines += _table(["case", "kind", "channel", "failing now"], rows) + [""]
    return lines


def _markdown_failures(run: RunRecord) -> list[str]:
    failing = [case for case in run.cases if not case.passed]
    lines = [f"## Failing cases ({len(failing)})", ""]
    if not failing:
        return lines + ["Every case met its expectations."]
    for case in failing:
        lines.append(f"- `{case.case_id}` ({case.kind}, {case.channel}, {case.outcome.value})")
        lines += [f"  - {line}" for line in failure_lines(case)]
    return lines


# --- HTML -----------------------------------------------------------------------------------


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def html_report(
    run: RunRecord,
    summary: RunSummary,
    comparison: Comparison | None,
    baseline_summary: RunSummary | None = None,
) -> str:
    chart_list = [
        (
            "Pass rate and model-written text by kind",
            charts.rates_by_kind(summary, baseline_summary),
        ),
        ("Draft latency by kind", charts.latency_by_kind(run)),
        ("Brand-voice similarity", charts.voice_by_brand(run)),
    ]
    groups = [summary.overall, *summary.by_kind, *summary.by_channel, *summary.by_brand]
    template = _environment().get_template("report.html.j2")
    return template.render(
        run=run,
        summary=summary,
        inputs=input_rows(run),
        headers=STATS_HEADERS,
        rows=[stats_row(group) for group in groups],
        charts=[(title, _data_uri(png)) for title, png in chart_list],
        comparison=comparison,
        change_kinds=[Change.REGRESSION, Change.IMPROVEMENT, Change.CHANGED],
        failure_lines=failure_lines,
        fmt=fmt,
    )


# --- JUnit XML ------------------------------------------------------------------------------


def junit_tree(run: RunRecord) -> ET.ElementTree:
    """Build JUnit XML: one test suite per kind, one test case per golden case."""
    root = ET.Element("testsuites", name=f"aftercare-evals {run.id}")
    by_kind: dict[str, list[CaseResult]] = {}
    for case in run.cases:
        by_kind.setdefault(case.kind, []).append(case)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for kind in sorted(by_kind):
        suite, counts = _junit_suite(run, kind, by_kind[kind])
        root.append(suite)
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.ElementTree(root)


def _junit_suite(run: RunRecord, kind: str, cases: list[CaseResult]) -> tuple[ET.Element, dict]:
    suite = ET.Element("testsuite", name=f"evals.{kind}", timestamp=run.started_at.isoformat())
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="run_id", value=run.id)
    for name, value in input_rows(run):
        ET.SubElement(properties, "property", name=name, value=value)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for case in cases:
        element = _junit_case(case, kind)
        suite.append(element)
        seconds += float(element.get("time", "0"))
        counts["tests"] += 1
        if case.outcome is Outcome.SKIPPED:
            counts["skipped"] += 1
        elif case.outcome is Outcome.ERROR:
            counts["errors"] += 1
        elif not case.passed:
            counts["failures"] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{seconds:.3f}")
    return suite, counts


def _junit_case(case: CaseResult, kind: str) -> ET.Element:
    latency = case.metrics.get("latency_ms")
    seconds = float(latency) / 1000 if isinstance(latency, int | float) else 0.0
    element = ET.Element(
        "testcase",
        classname=f"evals.{kind}.{case.channel}",
        name=case.case_id,
        time=f"{seconds:.3f}",
    )
    lines = failure_lines(case)
    if case.outcome is Outcome.SKIPPED:
        ET.SubElement(element, "skipped", message=case.error or "skipped")
    elif case.outcome is Outcome.ERROR:
        error = ET.SubElement(element, "error", message=(case.error or "error")[:200])
        error.text = case.error or ""
    elif not case.passed:
        failure = ET.SubElement(element, "failure", message=lines[0][:200] if lines else "failed")
        failure.text = "\n".join(lines)
    if case.draft is not None:
        output = ET.SubElement(element, "system-out")
        subject = f"Subject: {case.draft.subject}\n\n" if case.draft.subject else ""
        output.text = f"outcome {case.outcome.value}\n{subject}{case.draft.text}"
    return element
