"""The edit format: writing fields, reading them back, and what an edit may not contain."""

import pytest

from agent.review.editing import format_fields, html_problems, parse_fields
from agent.review.errors import InvalidEdit

FIELDS = {
    "call_to_action": "View your order",
    "subject": "Your order is on its way",
    "body": "Thank you for shopping with us.",
}
NAMES = list(FIELDS)


def test_round_trip_keeps_fields() -> None:
    text = format_fields(FIELDS, ["Draft abc.", "Edit below."])
    assert parse_fields(text, NAMES) == FIELDS


def test_header_lines_are_comments() -> None:
    text = format_fields(FIELDS, ["subject: not a field"])
    assert text.startswith("# subject: not a field\n")
    assert parse_fields(text, NAMES)["subject"] == "Your order is on its way"


def test_body_lines_join_into_one_paragraph() -> None:
    text = "call_to_action: View\nsubject: Hello there\n---\n\nFirst line\n  second line  \n\n"
    assert parse_fields(text, NAMES)["body"] == "First line second line"


def test_body_keeps_hash_lines() -> None:
    text = "call_to_action: View\nsubject: Hello there\n---\n#1 in our range, we think.\n"
    assert parse_fields(text, NAMES)["body"] == "#1 in our range, we think."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call_to_action: View\nsubject: Hi\nBody without separator\n", "`---` line"),
        ("call_to_action: View\n---\nBody.\n", "field `subject` is missing"),
        ("call_to_action: View\nsubject: Hi\ncolour: red\n---\nBody.\n", "unknown field"),
        ("call_to_action: View\nsubject: Hi\nsubject: Again\n---\nBody.\n", "given twice"),
        ("call_to_action: View\nsubject Hi\n---\nBody.\n", "line 2: expected `name: value`"),
        ("call_to_action: View\nsubject: Hi\n---\nOne.\n\nTwo.\n", "line 5: the body is one"),
        ("call_to_action: View\nsubject:   \n---\nBody.\n", "field `subject` is empty"),
        ("call_to_action: View\nsubject: Hi\n---\n\n", "field `body` is empty"),
    ],
)
def test_invalid_format_names_problem(text: str, expected: str) -> None:
    with pytest.raises(InvalidEdit) as error:
        parse_fields(text, NAMES)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    "body",
    [
        "Thank you for <b>shopping</b> with us.",
        "Thank you for shopping with us.</p><p>Extra paragraph.",
        "Thank you <a href='https://example.com'>here</a>.",
        "Fish &amp; chips for you.",
        "Fish &#38; chips for you.",
        "A comment <!-- hidden --> here.",
    ],
)
def test_markup_in_field_is_rejected(body: str) -> None:
    text = f"call_to_action: View\nsubject: Hi there\n---\n{body}\n"
    with pytest.raises(InvalidEdit) as error:
        parse_fields(text, NAMES)
    assert "field `body` contains HTML markup" in str(error.value)


@pytest.mark.parametrize("body", ["Price 3 < 5 and 7 > 2.", "Fish & chips for you."])
def test_plain_symbols_are_allowed(body: str) -> None:
    text = f"call_to_action: View\nsubject: Hi there\n---\n{body}\n"
    assert parse_fields(text, NAMES)["body"] == body


def test_placeholder_in_field_is_rejected() -> None:
    text = "call_to_action: View\nsubject: Hi {{ first_name }}\n---\nBody text.\n"
    with pytest.raises(InvalidEdit) as error:
        parse_fields(text, NAMES)
    assert "template syntax" in str(error.value)


def test_control_character_is_rejected() -> None:
    text = "call_to_action: View\nsubject: Hi\x07 there\n---\nBody text.\n"
    with pytest.raises(InvalidEdit) as error:
        parse_fields(text, NAMES)
    assert "control character" in str(error.value)


def test_sms_fields_have_only_body() -> None:
    text = format_fields({"body": "Thank you for your order."}, [])
    assert text == "---\nThank you for your order.\n"
    assert parse_fields(text, ["body"]) == {"body": "Thank you for your order."}


def test_balanced_html_has_no_problems() -> None:
    html = "<html><body><p>Hi<br>there</p><table><tr><td>x</td></tr></table></body></html>"
    assert html_problems(html) == []


def test_unclosed_tag_is_reported() -> None:
    problems = html_problems("<html><body><p>Hi</body></html>")
    assert problems
    assert "`</body>` where `</p>` was expected" in problems[0]


def test_tag_left_open_is_reported() -> None:
    assert html_problems("<div><span>text</span>") == ["line 1: `<div>` is never closed"]
