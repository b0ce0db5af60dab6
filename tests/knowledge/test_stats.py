"""`KnowledgeStore.stats` and `aftercare kb stats`: counts, model and last ingest per brand."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agent.config import Settings
from agent.knowledge.connection import COLLECTION_NAME
from agent.knowledge.embeddings import DIMENSION, MODEL_NAME, OnnxEmbedder
from agent.knowledge.ingest import IngestReport, ingest
from agent.knowledge.metadata import INDEX_SCHEMA
from agent.knowledge.store import open_store
from tests.knowledge.conftest import BRAND, SMALL_KB_FILES
from tests.knowledge.test_cli_kb import run_cli


def test_stats_counts_brand(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, report = small_ingested
    with open_store(settings, embedder=index_embedder) as store:
        stats = store.stats()
    assert [brand.brand for brand in stats.brands] == [BRAND]
    assert stats.brands[0].documents == len(SMALL_KB_FILES)
    assert stats.brands[0].chunks == report.chunks
    assert stats.chunks == report.chunks


def test_stats_names_model(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    with open_store(settings, embedder=index_embedder) as store:
        stats = store.stats()
    assert stats.embedding_model == MODEL_NAME
    assert stats.embedding_dimension == DIMENSION
    assert stats.index_schema == INDEX_SCHEMA
    assert stats.collection == COLLECTION_NAME


def test_stats_last_ingest_updated(
    small_ingested: tuple[Settings, IngestReport], index_embedder: OnnxEmbedder
) -> None:
    settings, _ = small_ingested
    with open_store(settings, embedder=index_embedder) as store:
        first = store.stats().brands[0].last_ingest
    before = datetime.now(UTC)
    ingest(settings, embedder=index_embedder)
    with open_store(settings, embedder=index_embedder) as store:
        second = store.stats().brands[0].last_ingest
    assert first is not None
    assert second is not None
    assert second.tzinfo is not None
    assert first <= before <= second


def test_stats_cli_json(small_ingested: tuple[Settings, IngestReport]) -> None:
    settings, report = small_ingested
    result = run_cli(["stats", "--json"], settings.data_dir, settings.kb_dir)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["embedding_model"] == MODEL_NAME
    assert payload["embedding_dimension"] == DIMENSION
    assert payload["brands"][0]["brand"] == BRAND
    assert payload["brands"][0]["documents"] == len(SMALL_KB_FILES)
    assert payload["brands"][0]["chunks"] == report.chunks
    assert datetime.fromisoformat(payload["brands"][0]["last_ingest"]).tzinfo is not None


def test_stats_cli_table(small_ingested: tuple[Settings, IngestReport]) -> None:
    settings, report = small_ingested
    result = run_cli(["stats"], settings.data_dir, settings.kb_dir)
    assert result.exit_code == 0, result.output
    assert MODEL_NAME in result.stdout
    assert f"{DIMENSION} dimensions" in result.stdout
    assert BRAND in result.stdout
    assert str(report.chunks) in result.stdout


def test_stats_cli_before_ingest_fails(small_kb: Settings) -> None:
    result = run_cli(["stats"], small_kb.data_dir, small_kb.kb_dir)
    assert result.exit_code == 2
    assert "aftercare kb ingest" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
