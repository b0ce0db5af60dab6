"""Rich views of drafts for the review commands: the queue, one draft, history and diffs."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Column, Table
from rich.text import Text

from agent.domain import Channel, Draft, DraftStatus, Finding, Severity, Source
from agent.guardrails.sms import count_sms
from agent.review.audit import ReviewEvent
from agent.review.summary import CustomerSummary
from agent.review.versions import DraftVersion

STATUS_STYLE = {
    DraftStatus.READY: "green",
    DraftStatus.NEEDS_REVIEW: "yellow",
    DraftStatus.BLOCKED: "red",
    DraftStatus.APPROVED: "bold green",
    DraftStatus.REJECTED: "dim",
}
SPAN_STYLE = {Severity.BLOCK: "bold white on red", Severity.WARN: "black on yellow"}
SEVERITY_STYLE = {Severity.BLOCK: "red", Severity.WARN: "yellow"}
# Characters of the subject and body shown per version in the versions table.
PREVIEW_CHARS = 40


def status_text(status: DraftStatus) -> Text:
    return Text(status.value, style=STATUS_STYLE[status])


def format_age(created_at: datetime, now: datetime) -> str:
    """Write how long ago `created_at` was as minutes, hours or days, such as `3d`."""
    seconds = max(0, int((now - created_at).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def queue_table(drafts: list[Draft], now: datetime) -> Table:
    table = Table(
        Column("id", no_wrap=True),
        "brand",
        "customer",
        "kind",
        "channel",
        "status",
        Column("findings", justify="right"),
        Column("age", justify="right", no_wrap=True),
    )
    for draft in drafts:
        table.add_row(
            draft.id,
            draft.brand,
            draft.customer_id,
            draft.kind.value,
            draft.channel.value,
            status_text(draft.status),
            str(len(draft.findings)),
            format_age(draft.created_at, now),
        )
    return table


# --- findings marked on their spans ---------------------------------------------------------


def locate_span(text: str, span: str) -> tuple[int, int] | None:
    """Find `span` in `text` ignoring case and runs of white space; None when absent.

    A match on word boundaries wins over one inside a word, so "50" marks "50%", not "SAVE50".
    """
    words = span.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(word) for word in words)
    match = re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE) or re.search(
        pattern, text, re.IGNORECASE
    )
    return (match.start(), match.end()) if match else None


@dataclass(frozen=True)
class MarkedMessage:
    text: Text
    # Finding numbers (from 1) whose span was found and marked.
    marked: frozenset[int]


def message_text(draft: Draft) -> str:
    """Return the message as the reviewer reads it: the subject line, then the text."""
    if draft.channel == Channel.EMAIL and draft.subject:
        return f"Subject: {draft.subject}\n\n{draft.text}"
    return draft.text


def mark_findings(message: str, findings: list[Finding]) -> MarkedMessage:
    """Highlight each finding's span in `message` and put its number after the span."""
    text = Text(message)
    labels: dict[int, list[int]] = {}
    for number, finding in enumerate(findings, start=1):
        where = locate_span(message, finding.span) if finding.span else None
        if where is None:
            continue
        text.stylize(SPAN_STYLE[finding.severity], *where)
        labels.setdefault(where[1], []).append(number)
    if not labels:
        return MarkedMessage(text, frozenset())
    ends = sorted(labels)
    pieces = text.divide(ends)
    marked = Text()
    for index, piece in enumerate(pieces):
        marked.append_text(piece)
        if index < len(ends):
            numbers = ",".join(str(n) for n in labels[ends[index]])
            marked.append(f"[{numbers}]", style="bold magenta")
    found = frozenset(n for numbers in labels.values() for n in numbers)
    return MarkedMessage(marked, found)


def legend_table(findings: list[Finding], marked: frozenset[int]) -> Table:
    table = Table("#", "severity", "check", "message", "suggestion", title="Findings")
    for number, finding in enumerate(findings, start=1):
        where = "" if number in marked or not finding.span else " (span not in the text)"
        table.add_row(
            str(number),
            Text(finding.severity.value, style=SEVERITY_STYLE[finding.severity]),
            finding.check_id,
            Text(finding.message + where),
            Text(finding.suggestion or ""),
        )
    return table


# --- one draft --------------------------------------------------------------------------------


def header_text(draft: Draft, version: int, now: datetime) -> Text:
    text = Text.assemble(
        (f"draft {draft.id}", "bold"),
        f" · {draft.brand} · customer {draft.customer_id} · {draft.kind} · {draft.channel} · ",
        status_text(draft.status),
        f" · version {version} · created {draft.created_at:%Y-%m-%d %H:%M} UTC",
        f" ({format_age(draft.created_at, now)} ago)",
    )
    if draft.send_after is not None:
        text.append(f"\nsend after {draft.send_after:%Y-%m-%d %H:%M} UTC")
    return text


def message_panel(draft: Draft) -> tuple[Panel, frozenset[int]]:
    marked = mark_findings(message_text(draft), draft.findings)
    subtitle = None
    if draft.channel == Channel.SMS:
        count = count_sms(draft.text)
        subtitle = f"SMS: {count.segments} segment(s), {count.units} {count.encoding} units"
    panel = Panel(marked.text, title="Message", title_align="left", subtitle=subtitle)
    return panel, marked.marked


