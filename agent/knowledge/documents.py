"""Knowledge-base documents: Markdown files with YAML front matter under kb/<brand>/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import frontmatter
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.domain import MessageKind

DocType = Literal["voice", "policy", "product_guide", "legal", "example"]
DOC_TYPES: tuple[str, ...] = ("voice", "policy", "product_guide", "legal", "example")
ALL_KINDS = "all"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"
_SLUG = re.compile(SLUG_PATTERN)

# Front-matter keys that describe the document itself rather than the brand.
META_KEYS = frozenset({"doc_id", "title", "doc_type", "kinds", "topics"})


class InvalidKnowledgeDocument(ValueError):
    """A knowledge-base file cannot be read or its front matter is invalid.

    `line` is the 1-based line in the file where the problem is, when it is known.
    """

    def __init__(
        self, path: Path, field: str | None, reason: str, *, line: int | None = None
    ) -> None:
        self.path = path
        self.field = field
        self.reason = reason
        self.line = line
        location = f"{path}:{line}" if line is not None else str(path)
        where = f"field `{field}`: " if field else ""
        super().__init__(
            f"invalid knowledge-base document {location!r}: {where}{reason}; "
            "fix the front matter and try again"
        )


class DocumentMeta(BaseModel):
    """The front-matter keys every knowledge-base document has."""

    model_config = ConfigDict(extra="ignore")

    doc_id: str = Field(pattern=SLUG_PATTERN, max_length=80)
    title: str = Field(min_length=1, max_length=200)
    doc_type: DocType
    kinds: list[MessageKind] | Literal["all"]
    topics: list[str] = Field(default_factory=list)
    locale: str | None = Field(default=None, description="BCP 47 tag; the brand's when empty.")

    @field_validator("topics")
    @classmethod
    def _topics_not_blank(cls, topics: list[str]) -> list[str]:
        if any(not topic.strip() for topic in topics):
            raise ValueError("topics must not contain empty strings")
        return topics

    def topic_keys(self) -> list[str]:
        """Return the topics as normalised filter keys, without duplicates."""
        return list(dict.fromkeys(normalise_topic(topic) for topic in self.topics))

    @field_validator("kinds", mode="before")
    @classmethod
    def _check_kinds(cls, kinds: Any) -> Any:
        if kinds == ALL_KINDS:
            return kinds
        allowed = [kind.value for kind in MessageKind]
        if not isinstance(kinds, list) or not kinds:
            raise ValueError(f"must be `all` or a non-empty list of: {', '.join(allowed)}")
        unknown = [kind for kind in kinds if kind not in allowed]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a message kind; use: {', '.join(allowed)}")
        return kinds

    def served_kinds(self) -> list[MessageKind]:
        """Return the message kinds this document serves, with `all` expanded."""
        if self.kinds == ALL_KINDS:
            return list(MessageKind)
        return list(dict.fromkeys(self.kinds))


@dataclass(frozen=True)
class KnowledgeDocument:
    path: Path
    relative_path: str
    brand: str
    meta: DocumentMeta
    # Front-matter keys other than the ones in META_KEYS, such as brand fields or tips.
    fields: dict[str, Any] = field(default_factory=dict)
    body: str = ""


def validation_details(error: ValidationError) -> tuple[str | None, str]:
    """Return the dotted path of the first invalid field and a message listing every error."""
    details = error.errors(include_url=False)
    location = _location(details[0]["loc"]) or None
    return location, "; ".join(_describe(detail) for detail in details)


def _location(parts: tuple[Any, ...]) -> str:
    # Pydantic adds the name of a union member, such as `list[str]`, to the location.
    return ".".join(str(part) for part in parts if not (isinstance(part, str) and "[" in part))


def _describe(detail: Any) -> str:
    location = _location(detail["loc"])
    return f"{location}: {detail['msg']}" if location else str(detail["msg"])


def is_valid_slug(value: str) -> bool:
    return bool(_SLUG.match(value))


def normalise_topic(topic: str) -> str:
    """Return `topic` lower-cased with whitespace collapsed: the form stored in the index."""
    return " ".join(topic.lower().split())


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key repeated in one mapping.

    PyYAML keeps the last of two equal keys, so a second `banned_phrases:` would silently
    replace the first list.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


class _StrictYAMLHandler(frontmatter.YAMLHandler):
    def load(self, fm: str, **kwargs: Any) -> Any:
        return yaml.load(fm, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_front_matter(path: Path) -> tuple[dict[str, Any], str]:
    """Return the front matter mapping and the Markdown body of `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidKnowledgeDocument(path, None, f"cannot be read as UTF-8 text ({exc})") from exc
    if not text.startswith("---"):
        raise InvalidKnowledgeDocument(path, None, "has no YAML front matter between `---` lines")
    try:
        metadata, body = frontmatter.parse(text, handler=_StrictYAMLHandler())
    except yaml.YAMLError as exc:
        raise _yaml_error(path, text, exc) from exc
    if not metadata:
        raise InvalidKnowledgeDocument(path, None, "front matter is empty or not a mapping")
    return dict(metadata), body


def _yaml_error(path: Path, text: str, error: yaml.YAMLError) -> InvalidKnowledgeDocument:
    """Build the error for invalid front-matter YAML, with the line of the file it is on."""
    offset = _front_matter_offset(text)
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    context_mark = getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    reason = f"front matter is not valid YAML: {problem}"
    if context and context_mark is not None and context_mark is not mark:
        reason += f" ({context} that starts on line {offset + context_mark.line + 1})"
    elif context:
        reason += f" ({context})"
    if mark is None:
        return InvalidKnowledgeDocument(path, None, reason)
    reason += f" at column {mark.column + 1}"
    return InvalidKnowledgeDocument(path, None, reason, line=offset + mark.line + 1)


def _front_matter_offset(text: str) -> int:
    """Return the number of line breaks before the front-matter YAML starts.

    The YAML parser numbers lines from the end of the opening `---` delimiter, so adding this
    offset and one to a 0-based YAML line gives the 1-based line of the file.
    """
    opening = frontmatter.YAMLHandler.FM_BOUNDARY.search(text)
    return text.count("\n", 0, opening.end()) if opening else 0


def _key_line(text: str, key: str) -> int | None:
    """Return the 1-based file line of the top-level front-matter key `key`, or None."""
    try:
        _, yaml_text, _ = frontmatter.YAMLHandler.FM_BOUNDARY.split(text, 2)
        root = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except (ValueError, yaml.YAMLError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, _ in root.value:
        if key_node.value == key:
            return _front_matter_offset(text) + key_node.start_mark.line + 1
    return None


def _field_line(path: Path, location: str | None) -> int | None:
    """Return the file line of the top-level key of a dotted field path such as `kinds.0`."""
    if not location:
        return None
    return _key_line(path.read_text(encoding="utf-8"), location.split(".")[0])


def read_document(path: Path, root: Path, brand: str) -> KnowledgeDocument:
    metadata, body = read_front_matter(path)
    try:
        meta = DocumentMeta.model_validate(metadata)
    except ValidationError as exc:
        location, message = validation_details(exc)
        line = _field_line(path, location)
        raise InvalidKnowledgeDocument(path, location, message, line=line) from exc
    extra = {key: value for key, value in metadata.items() if key not in META_KEYS}
    relative = path.relative_to(root).as_posix()
    return KnowledgeDocument(path, relative, brand, meta, extra, body)


def document_paths(brand_dir: Path) -> list[Path]:
    """Return the Markdown files of a brand folder in a stable order, skipping hidden ones."""
    paths = [
        path
        for path in brand_dir.rglob("*.md")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(brand_dir).parts)
    ]
    return sorted(paths, key=lambda path: path.relative_to(brand_dir).as_posix())


def read_documents(brand_dir: Path, brand: str) -> list[KnowledgeDocument]:
    """Read every document of one brand and reject duplicate `doc_id` values."""
    documents = [read_document(path, brand_dir, brand) for path in document_paths(brand_dir)]
    seen: dict[str, Path] = {}
    for document in documents:
        other = seen.setdefault(document.meta.doc_id, document.path)
        if other != document.path:
            raise InvalidKnowledgeDocument(
                document.path,
                "doc_id",
                f"{document.meta.doc_id!r} is already used by {str(other)!r}",
            )
    return documents
