"""The golden set: YAML files of cases, each a customer context and what its draft must show.

A golden file is a mapping with an optional `defaults` mapping and a `cases` list. Each case
names a brand, a message kind and channel, the moment it is drafted for (`as_of`), the
customer's context inline, and its expectations under `expect`. Keys in `defaults` apply to
every case of the file that does not set them; `tags` from both are joined.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.config import PROJECT_ROOT
from agent.domain import Channel, CustomerContext, DraftStatus, MessageKind

DEFAULT_GOLDEN_DIR = PROJECT_ROOT / "evals" / "golden"
GOLDEN_SUFFIXES = (".yaml", ".yml")

CASE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,79}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"

# Statuses the drafting pipeline sets; approved and rejected come from a copywriter.
PIPELINE_STATUSES = frozenset({DraftStatus.READY, DraftStatus.NEEDS_REVIEW, DraftStatus.BLOCKED})

# Every finding id (`Finding.check_id`) the pipeline reports. An expectation naming another id
# could never match, so the loader rejects it as a typo; add new ids here when a check is added.
KNOWN_FINDING_IDS = frozenset(
    {
        "compliance.consent",
        "compliance.unsubscribe",
        "compliance.postal_address",
        "compliance.sms_opt_out",
        "compliance.sms_brand",
        "compliance.quiet_hours",
        "compliance.frequency_cap",
        # Replaced by the appropriateness ids; kept so older golden files still load.
        "compliance.open_ticket",
        "compliance.negative_review",
        "appropriateness.open_ticket",
        "appropriateness.return",
        "appropriateness.negative_sentiment",
        "grounding.greeting",
        "grounding.products",
        "grounding.numbers",
        "grounding.names",
        "grounding.delivery_status",
        "grounding.policy_promise",
        "offers.discount",
        "offers.code",
        "offers.review_reward",
        "privacy.email",
        "privacy.phone",
        "privacy.address",
        "privacy.injection",
        "safety.profanity",
        "safety.medical_claim",
        "safety.legal_claim",
        "voice.banned_phrases",
        "voice.length",
        "voice.repetition",
        "voice.exclamation",
        "voice.capitals",
        "voice.reading_level",
        "sms.segments",
        "sms.encoding",
        "content.purpose",
        "drafting.fallback",
        "drafting.reask",
        "llm.failed",
        "retrieval.no_guidelines",
        "retrieval.no_product_guide",
        "eligibility.no_order",
        "eligibility.no_tip",
        "eligibility.no_trigger",
        "eligibility.no_remedy",
        "eligibility.not_advocate",
        "loyalty.missing",
        "loyalty.nothing_to_say",
        "loyalty.derived",
    }
)


class GoldenSetError(ValueError):
    """A golden file cannot be read, or one of its cases is invalid."""

    def __init__(
        self, path: Path, reason: str, *, case_id: str | None = None, field: str | None = None
    ) -> None:
        self.path = path
        self.case_id = case_id
        self.field = field
        self.reason = reason
        where = [str(path)]
        if case_id is not None:
            where.append(f"case `{case_id}`")
        if field:
            where.append(f"field `{field}`")
        super().__init__(f"invalid golden file {', '.join(where)}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Area = Literal["message", "subject", "body"]


class TextRule(_Strict):
    """A piece of text to look for, case-insensitively, in one area of the draft.

    `message` is the subject and the full text, `subject` the subject alone and `body` the
    body field the model (or the fallback copy) wrote.
    """

    text: str = Field(min_length=1, max_length=300)
    where: Area = "message"

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    def label(self) -> str:
        return self.text if self.where == "message" else f"{self.text} (in {self.where})"


class LengthBounds(_Strict):
    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=1)
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    max_sms_segments: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthBounds:
        for low, high in (("min_words", "max_words"), ("min_chars", "max_chars")):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                raise ValueError(f"`{low}` ({low_value}) is above `{high}` ({high_value})")
        return self


def _check_finding_id(value: str) -> str:
    if value in KNOWN_FINDING_IDS:
        return value
    close = difflib.get_close_matches(value, sorted(KNOWN_FINDING_IDS), n=1)
    hint = f"; did you mean `{close[0]}`?" if close else ""
    raise ValueError(f"unknown finding id {value!r}{hint}")


class Expectations(_Strict):
    """The checks on a case's draft. Give `status`, or `ineligible` when no draft may be made."""

    status: list[DraftStatus] | None = Field(
        default=None, description="Acceptable draft statuses; one value or a list."
    )
    ineligible: str | None = Field(
        default=None, description="The finding id that must stop the request before drafting."
    )
    facts: list[TextRule] = Field(default_factory=list, description="Text that must appear.")
    must_not_contain: list[TextRule] = Field(default_factory=list)
    findings_expected: list[str] = Field(default_factory=list)
    findings_forbidden: list[str] = Field(default_factory=list)
    send_after: bool | None = Field(
        default=None,
        description="True: the draft must carry a send time later than as_of; False: none.",
    )
    length: LengthBounds | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _pipeline_statuses(cls, value: Any) -> Any:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            return value
        if not values:
            raise ValueError("list at least one status")
        allowed = sorted(status.value for status in PIPELINE_STATUSES)
        for status in values:
            if status in (DraftStatus.APPROVED.value, DraftStatus.REJECTED.value):
                raise ValueError(f"{status!r} is set by a copywriter; use one of {allowed}")
            if status not in allowed:
                raise ValueError(f"{status!r} is not a draft status; use one of {allowed}")
        return values

    @field_validator("ineligible")
    @classmethod
    def _known_ineligible(cls, value: str | None) -> str | None:
        return None if value is None else _check_finding_id(value)

    @field_validator("findings_expected", "findings_forbidden")
    @classmethod
    def _known_findings(cls, values: list[str]) -> list[str]:
        return [_check_finding_id(value) for value in values]

    @model_validator(mode="after")
    def _status_or_ineligible(self) -> Expectations:
        if (self.status is None) == (self.ineligible is None):
            raise ValueError("give exactly one of `status` or `ineligible`")
        draft_only = ("facts", "must_not_contain", "send_after", "length")
        if self.ineligible is not None:
            present = [name for name in draft_only if getattr(self, name)]
            if present:
                raise ValueError(
                    f"{', '.join(present)} cannot be checked on a request that is expected to be "
                    "ineligible, because no draft is made"
                )
        both = set(self.findings_expected) & set(self.findings_forbidden)
        if both:
            raise ValueError(f"{sorted(both)} is both expected and forbidden")
        return self


