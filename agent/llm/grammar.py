"""Turn a slot schema into a GBNF grammar (llama.cpp) or a JSON Schema (OpenAI-compatible APIs).

Both outputs describe the same shape: a JSON object with exactly the schema's fields, in
order, with a fixed `{"a": "...", "b": "..."}` layout. Each value is the slot's prefix, a
free part and the slot's suffix. The free part is a phrase (no final punctuation) or a fixed
number of sentences that end with a full stop. Each sentence or phrase starts and ends with
a letter and has only FREE_CHARACTERS in between, so digits and control characters reach the
output only through the literals, and the free part never needs a JSON escape.
"""

from __future__ import annotations

import json
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from agent.llm.slots import FREE_CHARACTERS, Slot, SlotSchema

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
SENTENCE_END = ".!?"

# Shortest free body between a sentence's first and last character, when max_chars allows it,
# so that a sentence or phrase contains at least one real word.
MIN_BODY_CHARS = 4

# Tokens that max_tokens_for adds for the end-of-turn token, with room to spare.
TOKEN_OVERHEAD = 8

# Regex metacharacters that a pattern writes as a one-character class, such as "[.]".
_REGEX_CLASS_ESCAPED = set(".$|?*+(){}")


class SlotSchemaError(ValueError):
    """A slot cannot be expressed as a grammar, for example because max_chars is too small."""


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class CharRun:
    """Between `min_count` and `max_count` characters, each one from `chars`."""

    chars: str
    min_count: int
    max_count: int


Piece = Literal | CharRun


def slot_grammar(schema: SlotSchema) -> str:
    """Build a GBNF grammar whose every match is a JSON object that `schema.parse` accepts."""
    _check_free_characters()
    rules = [f"root ::= {_gbnf_root(schema)}"]
    for index, slot in enumerate(schema.slots):
        body = " ".join(_gbnf_piece(piece) for piece in slot_pieces(slot))
        rules.append(f"{_rule_name(index)} ::= {body}")
    return "\n".join(rules) + "\n"


def slot_json_schema(schema: SlotSchema) -> dict[str, object]:
    """Build a JSON Schema for `schema`, with length bounds and an anchored `pattern` per field."""
    _check_free_characters()
    properties: dict[str, object] = {}
    for slot in schema.slots:
        prop: dict[str, object] = {
            "type": "string",
            "minLength": slot.min_chars,
            "maxLength": slot.max_chars,
            "pattern": "^" + "".join(_regex_piece(piece) for piece in slot_pieces(slot)) + "$",
        }
        if slot.description:
            prop["description"] = slot.description
        properties[slot.name] = prop
    return {
        "title": schema.name,
        "type": "object",
        "properties": properties,
        "required": schema.field_names(),
        "additionalProperties": False,
    }


def max_output_chars(schema: SlotSchema) -> int:
    """Return the length of the longest JSON text the grammar allows, in characters."""
    return len(_longest_output(schema))


def max_tokens_for(schema: SlotSchema) -> int:
    """Return a `max_tokens` limit that never cuts off output the grammar allows.

    Every token writes at least one byte, so the longest output's UTF-8 length plus the
    end-of-turn token bounds the count. SmolLM2 averaged about 3 characters per token on
    constrained drafts, but a value forced to end at its character limit is spelled one
    character per token, so a smaller limit (such as characters / 3) cut valid drafts short.
    """
    return len(_longest_output(schema).encode("utf-8")) + TOKEN_OVERHEAD


def slot_pieces(slot: Slot) -> list[Piece]:
    """Split one slot's value into literals and bounded character runs, in order."""
    if slot.sentences < 0 or slot.min_chars > slot.max_chars:
        raise SlotSchemaError(
            f"slot `{slot.name}` needs sentences >= 0 and min_chars <= max_chars, got "
            f"sentences={slot.sentences}, min_chars={slot.min_chars}, max_chars={slot.max_chars}"
        )

    lead, opening = _opening(slot.prefix)
    # A phrase is laid out like one sentence without the full stop.
    count = max(slot.sentences, 1)
    closing = [Literal(".")] if slot.sentences else []
    # Characters outside the free runs: each sentence's first and last letter, its full stop
    # and the spaces between sentences.
    fixed = len(lead) + count * (2 + len(closing)) + (count - 1)
    free_max = slot.max_chars - len(slot.prefix) - len(slot.suffix) - fixed
    free_min = slot.min_chars - len(slot.prefix) - len(slot.suffix) - fixed
    if free_max < 0:
        raise SlotSchemaError(
            f"slot `{slot.name}` has max_chars={slot.max_chars}, too small for its prefix, "
            f"suffix and {count} sentence(s); raise max_chars to at least "
            f"{slot.max_chars - free_max}"
        )

    bounds = _split_bounds(free_min, free_max, count)
    pieces: list[Piece] = [Literal(slot.prefix)] if slot.prefix else []
    if lead:
        pieces.append(Literal(lead))
    for index, (low, high) in enumerate(bounds):
        if index:
            pieces.append(Literal(" "))
        first = opening if index == 0 else UPPER
        pieces += [CharRun(first, 1, 1), CharRun(FREE_CHARACTERS, low, high), CharRun(LOWER, 1, 1)]
        pieces += closing

    if slot.suffix:
        pieces.append(Literal(slot.suffix))
    return pieces


