"""Slot grammar and JSON Schema: bounds, escaping and agreement with SlotSchema.parse."""

from __future__ import annotations

import json
import random
import re
import string

import pytest

from agent.llm.grammar import (
    CharRun,
    Literal,
    SlotSchemaError,
    max_output_chars,
    max_tokens_for,
    slot_grammar,
    slot_json_schema,
    slot_pieces,
)
from agent.llm.local import check_gbnf
from agent.llm.slots import FREE_CHARACTERS, Slot, SlotSchema

SCHEMAS = [
    SlotSchema("phrase", (Slot("subject", max_chars=60, min_chars=12, sentences=0),)),
    SlotSchema(
        "prefixed",
        (
            Slot("subject", max_chars=70, min_chars=12, prefix="Your order", sentences=0),
            Slot("body", max_chars=330, min_chars=30, prefix="Thank you for", sentences=2),
            Slot("cta", max_chars=36, min_chars=6, prefix="View", sentences=0),
        ),
    ),
    SlotSchema(
        "offer",
        (
            Slot(
                "body",
                max_chars=240,
                min_chars=60,
                prefix="Hi Anna, ",
                suffix=" Enjoy 10% off your next order.",
                sentences=2,
            ),
        ),
    ),
    SlotSchema(
        "escaping",
        (
            Slot("greeting", max_chars=90, prefix='Dear "Anna" \\ ', sentences=1),
            Slot("note", max_chars=80, prefix="Save $5 (now)! ^_^ [x] {y} a+b? ", sentences=1),
            Slot("unicode", max_chars=60, prefix="Café ", suffix=" ✓", sentences=0),
        ),
    ),
    SlotSchema(
        "three_sentences",
        (Slot("body", max_chars=200, min_chars=150, prefix="Thanks.", sentences=3),),
    ),
]


def build_value(slot: Slot, rng: random.Random, mode: str) -> str:
    """Build one value that the slot's pieces allow: the shortest, the longest or a random one."""
    out = []
    for piece in slot_pieces(slot):
        if isinstance(piece, Literal):
            out.append(piece.text)
            continue
        count = {
            "min": piece.min_count,
            "max": piece.max_count,
            "random": rng.randint(piece.min_count, piece.max_count),
        }[mode]
        out.append("".join(rng.choice(piece.chars) for _ in range(count)))
    return "".join(out)


def build_output(schema: SlotSchema, rng: random.Random, mode: str) -> tuple[str, dict[str, str]]:
    values = {slot.name: build_value(slot, rng, mode) for slot in schema.slots}
    return json.dumps(values, ensure_ascii=False), values


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_grammar_parses_in_llama_cpp(schema: SlotSchema) -> None:
    check_gbnf(slot_grammar(schema))


def test_check_gbnf_rejects_invalid_grammar() -> None:
    with pytest.raises(SlotSchemaError):
        check_gbnf('root ::= "a" undefined-rule')


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
@pytest.mark.parametrize("mode", ["min", "max", "random"])
def test_values_from_pieces_pass_parse(schema: SlotSchema, mode: str) -> None:
    rng = random.Random(7)
    for _ in range(20):
        output, values = build_output(schema, rng, mode)
        assert schema.parse(output).keys() == values.keys()


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_longest_value_equals_max_chars(schema: SlotSchema) -> None:
    _, values = build_output(schema, random.Random(1), "max")
    for slot in schema.slots:
        assert len(values[slot.name]) == slot.max_chars, slot.name


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_shortest_value_respects_min_chars(schema: SlotSchema) -> None:
    _, values = build_output(schema, random.Random(1), "min")
    for slot in schema.slots:
        assert len(values[slot.name]) >= slot.min_chars, slot.name


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_max_output_chars_matches_longest_json(schema: SlotSchema) -> None:
    output, _ = build_output(schema, random.Random(1), "max")
    assert max_output_chars(schema) == len(output)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_max_tokens_allows_one_byte_per_token(schema: SlotSchema) -> None:
    output, _ = build_output(schema, random.Random(1), "max")
    assert max_tokens_for(schema) > len(output.encode("utf-8"))


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_free_parts_exclude_digits_and_controls(schema: SlotSchema) -> None:
    for slot in schema.slots:
        for piece in slot_pieces(slot):
            if isinstance(piece, CharRun):
                assert not set(piece.chars) & set(string.digits), slot.name
                assert all(" " <= char <= "~" for char in piece.chars), slot.name


@pytest.mark.parametrize(
    ("slots", "count"),
    [
        ((Slot("a", max_chars=100, sentences=0),), 0),
        ((Slot("a", max_chars=100, sentences=1),), 1),
        ((Slot("a", max_chars=200, sentences=3, suffix=" Enjoy 10% off."),), 4),
    ],
)
def test_sentence_count_is_fixed(slots: tuple[Slot, ...], count: int) -> None:
    _, values = build_output(SlotSchema("s", slots), random.Random(3), "random")
    assert values["a"].count(".") == count


