from __future__ import annotations

from agent.guardrails.text import (
    contains_phrase,
    field_label,
    locate_field,
    visible_text,
)

FIELDS = {"subject": "Your order", "body": "Thanks, Zoë. Enjoy 10% OFF.", "call_to_action": "Shop"}


def test_locate_field_finds_first_field() -> None:
    assert locate_field(FIELDS, "order") == "subject"


def test_locate_field_ignores_case() -> None:
    assert locate_field(FIELDS, "10% off") == "body"


def test_locate_field_matches_unicode_case() -> None:
    assert locate_field(FIELDS, "ZOË") == "body"


def test_locate_field_matches_decomposed_accent() -> None:
    assert locate_field(FIELDS, "Zoe\u0308") == "body"


def test_locate_field_returns_none_for_template_text() -> None:
    assert locate_field(FIELDS, "Unsubscribe") is None


def test_locate_field_returns_none_for_blank_span() -> None:
    assert locate_field(FIELDS, "") is None


def test_contains_phrase_needs_word_boundaries() -> None:
    assert contains_phrase("Wholesale prices", "sale") is False
    assert contains_phrase("In the sale now", "sale") is True


def test_contains_phrase_ignores_blank_phrase() -> None:
    assert contains_phrase("anything", "  ") is False


def test_visible_text_drops_tags_scripts_and_entities() -> None:
    document = "<head><title>T</title></head><p>Hi&nbsp;&amp; bye</p><script>sale()</script>"
    text = visible_text(document)
    assert "Hi\u00a0& bye" in text
    assert "sale" not in text
    assert "T" not in text


def test_field_label_spells_out_underscores() -> None:
    assert field_label("call_to_action") == "call to action"
