"""`aftercare kb ...`: ingest and search the brand knowledge base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agent.cli.common import EXIT_CHECK_FAILED, console, fail, settings
from agent.domain import MessageKind
from agent.knowledge.brand import BrandNotFound, brand_dir
from agent.knowledge.documents import InvalidKnowledgeDocument
from agent.knowledge.embeddings import EmbeddingModelMissing
from agent.knowledge.errors import KnowledgeBaseNotIngested, KnowledgeStoreError
from agent.knowledge.evaluation import (
    DEFAULT_K,
    DEFAULT_MIN_RECALL,
    DEFAULT_QUERIES_PATH,
    InvalidLabels,
    InvalidQueryFile,
    QueryResult,
    RetrievalEvalReport,
    check_labels,
    evaluate,
    load_queries,
)
from agent.knowledge.ingest import LOCK_TIMEOUT_S, IngestReport, ingest
from agent.knowledge.store import IndexStats, RetrievedChunk, open_store

app = typer.Typer(help="Ingest and search the brand knowledge base.", no_args_is_help=True)

EXCERPT_CHARS = 120


@app.command("ingest")
def ingest_command(
    brand: Annotated[
        str | None,
        typer.Option(
            "--brand", "-b", help="Brand id to ingest; every brand in the kb folder if empty."
        ),
    ] = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Drop the index first: the whole collection, or only --brand's chunks.",
        ),
    ] = False,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            min=0,
            help="Seconds to wait for another ingest of the same index to finish.",
        ),
    ] = LOCK_TIMEOUT_S,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Read kb/<brand>/**/*.md, embed new or changed documents and store them in Chroma."""
    try:
        report = ingest(settings(), brand=brand, rebuild=rebuild, lock_timeout=lock_timeout)
    except (
        BrandNotFound,
        InvalidKnowledgeDocument,
        KnowledgeStoreError,
        EmbeddingModelMissing,
    ) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    console.print(_describe_report(report), highlight=False, soft_wrap=True)


def _describe_report(report: IngestReport) -> str:
    lines = [
        f"Ingested {report.documents} documents as {report.chunks} chunks for "
        f"{', '.join(report.brands)} in {report.seconds:.2f} s.",
        f"  embedded:  {report.documents_embedded} documents, {report.embedded} chunks",
        f"  unchanged: {report.documents_unchanged} documents, {report.unchanged} chunks",
        f"  deleted:   {report.documents_deleted} documents, {report.deleted} chunks",
    ]
    if report.skipped:
        names = ", ".join(report.skipped)
        lines.append(
            f"  skipped:   {report.documents_skipped} documents without body text: {names}"
        )
    return "\n".join(lines)


@app.command("stats")
def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
) -> None:
    """Show the documents and chunks per brand, the embedding model and the last ingest."""
    try:
        with open_store(settings()) as store:
            stats = store.stats()
    except (KnowledgeStoreError, EmbeddingModelMissing) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(stats.model_dump(mode="json"), indent=2))
        return
    console.print(
        f"Index {stats.location}, collection {stats.collection}: {stats.chunks} chunks, "
        f"embedding model {stats.embedding_model} ({stats.embedding_dimension} dimensions).",
        highlight=False,
        soft_wrap=True,
    )
    console.print(_stats_table(stats))


def _stats_table(stats: IndexStats) -> Table:
    table = Table(title="Brands", title_justify="left")
    table.add_column("brand", no_wrap=True)
    table.add_column("documents", justify="right")
    table.add_column("chunks", justify="right")
    table.add_column("last ingest (UTC)", no_wrap=True)
    for brand in stats.brands:
        when = brand.last_ingest.strftime("%Y-%m-%d %H:%M:%S") if brand.last_ingest else "never"
        table.add_row(Text(brand.brand), str(brand.documents), str(brand.chunks), when)
    return table


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="Text to search for.")],
    brand: Annotated[
        str | None,
        typer.Option("--brand", "-b", help="Brand id; the configured default brand if empty."),
    ] = None,
    kind: Annotated[
        MessageKind | None,
        typer.Option("--kind", help="Only chunks of documents that serve this message kind."),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option(
            "-k", min=1, max=20, help="Number of chunks to show; AFTERCARE_RETRIEVAL_K if empty."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the chunks as JSON.")] = False,
) -> None:
    """Show the knowledge-base chunks most similar to QUERY, best first."""
    current = settings()
    brand_id = brand or current.default_brand
    if not query.strip():
        fail("the search query is empty; pass the text to search for")
    try:
        brand_dir(current.kb_dir, brand_id)
        with open_store(current) as store:
            chunks = store.search(query, brand=brand_id, kind=kind, k=k or current.retrieval_k)
    except KnowledgeBaseNotIngested as exc:
        fail(str(KnowledgeBaseNotIngested(exc.location, brand_id)))
    except (BrandNotFound, KnowledgeStoreError, EmbeddingModelMissing) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps([_chunk_json(chunk) for chunk in chunks], indent=2))
        return
    console.print(_chunk_table(query, chunks))