def test_grammar_escapes_quotes_and_backslashes() -> None:
    schema = SlotSchema("q", (Slot("greeting", max_chars=90, prefix='Dear "Anna" \\ '),))
    # JSON text `Dear \"Anna\" \\ `, written as a GBNF string literal.
    assert '"Dear \\\\\\"Anna\\\\\\" \\\\\\\\ "' in slot_grammar(schema)


def test_grammar_escapes_key_names() -> None:
    schema = SlotSchema("q", (Slot('say "hi"', max_chars=40, sentences=0),))
    assert '"{\\"say \\\\\\"hi\\\\\\"\\": \\""' in slot_grammar(schema)


def test_grammar_has_no_raw_control_characters() -> None:
    schema = SlotSchema("c", (Slot("body", max_chars=90, prefix="Line\tone\r\n", sentences=1),))
    for line in slot_grammar(schema).splitlines():
        assert all(char >= " " and char != "\x7f" for char in line), line


def test_control_characters_reach_json_as_escapes() -> None:
    slot = Slot("body", max_chars=90, prefix="Line\tone\n", sentences=1)
    assert '"Line\\\\tone\\\\n"' in slot_grammar(SlotSchema("c", (slot,)))


@pytest.mark.parametrize(
    ("prefix", "expected_lead", "expected_opening"),
    [
        ("", None, string.ascii_uppercase),
        ("Hi Anna, ", None, string.ascii_lowercase),
        ("Your order", " ", string.ascii_lowercase),
        ("Thanks.", " ", string.ascii_uppercase),
        ("Thanks! ", None, string.ascii_uppercase),
    ],
)
def test_free_part_opening_follows_prefix(
    prefix: str, expected_lead: str | None, expected_opening: str
) -> None:
    pieces = slot_pieces(Slot("a", max_chars=80, prefix=prefix, sentences=1))
    if prefix:
        assert pieces.pop(0) == Literal(prefix)
    if expected_lead is not None:
        assert pieces.pop(0) == Literal(expected_lead)
    assert pieces[0] == CharRun(expected_opening, 1, 1)


def test_later_sentences_open_in_upper_case() -> None:
    pieces = slot_pieces(Slot("a", max_chars=120, prefix="Hi Anna, ", sentences=2))
    assert pieces[5:7] == [Literal(" "), CharRun(string.ascii_uppercase, 1, 1)]


def test_free_characters_follow_opening() -> None:
    pieces = slot_pieces(Slot("a", max_chars=80, sentences=0))
    assert pieces[1].chars == FREE_CHARACTERS  # type: ignore[union-attr]


def test_too_small_max_chars_raises() -> None:
    slot = Slot("body", max_chars=20, suffix=" Enjoy 10% off your order.", sentences=1)
    with pytest.raises(SlotSchemaError, match="`body`"):
        slot_grammar(SlotSchema("tiny", (slot,)))


@pytest.mark.parametrize(
    "slot",
    [
        Slot("body", max_chars=40, min_chars=50),
        Slot("body", max_chars=40, sentences=-1),
    ],
)
def test_inconsistent_slot_raises(slot: Slot) -> None:
    with pytest.raises(SlotSchemaError, match="`body`"):
        slot_pieces(slot)


def test_json_schema_lists_fields_in_order() -> None:
    json_schema = slot_json_schema(SCHEMAS[1])
    assert json_schema["required"] == ["subject", "body", "cta"]
    assert list(json_schema["properties"]) == ["subject", "body", "cta"]  # type: ignore[arg-type]
    assert json_schema["additionalProperties"] is False


def test_json_schema_sets_length_bounds() -> None:
    prop = slot_json_schema(SCHEMAS[2])["properties"]["body"]  # type: ignore[index]
    assert prop["minLength"] == 60
    assert prop["maxLength"] == 240


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_json_schema_pattern_matches_grammar_values(schema: SlotSchema) -> None:
    properties = slot_json_schema(schema)["properties"]
    rng = random.Random(11)
    for mode in ("min", "max", "random"):
        _, values = build_output(schema, rng, mode)
        for name, value in values.items():
            pattern = properties[name]["pattern"]  # type: ignore[index]
            assert re.fullmatch(pattern, value), (name, value)


def test_json_schema_pattern_rejects_digits_in_free_part() -> None:
    pattern = slot_json_schema(SCHEMAS[2])["properties"]["body"]["pattern"]  # type: ignore[index]
    value = "Hi Anna, thanks for all orders. We love you. Enjoy 10% off your next order."
    assert re.fullmatch(pattern, value)
    assert not re.fullmatch(pattern, value.replace("all", "all 3"))


def test_json_schema_pattern_anchors_suffix() -> None:
    pattern = slot_json_schema(SCHEMAS[2])["properties"]["body"]["pattern"]  # type: ignore[index]
    assert not re.fullmatch(pattern, "Hi Anna, thanks for all orders. We love you.")


def test_json_schema_pattern_avoids_escapes_llama_cpp_misreads() -> None:
    pattern = slot_json_schema(SCHEMAS[3])["properties"]["note"]["pattern"]  # type: ignore[index]
    assert "\\." not in pattern
    assert "\\$" not in pattern
