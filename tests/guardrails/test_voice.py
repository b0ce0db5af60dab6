from __future__ import annotations

import pytest

from agent.domain import Severity
from agent.guardrails.voice import (
    BODY_MAX_CHARS,
    CALL_TO_ACTION_MAX_CHARS,
    SUBJECT_MAX_CHARS,
    check_banned_phrases,
    check_length,
    check_repetition,
)
from tests.guardrails.factories import make_brand, make_fields, make_input


def _banned(**fields: str):
    return check_banned_phrases(make_input(fields=make_fields(**fields)))


# --- voice.banned_phrases --------------------------------------------------------------------


def test_banned_passes_clean_copy() -> None:
    assert _banned() == []


def test_banned_blocks_phrase() -> None:
    findings = _banned(body="Act now before it is gone.")
    assert len(findings) == 1
    assert findings[0].check_id == "voice.banned_phrases"
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].field == "body"
    assert findings[0].span == "Act now"
    assert "'act now'" in findings[0].message


def test_banned_ignores_case() -> None:
    assert [f.span for f in _banned(subject="ACT NOW")] == ["ACT NOW"]


def test_banned_matches_curly_apostrophe() -> None:
    assert [f.span for f in _banned(body="Don\u2019t miss out on this.")] == ["Don't miss out"]


def test_banned_matches_across_extra_spaces() -> None:
    assert len(_banned(body="Please act   now.")) == 1


def test_banned_needs_whole_phrase() -> None:
    assert _banned(body="We react nowhere near as fast.") == []


def test_banned_punctuation_phrase() -> None:
    assert [f.span for f in _banned(body="Wow!!! Thanks.")] == ["!!!"]


def test_banned_reports_each_field() -> None:
    findings = _banned(subject="Act now", call_to_action="Act now")
    assert [f.field for f in findings] == ["subject", "call_to_action"]


def test_banned_unicode_phrase() -> None:
    brand = make_brand(banned_phrases=["Très chic"])
    inp = make_input(brand=brand, fields=make_fields(body="So TRÈS CHIC."))
    assert [f.span for f in check_banned_phrases(inp)] == ["TRÈS CHIC"]


def test_banned_ignores_template_text() -> None:
    # The rendered footer is the brand's own text, so only model fields are checked.
    brand = make_brand(banned_phrases=["unsubscribe"])
    assert check_banned_phrases(make_input(brand=brand)) == []


# --- voice.length ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("subject", SUBJECT_MAX_CHARS),
        ("call_to_action", CALL_TO_ACTION_MAX_CHARS),
        ("body", BODY_MAX_CHARS),
    ],
)
def test_length_passes_at_limit(field: str, limit: int) -> None:
    inp = make_input(fields=make_fields(**{field: "x" * limit}))
    assert check_length(inp) == []


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("subject", SUBJECT_MAX_CHARS),
        ("call_to_action", CALL_TO_ACTION_MAX_CHARS),
        ("body", BODY_MAX_CHARS),
    ],
)
def test_length_warns_over_limit(field: str, limit: int) -> None:
    findings = check_length(make_input(fields=make_fields(**{field: "x" * (limit + 1)})))
    assert len(findings) == 1
    assert findings[0].check_id == "voice.length"
    assert findings[0].severity is Severity.WARN
    assert findings[0].field == field
    assert f"{limit + 1} characters" in findings[0].message


def test_length_counts_composed_characters() -> None:
    subject = "e\u0301" * SUBJECT_MAX_CHARS
    assert check_length(make_input(fields=make_fields(subject=subject))) == []


def test_length_skips_missing_fields() -> None:
    assert check_length(make_input(fields={"body": "Short."})) == []


def test_length_message_reads_field_label() -> None:
    findings = check_length(make_input(fields=make_fields(call_to_action="x" * 31)))
    assert findings[0].message.startswith("The call to action is 31 characters")


def test_repetition_blocks_repeated_run() -> None:
    body = (
        "We hope it is helping others find what they need. "
        "A few words would help others find what they need."
    )
    findings = check_repetition(make_input(fields=make_fields(body=body)))
    assert [f.check_id for f in findings] == ["voice.repetition"]
    assert findings[0].span == "others find what they"


def test_repetition_allows_short_repeats() -> None:
    body = "Thank you for your order. We hope your order arrived safely."
    assert check_repetition(make_input(fields=make_fields(body=body))) == []
