"""Guideline retrieval for drafting: which parts of the knowledge base each message kind needs.

Every recipe starts with the brand voice. The other steps add what the kind depends on:
the delivery policy for order follow-ups, the product guides of the purchased families for
usage tips and review requests, and the incentive policy for win-backs. Marketing kinds
also get the consent rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agent.domain import KIND_CLASS, MessageClass, MessageKind
from agent.knowledge.store import KnowledgeStore, RetrievedChunk

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecipeStep:
    """One filtered search, run once per purchased product family when `per_family` is set."""

    doc_types: tuple[str, ...]
    per_family: bool = False


VOICE = RecipeStep(("voice",))
POLICY = RecipeStep(("policy",))
LEGAL = RecipeStep(("legal",))
PRODUCT_GUIDES = RecipeStep(("product_guide",), per_family=True)

RECIPES: dict[MessageKind, tuple[RecipeStep, ...]] = {
    MessageKind.ORDER_FOLLOWUP: (VOICE, POLICY, PRODUCT_GUIDES),
    MessageKind.USAGE_TIP: (VOICE, PRODUCT_GUIDES),
    MessageKind.REVIEW_REQUEST: (VOICE, PRODUCT_GUIDES),
    MessageKind.WINBACK: (VOICE, POLICY),
    MessageKind.LOYALTY_UPDATE: (VOICE, POLICY),
    MessageKind.REFERRAL_INVITE: (VOICE,),
    MessageKind.SERVICE_RECOVERY: (VOICE, POLICY),
}


def recipe_for(kind: MessageKind) -> tuple[RecipeStep, ...]:
    """Return the search steps for `kind`, adding the legal documents for marketing kinds."""
    steps = RECIPES[kind]
    if KIND_CLASS[kind] is MessageClass.MARKETING:
        steps = (*steps, LEGAL)
    return steps


def retrieve_guidelines(
    store: KnowledgeStore,
    *,
    brand: str,
    kind: MessageKind,
    families: list[str],
    query: str,
    k: int,
) -> list[RetrievedChunk]:
    """Return the guideline chunks for drafting one message, best score first.

    Each step of the kind's recipe contributes up to `k` chunks, filtered to documents that
    serve `kind` and picked by the store's search: maximal marginal relevance among the
    nearest chunks, keeping only those that score at least `store.min_score`. A step whose
    chunks all score lower contributes nothing, so the result may be empty. The
    product-guide step shares its `k` among the purchased families, asking for at least one
    chunk each, and is skipped when `families` is empty. Chunks found by several steps
    appear once.
    """
    found: dict[str, RetrievedChunk] = {}
    for step in recipe_for(kind):
        for chunk in _run_step(
            store, step, brand=brand, kind=kind, families=families, query=query, k=k
        ):
            existing = found.get(chunk.chunk_id)
            if existing is None or chunk.score > existing.score:
                found[chunk.chunk_id] = chunk
    chunks = sorted(found.values(), key=lambda chunk: (-chunk.score, chunk.chunk_id))
    if not chunks:
        logger.warning(
            "no guideline chunk of brand %s passed the relevance threshold for %s",
            brand,
            kind.value,
        )
    logger.debug("retrieved %s chunks for %s/%s", len(chunks), brand, kind.value)
    return chunks


def _run_step(
    store: KnowledgeStore,
    step: RecipeStep,
    *,
    brand: str,
    kind: MessageKind,
    families: list[str],
    query: str,
    k: int,
) -> list[RetrievedChunk]:
    doc_types = list(step.doc_types)
    if not step.per_family:
        chunks = store.search(query, brand=brand, kind=kind, doc_types=doc_types, k=k)
        _log_if_empty(chunks, brand=brand, kind=kind, doc_types=doc_types)
        return chunks
    unique = list(dict.fromkeys(families))
    if not unique:
        return []
    per_family = max(1, k // len(unique))
    chunks = []
    for family in unique:
        found = store.search(
            query, brand=brand, kind=kind, doc_types=doc_types, families=[family], k=per_family
        )
        _log_if_empty(found, brand=brand, kind=kind, doc_types=doc_types, family=family)
        chunks += found
    return chunks


def _log_if_empty(
    chunks: list[RetrievedChunk],
    *,
    brand: str,
    kind: MessageKind,
    doc_types: list[str],
    family: str | None = None,
) -> None:
    if chunks:
        return
    logger.info(
        "no %s chunk of brand %s%s passed the relevance threshold for %s",
        "/".join(doc_types),
        brand,
        f", family {family}," if family else "",
        kind.value,
    )
