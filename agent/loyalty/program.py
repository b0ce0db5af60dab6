"""Read and validate a brand's loyalty programme file, `kb/<brand>/loyalty.yaml`.

The knowledge-base ingest reads only Markdown files, so this YAML file is never embedded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.loyalty.models import LoyaltyProgram

PROGRAM_FILE = "loyalty.yaml"


class LoyaltyProgramError(ValueError):
    """The loyalty programme file of a brand is missing or invalid."""


class LoyaltyProgramNotFound(LoyaltyProgramError):
    def __init__(self, path: Path, brand: str) -> None:
        self.path = path
        super().__init__(
            f"brand {brand!r} has no loyalty programme: {str(path)!r} not found; write the "
            "programme (tiers, earn rule, expiry, rewards) to that file"
        )


class InvalidLoyaltyProgram(LoyaltyProgramError):
    """One or more fields of a programme file are invalid; `problems` lists each one."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listed = "; ".join(problems)
        super().__init__(
            f"invalid loyalty programme {str(path)!r}: {listed}. Fix the file and try again"
        )


@dataclass(frozen=True)
class ProgramFile:
    """A validated programme with the file it came from and the SHA-256 of its bytes."""

    program: LoyaltyProgram
    path: Path
    sha256: str


def program_path(kb_dir: Path, brand: str) -> Path:
    return kb_dir / brand / PROGRAM_FILE


def load_program(kb_dir: Path, brand: str, *, families: set[str] | None = None) -> ProgramFile:
    """Read and validate the programme of `brand`.

    With `families`, every reward's `family` must be one of those product family ids.
    Raises LoyaltyProgramNotFound, or InvalidLoyaltyProgram naming the line, field and value
    of each problem.
    """
    path = program_path(kb_dir, brand)
    if not path.is_file():
        raise LoyaltyProgramNotFound(path, brand)
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidLoyaltyProgram(path, [f"the file is not valid YAML: {error}"]) from error
    if not isinstance(data, dict):
        raise InvalidLoyaltyProgram(path, ["the file must hold a mapping of programme fields"])

    try:
        program = LoyaltyProgram.model_validate(data)
    except ValidationError as error:
        raise InvalidLoyaltyProgram(path, _problems(error, text)) from error
    if families is not None:
        _check_families(path, program, families, text)
    return ProgramFile(program, path, hashlib.sha256(raw).hexdigest())


def _check_families(path: Path, program: LoyaltyProgram, families: set[str], text: str) -> None:
    problems = []
    for index, reward in enumerate(program.rewards):
        if reward.family is not None and reward.family not in families:
            location = ("rewards", index, "family")
            known = ", ".join(sorted(families)) or "none"
            problems.append(
                f"{_where(location, text)}value {reward.family!r} is not a product family of "
                f"the brand; use one of: {known}, or null"
            )
    if problems:
        raise InvalidLoyaltyProgram(path, problems)


def _problems(error: ValidationError, text: str) -> list[str]:
    problems = []
    for detail in error.errors(include_url=False):
        location = tuple(detail["loc"])
        value = detail.get("input")
        shown = "" if isinstance(value, dict) else f"value {value!r}: "
        problems.append(f"{_where(location, text)}{shown}{detail['msg']}")
    return problems


def _where(location: tuple[Any, ...], text: str) -> str:
    dotted = ".".join(str(part) for part in location)
    if not dotted:
        return ""
    line = _line_of(location, text)
    return f"line {line}, field `{dotted}`: " if line else f"field `{dotted}`: "


def _line_of(location: tuple[Any, ...], text: str) -> int | None:
    """Return the 1-based line of the YAML node at `location`, or of its nearest parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in location:
        node = _child(node, part)
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        return next((value for key, value in node.value if key.value == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