def _opening(prefix: str) -> tuple[str, str]:
    """Return the text to insert after `prefix` and the characters that may open the free part.

    After a sentence end the free part opens a new sentence in upper case. Otherwise it
    continues the prefix's sentence in lower case, after a space that is inserted when the
    prefix does not end with one, so the model cannot glue letters onto the prefix's last word.
    """
    if not prefix:
        return "", UPPER
    stripped = prefix.rstrip()
    lead = "" if prefix != stripped else " "
    if stripped and stripped[-1] in SENTENCE_END:
        return lead, UPPER
    return lead, LOWER


def _split_bounds(free_min: int, free_max: int, count: int) -> list[tuple[int, int]]:
    """Share the free characters between `count` bodies, so their sums stay within bounds."""
    free_min = max(free_min, 0)
    bounds = []
    for index in range(count):
        high = free_max // count + (1 if index < free_max % count else 0)
        low = free_min // count + (1 if index < free_min % count else 0)
        bounds.append((max(low, min(MIN_BODY_CHARS, high)), high))
    return bounds


def _rule_name(index: int) -> str:
    return f"field-{index}"


def _gbnf_root(schema: SlotSchema) -> str:
    parts = []
    for index, slot in enumerate(schema.slots):
        separator = "{" if index == 0 else ", "
        key = _json_string_body(slot.name)
        parts.append(_gbnf_literal(f'{separator}"{key}": "'))
        parts.append(_rule_name(index))
        parts.append(_gbnf_literal('"'))
    parts.append(_gbnf_literal("}") if schema.slots else _gbnf_literal("{}"))
    return " ".join(parts)


def _gbnf_piece(piece: Piece) -> str:
    if isinstance(piece, Literal):
        return _gbnf_literal(_json_string_body(piece.text))
    char_class = _gbnf_class(piece.chars)
    if piece.min_count == piece.max_count == 1:
        return char_class
    return f"{char_class}{{{piece.min_count},{piece.max_count}}}"


def _gbnf_literal(text: str) -> str:
    """Quote `text` as a GBNF string literal, escaping every non-printable character."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif _is_printable_ascii(char):
            out.append(char)
        else:
            out.append(_gbnf_code_point(char))
    return '"' + "".join(out) + '"'


def _gbnf_class(chars: str) -> str:
    return _char_class(chars, _gbnf_class_char)


def _gbnf_class_char(char: str) -> str:
    if char in "\\][":
        return "\\" + char
    if char == "^":
        return _gbnf_code_point(char)  # GBNF has no "\^" escape
    if _is_printable_ascii(char):
        return char
    return _gbnf_code_point(char)


def _gbnf_code_point(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _regex_piece(piece: Piece) -> str:
    if isinstance(piece, Literal):
        return "".join(_regex_literal_char(char) for char in piece.text)
    char_class = _char_class(piece.chars, _regex_class_char)
    if piece.min_count == piece.max_count == 1:
        return char_class
    return f"{char_class}{{{piece.min_count},{piece.max_count}}}"


def _regex_literal_char(char: str) -> str:
    """Escape one literal character so ECMA-262, Python `re` and llama.cpp's converter agree.

    llama-cpp-python 0.3.36 copies `\\.`, `\\$` and `\\^` into GBNF unchanged, where they are
    invalid escapes, so those characters go into a one-character class or a hex escape.
    """
    if char in _REGEX_CLASS_ESCAPED:
        return f"[{char}]"
    if char == "^":
        return "\\x5E"
    if char in "[]\\":
        return "\\" + char
    if _is_printable_ascii(char):
        return char
    return f"\\u{ord(char):04X}" if ord(char) <= 0xFFFF else char


def _regex_class_char(char: str) -> str:
    if char == "^":
        return "\\x5E"
    if char in "\\][":
        return "\\" + char
    return char if _is_printable_ascii(char) else f"\\u{ord(char):04X}"


def _char_class(chars: str, escape: Callable[[str], str]) -> str:
    """Write `chars` as a bracket expression, with runs of three or more as ranges."""
    items = []
    for start, end in _code_point_runs(chars):
        if end - start >= 2:
            items.append(f"{escape(chr(start))}-{escape(chr(end))}")
        else:
            items += [escape(chr(code)) for code in range(start, end + 1)]
    if "-" in chars:
        items.append("-")  # a final "-" is a literal hyphen in GBNF and in regex classes
    return "[" + "".join(items) + "]"


def _code_point_runs(chars: str) -> list[tuple[int, int]]:
    """Group the characters other than "-" into runs of consecutive code points."""
    runs: list[tuple[int, int]] = []
    for code in sorted({ord(char) for char in chars if char != "-"}):
        if runs and runs[-1][1] == code - 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return runs


def _json_string_body(text: str) -> str:
    """Escape `text` for the inside of a JSON string, with every control character escaped."""
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) == "Cc" else char for char in body
    )


def _longest_output(schema: SlotSchema) -> str:
    """Return a JSON text as long as the grammar's longest, with "x" for free characters."""
    fields = []
    for slot in schema.slots:
        free = "x" * (slot.max_chars - len(slot.prefix) - len(slot.suffix))
        value = _json_string_body(slot.prefix) + free + _json_string_body(slot.suffix)
        fields.append(f'"{_json_string_body(slot.name)}": "{value}"')
    return "{" + ", ".join(fields) + "}"


def _is_printable_ascii(char: str) -> bool:
    return " " <= char <= "~"


def _check_free_characters() -> None:
    unsafe = [char for char in FREE_CHARACTERS if char in '"\\' or not _is_printable_ascii(char)]
    if unsafe:
        raise SlotSchemaError(
            f"FREE_CHARACTERS contains {unsafe!r}, which would need JSON escapes in free text"
        )
