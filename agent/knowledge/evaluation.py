"""Retrieval evaluation: labelled queries, recall@k and mean reciprocal rank per brand.

Each labelled query names a brand, an optional message kind and the `doc_id` values of the
documents that contain its answer. A query is a hit when one of those documents is among the first k
distinct documents that `KnowledgeStore.search` returns. The evaluation relies only on the
order of the chunks that `search` returns, so it measures any ranking the store uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    computed_field,
    field_validator,
)

from agent.config import PROJECT_ROOT
from agent.domain import MessageKind
from agent.knowledge.brand import BrandNotFound, brand_dir
from agent.knowledge.documents import SLUG_PATTERN, read_documents, validation_details
from agent.knowledge.store import KnowledgeStore, RetrievedChunk

logger = logging.getLogger(__name__)

DEFAULT_QUERIES_PATH = PROJECT_ROOT / "evals" / "retrieval" / "queries.jsonl"
DEFAULT_K = 5
DEFAULT_MIN_RECALL = 0.9
# The first search requests this many chunks for each of the k documents. A long document can
# fill the top results with several chunks, so the request doubles until it yields k documents.
CHUNKS_PER_DOCUMENT = 3
# NOTE: the maximum number of chunks requested per query. A query whose k distinct documents
# are not all within this many chunks is scored on the documents found.
MAX_SEARCH_CHUNKS = 200

_FIX_PATH = "pass the path of a JSON Lines file of labelled queries"
_FIX_LINE = (
    "write one JSON object per line with `id`, `query`, `brand`, `expected_doc_ids` "
    "and an optional `kind`"
)


class InvalidQueryFile(ValueError):
    """The labelled-query file cannot be read, or one of its lines is invalid."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f" line {line}" if line is not None else ""
        super().__init__(f"invalid labelled-query file {str(path)!r}{where}: {reason}")


