"""`aftercare kb ...`: ingest and search the brand knowledge base."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agent.cli.common import console, fail, settings
from agent.domain import MessageKind
from agent.knowledge.brand import BrandNotFound, brand_dir
from agent.knowledge.documents import InvalidKnowledgeDocument
from agent.knowledge.embeddings import EmbeddingModelMissing
from agent.knowledge.ingest import IngestReport, ingest
from agent.knowledge.store import (
    KnowledgeBaseNotIngested,
    KnowledgeStoreError,
    RetrievedChunk,
    open_store,
)

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
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Read kb/<brand>/**/*.md, embed new or changed documents and store them in Chroma."""
    try:
        report = ingest(settings(), brand=brand, rebuild=rebuild)
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
    console.print(_describe_report(report), highlight=False)


def _describe_report(report: IngestReport) -> str:
    return (
        f"Ingested {report.documents} documents as {report.chunks} chunks for "
        f"{', '.join(report.brands)} in {report.seconds:.2f} s "
        f"({report.embedded} embedded, {report.deleted} removed)."
    )


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