def sources_table(draft: Draft) -> Table:
    """List each retrieved document once, with its best chunk score and its chunk count."""
    table = Table("document", "title", "type", "best score", "chunks", title="Retrieved guidelines")
    by_document: dict[str, list[Source]] = {}
    for source in draft.sources:
        by_document.setdefault(source.doc_id, []).append(source)
    for doc_id, chunks in by_document.items():
        best = max(chunks, key=lambda chunk: chunk.score)
        table.add_row(
            doc_id, Text(best.title), best.doc_type, f"{best.score:.2f}", str(len(chunks))
        )
    return table


def customer_panel(summary: CustomerSummary) -> Panel:
    if not summary.found:
        body = Text("not in the database (the draft was made from an inline context)")
        return Panel(body, title=f"Customer {summary.customer_id}", title_align="left")
    last = f"{summary.last_order_at:%Y-%m-%d}" if summary.last_order_at else "none"
    lines = [
        f"first name: {summary.first_name or '(none)'}",
        f"orders: {summary.orders}, last order {last}",
        f"open tickets: {summary.open_tickets}",
        f"consent: email {_consent(summary.email_consent)}, sms {_consent(summary.sms_consent)}",
    ]
    signals = summary.signals
    if signals is None:
        lines.append(summary.signals_note or "signals not computed")
    else:
        alive = "n/a" if signals.p_alive is None else f"{signals.p_alive:.2f}"
        value = "n/a" if signals.predicted_clv is None else f"{signals.predicted_clv:.2f}"
        lines.append(
            f"signals as of {signals.as_of:%Y-%m-%d}: p_alive {alive}, 12-month value {value} "
            f"({signals.clv_method}), RFM {signals.rfm_segment}, sentiment "
            f"{signals.sentiment or 'n/a'}, advocate score {signals.advocate_score}, "
            f"review {signals.review_status}"
        )
    title = f"Customer {summary.customer_id} (as of {summary.as_of:%Y-%m-%d})"
    return Panel(Text("\n".join(lines)), title=title, title_align="left")


def _consent(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "not recorded"}[value]


def attempts_table(draft: Draft) -> Table:
    table = Table("#", "outcome", "findings", "fields", title="Model attempts")
    for attempt in draft.attempt_log:
        outcome = attempt.error or ("passed" if not attempt.findings else "failed checks")
        checks = ", ".join(dict.fromkeys(f.check_id for f in attempt.findings))
        fields = " | ".join(f"{k}: {v}" for k, v in attempt.fields.items())
        table.add_row(str(attempt.number), Text(outcome), checks, Text(fields))
    return table


def versions_table(versions: list[DraftVersion]) -> Table:
    table = Table("v", "created", "author", "origin", "status", "note", "fields", title="Versions")
    for version in versions:
        shown = {n: v for n, v in version.draft.fields.items() if n in ("subject", "body")}
        fields = " | ".join(f"{name}: {_shorten(value)}" for name, value in shown.items())
        table.add_row(
            str(version.number),
            f"{version.created_at:%Y-%m-%d %H:%M}",
            Text(version.author),
            version.origin.value,
            status_text(version.status),
            Text(version.note or ""),
            Text(fields),
        )
    return table


def _shorten(value: str) -> str:
    return value if len(value) <= PREVIEW_CHARS else value[: PREVIEW_CHARS - 1] + "…"


def draft_view(
    draft: Draft, versions: list[DraftVersion], summary: CustomerSummary, now: datetime
) -> Group:
    """Build the full review view of one draft."""
    panel, marked = message_panel(draft)
    parts: list[RenderableType] = [header_text(draft, versions[-1].number, now), panel]
    if draft.findings:
        parts.append(legend_table(draft.findings, marked))
    else:
        parts.append(Text("No findings.", style="green"))
    parts.append(sources_table(draft) if draft.sources else Text("No guidelines retrieved."))
    parts.append(customer_panel(summary))
    model_line = (
        f"model {draft.model}, {draft.attempts} attempt(s), "
        f"{draft.prompt_tokens}+{draft.completion_tokens} tokens, {draft.latency_ms} ms"
    )
    parts.append(Text(model_line))
    if draft.attempt_log:
        parts.append(attempts_table(draft))
    parts.append(versions_table(versions))
    return Group(*parts)


# --- history and diffs ------------------------------------------------------------------------


def history_table(events: list[ReviewEvent]) -> Table:
    table = Table("time (UTC)", "reviewer", "action", "version", "status", "fields", "reason")
    for event in events:
        table.add_row(
            f"{event.at:%Y-%m-%d %H:%M:%S}",
            Text(event.reviewer),
            event.action.value,
            str(event.version),
            f"{event.before.status} → {event.after.status}",
            ", ".join(event.changed_fields()) or "-",
            Text(event.reason or ""),
        )
    return table


def unified_diff(old: DraftVersion, new: DraftVersion) -> list[str]:
    """Return the unified diff of two versions' messages, subject line included."""
    return list(
        difflib.unified_diff(
            message_text(old.draft).splitlines(),
            message_text(new.draft).splitlines(),
            fromfile=f"version {old.number}",
            tofile=f"version {new.number}",
            lineterm="",
        )
    )


def diff_text(lines: list[str]) -> Text:
    text = Text()
    for line in lines:
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        text.append(line + "\n", style=style)
    return text