class InvalidLabels(ValueError):
    """Labelled queries name brands or documents that are missing from the knowledge base."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "invalid labels: " + "; ".join(problems) + "; fix the labels or the documents"
        )


class LabelledQuery(BaseModel):
    """One evaluation query and the documents that contain its answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=80)
    query: str = Field(min_length=1, max_length=1000)
    brand: str = Field(pattern=SLUG_PATTERN)
    kind: MessageKind | None = None
    expected_doc_ids: list[str] = Field(min_length=1)

    @field_validator("query")
    @classmethod
    def _query_not_blank(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("the query is blank")
        return query

    @field_validator("expected_doc_ids")
    @classmethod
    def _doc_ids_unique(cls, doc_ids: list[str]) -> list[str]:
        if len(set(doc_ids)) != len(doc_ids):
            raise ValueError("doc ids must not repeat")
        return doc_ids


class QueryResult(BaseModel):
    """The outcome of one labelled query: the top-k documents and the first hit's rank."""

    id: str
    brand: str
    kind: MessageKind | None
    query: str
    expected_doc_ids: list[str]
    retrieved_doc_ids: list[str]
    rank: int | None = Field(description="1-based rank of the first expected document.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hit(self) -> bool:
        return self.rank is not None


class RetrievalMetrics(BaseModel):
    """Recall@k and mean reciprocal rank over a group of queries."""

    queries: int
    hits: int
    recall: float = Field(description="Share of queries with an expected document in the top k.")
    mrr: float = Field(description="Mean of 1/rank, counting a miss as 0.")


class RetrievalEvalReport(BaseModel):
    k: int
    overall: RetrievalMetrics
    per_brand: dict[str, RetrievalMetrics]
    results: list[QueryResult]

    @property
    def misses(self) -> list[QueryResult]:
        return [result for result in self.results if not result.hit]


# --- loading ------------------------------------------------------------------------


def load_queries(path: Path) -> list[LabelledQuery]:
    """Read labelled queries from a JSON Lines file, one object per line.

    Blank lines are skipped. Raises InvalidQueryFile naming the line for invalid JSON, a
    record that fails validation or a repeated id, and without a line for an unreadable or
    empty file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidQueryFile(path, None, f"not found; {_FIX_PATH}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidQueryFile(
            path, None, f"cannot be read as UTF-8 text ({exc}); {_FIX_PATH}"
        ) from exc
    queries: list[LabelledQuery] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        query = _parse_line(path, number, line)
        seen = first_line.setdefault(query.id, number)
        if seen != number:
            raise InvalidQueryFile(
                path, number, f"id {query.id!r} is already used on line {seen}; rename one"
            )
        queries.append(query)
    if not queries:
        raise InvalidQueryFile(path, None, f"contains no queries; {_FIX_LINE}")
    return queries


def _parse_line(path: Path, number: int, line: str) -> LabelledQuery:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidQueryFile(path, number, f"not valid JSON ({exc.msg}); {_FIX_LINE}") from exc
    if not isinstance(record, dict):
        raise InvalidQueryFile(path, number, f"is not a JSON object; {_FIX_LINE}")
    try:
        return LabelledQuery.model_validate(record)
    except ValidationError as exc:
        _, message = validation_details(exc)
        raise InvalidQueryFile(path, number, f"{message}; {_FIX_LINE}") from exc


def check_labels(queries: list[LabelledQuery], kb_dir: Path) -> None:
    """Raise InvalidLabels unless every expected document exists and serves the query's kind.

    A label that names a missing document, or a document the kind filter excludes, would
    count as a miss forever, so it is reported as an input error instead.
    """
    served = _served_kinds(kb_dir, {query.brand for query in queries})
    problems: list[str] = []
    for query in queries:
        documents = served.get(query.brand)
        if documents is None:
            problems.append(f"query {query.id!r}: brand {query.brand!r} not found in {kb_dir}")
            continue
        problems += _doc_problems(query, documents)
    if problems:
        raise InvalidLabels(problems)


def _served_kinds(kb_dir: Path, brands: set[str]) -> dict[str, dict[str, set[MessageKind]]]:
    served: dict[str, dict[str, set[MessageKind]]] = {}
    for brand in sorted(brands):
        try:
            folder = brand_dir(kb_dir, brand)
        except BrandNotFound:
            continue
        documents = read_documents(folder, brand)
        served[brand] = {doc.meta.doc_id: set(doc.meta.served_kinds()) for doc in documents}
    return served


def _doc_problems(query: LabelledQuery, documents: dict[str, set[MessageKind]]) -> list[str]:
    problems = []
    for doc_id in query.expected_doc_ids:
        kinds = documents.get(doc_id)
        if kinds is None:
            problems.append(f"query {query.id!r}: doc id {doc_id!r} not found in {query.brand}")
        elif query.kind is not None and query.kind not in kinds:
            problems.append(
                f"query {query.id!r}: doc id {doc_id!r} does not serve kind {query.kind.value!r}"
            )
    return problems


# --- scoring ------------------------------------------------------------------------


def evaluate(
    store: KnowledgeStore, queries: list[LabelledQuery], *, k: int = DEFAULT_K
) -> RetrievalEvalReport:
    """Search every query and score recall@k and MRR per brand and overall.

    Raises ValueError for k below 1, and the store's errors, such as KnowledgeBaseNotIngested
    for a brand without chunks.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")
    results = [_run_query(store, query, k) for query in queries]
    report = summarise(results, k=k)
    logger.info(
        "retrieval eval: %s queries, recall@%s %.3f, MRR %.3f",
        report.overall.queries,
        k,
        report.overall.recall,
        report.overall.mrr,
    )
    return report


def _run_query(store: KnowledgeStore, query: LabelledQuery, k: int) -> QueryResult:
    retrieved = top_documents(store, query, k)
    return QueryResult(
        id=query.id,
        brand=query.brand,
        kind=query.kind,
        query=query.query,
        expected_doc_ids=list(query.expected_doc_ids),
        retrieved_doc_ids=retrieved,
        rank=first_hit_rank(retrieved, query.expected_doc_ids),
    )


def top_documents(store: KnowledgeStore, query: LabelledQuery, k: int) -> list[str]:
    """Return the first k distinct doc ids of the search results, in the order returned.

    The request starts at k * CHUNKS_PER_DOCUMENT chunks and doubles while the results hold
    fewer than k documents, stopping when the store returns fewer chunks than requested or
    the request reaches MAX_SEARCH_CHUNKS.
    """
    limit = min(k * CHUNKS_PER_DOCUMENT, MAX_SEARCH_CHUNKS)
    while True:
        chunks = store.search(query.query, brand=query.brand, kind=query.kind, k=limit)
        doc_ids = distinct_doc_ids(chunks)
        if len(doc_ids) >= k or len(chunks) < limit or limit >= MAX_SEARCH_CHUNKS:
            return doc_ids[:k]
        limit = min(limit * 2, MAX_SEARCH_CHUNKS)


def distinct_doc_ids(chunks: list[RetrievedChunk]) -> list[str]:
    """Return each chunk's doc id once, in the order of its first chunk."""
    return list(dict.fromkeys(chunk.doc_id for chunk in chunks))


def first_hit_rank(retrieved: list[str], expected: Iterable[str]) -> int | None:
    """Return the 1-based position of the first expected doc id in `retrieved`, or None."""
    wanted = set(expected)
    return next((index for index, doc_id in enumerate(retrieved, 1) if doc_id in wanted), None)


def summarise(results: list[QueryResult], *, k: int) -> RetrievalEvalReport:
    """Build the report from per-query results: metrics per brand, in name order, and overall."""
    brands = sorted({result.brand for result in results})
    per_brand = {
        brand: metrics_for([result.rank for result in results if result.brand == brand])
        for brand in brands
    }
    overall = metrics_for([result.rank for result in results])
    return RetrievalEvalReport(k=k, overall=overall, per_brand=per_brand, results=results)


def metrics_for(ranks: list[int | None]) -> RetrievalMetrics:
    """Return recall and MRR for the first-hit ranks of a group of queries (None is a miss).

    An empty group has recall and MRR 0.
    """
    hits = [rank for rank in ranks if rank is not None]
    count = len(ranks)
    recall = len(hits) / count if count else 0.0
    mrr = sum(1 / rank for rank in hits) / count if count else 0.0
    return RetrievalMetrics(queries=count, hits=len(hits), recall=recall, mrr=mrr)
