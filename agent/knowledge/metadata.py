"""Chunk metadata layout of the knowledge-base collection, and Chroma `where` filters on it.

Each chunk's metadata names its brand, document and type, and carries one boolean key per
message kind it serves (`kind_winback: true`), so a filter on one kind is a plain equality
test. The document's topics are a list (`topics: ["delivery", "returns"]`), matched with
Chroma's `$contains`.
"""

from __future__ import annotations

from typing import Any

from agent.domain import MessageKind
from agent.knowledge.documents import normalise_topic

# Version of the chunk metadata layout. Changing it requires `aftercare kb ingest --rebuild`.
# Version 2 stores `topics` as a list instead of one comma-separated string; version 3 adds
# each chunk's `locale`.
INDEX_SCHEMA = 3

MetadataValue = str | int | float | bool | list[str]


def kind_key(kind: MessageKind | str) -> str:
    """Return the boolean metadata key that marks chunks serving `kind`."""
    return f"kind_{MessageKind(kind).value}"


def build_where(
    *,
    brand: str,
    kind: MessageKind | None = None,
    doc_types: list[str] | None = None,
    families: list[str] | None = None,
    topics: list[str] | None = None,
) -> dict[str, Any]:
    """Compose a Chroma `where` filter; several conditions are joined with `$and`.

    A chunk matches `doc_types`, `families` or `topics` when it has any of the listed values.
    Topics are compared in their normalised form (see `normalise_topic`).
    """
    conditions: list[dict[str, Any]] = [{"brand": brand}]
    if kind is not None:
        conditions.append({kind_key(kind): True})
    if doc_types is not None:
        conditions.append({"doc_type": {"$in": list(doc_types)}})
    if families is not None:
        conditions.append({"family_id": {"$in": list(families)}})
    if topics is not None:
        conditions.append(_topics_condition(topics))
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _topics_condition(topics: list[str]) -> dict[str, Any]:
    keys = list(dict.fromkeys(normalise_topic(topic) for topic in topics))
    matches: list[dict[str, Any]] = [{"topics": {"$contains": key}} for key in keys]
    return matches[0] if len(matches) == 1 else {"$or": matches}
