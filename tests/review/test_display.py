"""Marking findings on their spans, ages and diffs in the review views."""

from datetime import UTC, datetime, timedelta

from rich.console import Console

from agent.domain import Finding, Severity
from agent.review.display import format_age, legend_table, locate_span, mark_findings


def finding(span: str | None, severity: Severity = Severity.WARN) -> Finding:
    return Finding(check_id="voice.length", severity=severity, message="too long", span=span)


def plain(renderable) -> str:
    console = Console(width=120, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def test_span_found_across_case_and_spacing() -> None:
    text = "We hope it\n  Brings you JOY today."
    start, end = locate_span(text, "brings you joy")
    assert text[start:end] == "Brings you JOY"


def test_span_prefers_whole_word() -> None:
    text = "Use SAVE50 for 50% off."
    start, end = locate_span(text, "50")
    assert text[start : end + 1] == "50%"


def test_missing_span_is_none() -> None:
    assert locate_span("Hello there", "goodbye") is None
    assert locate_span("Hello there", "   ") is None


def test_markers_follow_spans() -> None:
    message = "Thank you. Use code SAVE50 now."
    marked = mark_findings(message, [finding("SAVE50", Severity.BLOCK), finding("Thank you")])
    assert marked.text.plain == "Thank you[2]. Use code SAVE50[1] now."
    assert marked.marked == frozenset({1, 2})


def test_spans_ending_together_share_marker() -> None:
    marked = mark_findings("Buy now today", [finding("now today"), finding("today")])
    assert marked.text.plain == "Buy now today[1,2]"


def test_highlight_covers_span() -> None:
    marked = mark_findings("Use SAVE50 now", [finding("SAVE50", Severity.BLOCK)])
    styled = [(span.start, span.end, str(span.style)) for span in marked.text.spans]
    assert (4, 10, "bold white on red") in styled


def test_legend_notes_missing_span() -> None:
    findings = [finding("absent words"), finding(None)]
    marked = mark_findings("Hello", findings)
    output = plain(legend_table(findings, marked.marked))
    assert output.count("span not in the text") == 1


def test_customer_text_is_not_markup() -> None:
    marked = mark_findings("Hi [bold]you[/bold]", [finding("you")])
    assert "[bold]" in plain(marked.text)


def test_age_units() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert format_age(now - timedelta(minutes=5), now) == "5m"
    assert format_age(now - timedelta(hours=30), now) == "30h"
    assert format_age(now - timedelta(days=3, hours=2), now) == "3d"
    assert format_age(now + timedelta(minutes=5), now) == "0m"
