"""Slot schemas: the fixed JSON shape a model fills for one message.

A schema lists the fields in order. Each field is free text from a restricted character
set (letters, spaces and , ' -), starting with a fixed prefix and ending with a fixed
suffix. Digits reach the output only through those literals, so an offer such as
"10% off" appears exactly as the brand's policy states it. Providers turn a schema into
a GBNF grammar (llama.cpp) or a JSON Schema (OpenAI-compatible endpoints); `parse`
validates whatever comes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic import Field as PydanticField

# Characters the model may write between the literals, after the first capital letter.
FREE_CHARACTERS = "abcdefghijklmnopqrstuvwxyz ,'-"


class OutputInvalid(ValueError):
    """The model's output is not valid JSON or does not fit the slot schema."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class Slot:
    """One field of a slot schema.

    `max_chars` bounds the whole value, literals included, and sits above the checks'
    limits so that an overrun fails a named check instead of being cut silently.
    `sentences` is the number of sentences the free part has, each ending with a full
    stop; 0 makes the free part a phrase with no final punctuation (a subject line).
    """

    name: str
    max_chars: int
    min_chars: int = 1
    prefix: str = ""
    suffix: str = ""
    sentences: int = 1
    description: str = ""


@dataclass(frozen=True)
class SlotSchema:
    name: str
    slots: tuple[Slot, ...] = field(default_factory=tuple)

    def field_names(self) -> list[str]:
        return [slot.name for slot in self.slots]

    def pydantic_model(self) -> type[BaseModel]:
        definitions = {
            slot.name: (
                str,
                PydanticField(min_length=slot.min_chars, max_length=slot.max_chars),
            )
            for slot in self.slots
        }
        return create_model(
            f"{self.name}_fields", __config__=ConfigDict(extra="forbid"), **definitions
        )

    def parse(self, output: str) -> dict[str, str]:
        """Validate a model's JSON output against this schema and return its fields."""
        try:
            data = json.loads(output)
        except json.JSONDecodeError as error:
            raise OutputInvalid(f"model output is not valid JSON: {error}", output) from error
        try:
            fields = self.pydantic_model().model_validate(data).model_dump()
        except ValidationError as error:
            problems = "; ".join(
                f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in error.errors()
            )
            raise OutputInvalid(
                f"model output does not fit `{self.name}`: {problems}", output
            ) from error
        for slot in self.slots:
            value = fields[slot.name]
            if not value.startswith(slot.prefix) or not value.endswith(slot.suffix):
                raise OutputInvalid(
                    f"field `{slot.name}` must start with {slot.prefix!r} "
                    f"and end with {slot.suffix!r}",
                    output,
                )
        return {name: " ".join(value.split()) for name, value in fields.items()}