class GoldenCase(_Strict):
    id: str = Field(pattern=CASE_ID_PATTERN)
    description: str = Field(default="", max_length=500)
    brand: str = Field(min_length=1, max_length=64)
    kind: MessageKind
    channel: Channel
    tags: list[str] = Field(default_factory=list)
    as_of: AwareDatetime
    copywriter_note: str | None = Field(default=None, max_length=500)
    context: CustomerContext
    expect: Expectations
    reference: str | None = Field(
        default=None, max_length=2000, description="Reference copy a person would accept."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_customer_id(cls, data: Any) -> Any:
        # A case's context may leave out `customer_id`, and the case id is used in its place.
        if isinstance(data, dict) and isinstance(data.get("context"), dict):
            context = data["context"]
            if "customer_id" not in context and isinstance(data.get("id"), str):
                data = {**data, "context": {**context, "customer_id": data["id"]}}
        return data

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not re.match(TAG_PATTERN, tag):
                raise ValueError(
                    f"tag {tag!r} must be lower-case letters, digits and hyphens, "
                    "at most 40 characters"
                )
        return list(dict.fromkeys(tags))


@dataclass(frozen=True)
class GoldenSet:
    """The cases of one or more golden files, in file order, with a hash of their content."""

    path: Path
    cases: tuple[tuple[Path, GoldenCase], ...]
    content_hash: str

    def __len__(self) -> int:
        return len(self.cases)

    def select(
        self, *, tags: list[str] | None = None, limit: int | None = None
    ) -> list[GoldenCase]:
        """Return the cases carrying every tag in `tags`, at most `limit` of them."""
        wanted = set(tags or [])
        chosen = [case for _, case in self.cases if wanted <= set(case.tags)]
        return chosen if limit is None else chosen[:limit]

    def tags(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, case in self.cases:
            for tag in case.tags:
                counts[tag] = counts.get(tag, 0) + 1
        return dict(sorted(counts.items()))


def golden_files(path: Path) -> list[Path]:
    """Return the golden file `path`, or the YAML files under the folder `path`, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise GoldenSetError(
            path, "no such file or folder; pass --golden with a YAML file or folder"
        )
    files = sorted(p for p in path.rglob("*") if p.suffix in GOLDEN_SUFFIXES and p.is_file())
    if not files:
        raise GoldenSetError(path, "the folder contains no .yaml or .yml golden files")
    return files


def load_golden(path: Path, *, brands: list[str] | None = None) -> GoldenSet:
    """Load and validate every case under `path`.

    `brands`, when given, lists the brand ids a case may name (the folders of the knowledge
    base). Raises GoldenSetError naming the file, the case id and the field of the first
    problem, or the two files that share a case id.
    """
    digest = hashlib.sha256()
    cases: list[tuple[Path, GoldenCase]] = []
    seen: dict[str, Path] = {}
    for file in golden_files(path):
        raw = _read_bytes(file)
        digest.update(file.name.encode() + b"\0" + raw + b"\0")
        for case in _parse_file(file, raw, brands):
            if case.id in seen:
                raise GoldenSetError(
                    file, f"the id is also used in {seen[case.id]}", case_id=case.id, field="id"
                )
            seen[case.id] = file
            cases.append((file, case))
    return GoldenSet(path=path, cases=tuple(cases), content_hash=digest.hexdigest())


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise GoldenSetError(file, f"cannot be read ({error.strerror})") from error


def _parse_file(file: Path, raw: bytes, brands: list[str] | None) -> list[GoldenCase]:
    document = _yaml_document(file, raw)
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise GoldenSetError(file, "`defaults` must be a mapping", field="defaults")
    entries = document.get("cases")
    if not isinstance(entries, list) or not entries:
        raise GoldenSetError(file, "the file needs a non-empty `cases` list", field="cases")
    return [
        _parse_case(file, position, entry, defaults, brands)
        for position, entry in enumerate(entries, start=1)
    ]


def _yaml_document(file: Path, raw: bytes) -> dict[str, Any]:
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise GoldenSetError(file, "is not UTF-8 text") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise GoldenSetError(file, f"invalid YAML{line}: {problem}") from error
    if not isinstance(document, dict):
        raise GoldenSetError(file, "the file needs a non-empty `cases` list", field="cases")
    unknown = set(document) - {"defaults", "cases"}
    if unknown:
        raise GoldenSetError(
            file, f"unknown top-level keys {sorted(unknown)}; use `defaults` and `cases`"
        )
    return document


def _parse_case(
    file: Path,
    position: int,
    entry: Any,
    defaults: dict[str, Any],
    brands: list[str] | None,
) -> GoldenCase:
    if not isinstance(entry, dict):
        raise GoldenSetError(file, f"case number {position} is not a mapping", field="cases")
    case_id = entry.get("id") if isinstance(entry.get("id"), str) else f"#{position}"
    merged = {**defaults, **entry}
    merged["tags"] = [*(defaults.get("tags") or []), *(entry.get("tags") or [])]
    try:
        case = GoldenCase.model_validate(merged)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in detail["loc"] if not _is_union_label(part))
        raise GoldenSetError(file, detail["msg"], case_id=case_id, field=field or None) from error
    if brands is not None and case.brand not in brands:
        raise GoldenSetError(
            file,
            f"unknown brand {case.brand!r}; the knowledge base has {', '.join(brands) or 'none'}",
            case_id=case.id,
            field="brand",
        )
    return case


def _is_union_label(part: Any) -> bool:
    # Pydantic puts the name of a union member, such as `function-before[...]`, in the path.
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))