def _chunk_json(chunk: RetrievedChunk) -> dict[str, Any]:
    return chunk.model_dump(mode="json")


def _chunk_table(query: str, chunks: list[RetrievedChunk]) -> Table:
    table = Table(title=f"Top {len(chunks)} chunks for {query!r}", title_justify="left")
    table.add_column("score", justify="right")
    table.add_column("doc_id", no_wrap=True)
    table.add_column("doc_type", no_wrap=True)
    table.add_column("excerpt")
    for chunk in chunks:
        excerpt = Text(_excerpt(chunk.text))
        table.add_row(f"{chunk.score:.3f}", Text(chunk.doc_id), Text(chunk.doc_type), excerpt)
    return table


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


@app.command("eval")
def eval_command(
    queries: Annotated[
        Path,
        typer.Option("--queries", help="JSON Lines file of labelled queries, one per line."),
    ] = DEFAULT_QUERIES_PATH,
    k: Annotated[
        int,
        typer.Option(
            "--k", "-k", min=1, max=20, help="Distinct documents per query that count as found."
        ),
    ] = DEFAULT_K,
    min_recall: Annotated[
        float,
        typer.Option(
            "--min-recall",
            min=0.0,
            max=1.0,
            help="Lowest overall recall@k, from 0 to 1, that passes; below it the exit code is 1.",
        ),
    ] = DEFAULT_MIN_RECALL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score retrieval on labelled queries: recall@k and MRR per brand and overall."""
    current = settings()
    try:
        labelled = load_queries(queries)
        check_labels(labelled, current.kb_dir)
        with open_store(current) as store:
            report = evaluate(store, labelled, k=k)
    except (
        InvalidQueryFile,
        InvalidLabels,
        InvalidKnowledgeDocument,
        KnowledgeStoreError,
        EmbeddingModelMissing,
    ) as exc:
        fail(str(exc))
    passed = report.overall.recall >= min_recall
    if as_json:
        typer.echo(json.dumps(_eval_json(report, min_recall, passed), indent=2))
    else:
        console.print(_metrics_table(report))
        if report.misses:
            console.print(_misses_table(report.misses, report.k))
        else:
            console.print(f"No misses: every query found an expected document in the top {k}.")
    if not passed:
        fail(
            f"overall recall@{report.k} is {report.overall.recall:.3f}, below the minimum "
            f"{min_recall:.3f}; check the misses, then improve the documents or the retrieval",
            EXIT_CHECK_FAILED,
        )


def _eval_json(report: RetrievalEvalReport, min_recall: float, passed: bool) -> dict[str, Any]:
    payload = report.model_dump(mode="json")
    payload["min_recall"] = min_recall
    payload["passed"] = passed
    payload["misses"] = [result.id for result in report.misses]
    return payload


def _metrics_table(report: RetrievalEvalReport) -> Table:
    table = Table(title=f"Retrieval eval at k={report.k}", title_justify="left")
    table.add_column("brand", no_wrap=True)
    table.add_column("queries", justify="right")
    table.add_column("hits", justify="right")
    table.add_column(f"recall@{report.k}", justify="right")
    table.add_column("MRR", justify="right")
    groups = [*report.per_brand.items(), ("overall", report.overall)]
    for name, metrics in groups:
        table.add_row(
            Text(name),
            str(metrics.queries),
            str(metrics.hits),
            f"{metrics.recall:.3f}",
            f"{metrics.mrr:.3f}",
        )
    return table


def _misses_table(misses: list[QueryResult], k: int) -> Table:
    table = Table(title=f"Misses: {len(misses)}", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("brand", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("expected")
    table.add_column(f"top {k} documents")
    for miss in misses:
        table.add_row(
            Text(miss.id),
            Text(miss.brand),
            Text(miss.kind.value if miss.kind else "-"),
            Text(", ".join(miss.expected_doc_ids)),
            Text(", ".join(miss.retrieved_doc_ids) or "none"),
        )
    return table
