"""Retrieval evaluation: labelled-query loading, metrics, `aftercare kb eval` and the real eval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import Settings, get_settings
from agent.domain import MessageKind
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.evaluation import (
    DEFAULT_MIN_RECALL,
    DEFAULT_QUERIES_PATH,
    InvalidLabels,
    InvalidQueryFile,
    LabelledQuery,
    QueryResult,
    check_labels,
    evaluate,
    first_hit_rank,
    load_queries,
    metrics_for,
    summarise,
    top_documents,
)
from agent.knowledge.ingest import ingest
from agent.knowledge.store import KnowledgeStore, open_store
from tests.knowledge.conftest import KB_DIR, make_settings

TINY_BRAND = "tiny-shop"
LINEN_DOCS = {"linen-care", "linen-storage", "linen-ironing"}

TINY_REQUIRED = """---
doc_id: required
title: Required details
doc_type: legal
kinds: all
name: Tiny Shop
postal_address: "Tiny Shop, 1 Test Street, Testtown TE1 1ST, United Kingdom"
unsubscribe_url: "https://tinyshop.example/unsubscribe/{token}"
review_url: "{{review_link}}"
shop_url: "https://tinyshop.example"
sms_sender: TinyShop
---

# Required details

Every marketing email carries the unsubscribe link and the postal address.
"""


def tiny_document(doc_id: str, kinds: str, sections: list[tuple[str, str]]) -> str:
    body = "\n\n".join(f"## {heading}\n\n{text}" for heading, text in sections)
    return (
        f"---\ndoc_id: {doc_id}\ntitle: {doc_id}\ndoc_type: policy\nkinds: {kinds}\n---\n\n"
        f"# {doc_id}\n\n{body}\n"
    )


def write_tiny_kb(kb_dir: Path) -> Path:
    """Write a brand whose topics are far apart, and where one document has many chunks."""
    folder = kb_dir / TINY_BRAND
    folder.mkdir(parents=True)
    linen = [
        (f"Washing linen, note {n}", f"Wash linen shirts and dresses in cool water. Note {n}.")
        for n in range(1, 13)
    ]
    documents = {
        "required.md": TINY_REQUIRED,
        "linen-care.md": tiny_document("linen-care", "[usage_tip]", linen),
        "linen-storage.md": tiny_document(
            "linen-storage",
            "[usage_tip]",
            [("Storing linen", "Store clean linen clothes folded in a dry, airy cupboard.")],
        ),
        "linen-ironing.md": tiny_document(
            "linen-ironing",
            "[usage_tip]",
            [("Ironing linen", "Iron linen clothes while they are still damp from the wash.")],
        ),
        "bicycle-repair.md": tiny_document(
            "bicycle-repair",
            "[winback]",
            [("Flat tyres", "Patch a punctured bicycle inner tube, then pump the tyre up.")],
        ),
        "sourdough.md": tiny_document(
            "sourdough",
            "[order_followup]",
            [("Starter", "Feed a sourdough starter with equal weights of flour and water.")],
        ),
    }
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")
    return kb_dir


@pytest.fixture(scope="module")
def tiny_settings(
    tmp_path_factory: pytest.TempPathFactory, index_embedder: OnnxEmbedder
) -> Settings:
    """Settings whose index contains only the tiny brand. Tests must not modify it."""
    root = tmp_path_factory.mktemp("tiny-eval")
    settings = make_settings(root / "var", write_tiny_kb(root / "kb"))
    ingest(settings, embedder=index_embedder)
    return settings


@pytest.fixture
def tiny_store(tiny_settings: Settings, index_embedder: OnnxEmbedder) -> Iterator[KnowledgeStore]:
    with open_store(tiny_settings, embedder=index_embedder) as store:
        yield store


def labelled(
    query_id: str, query: str, expected: list[str], kind: MessageKind | None = None
) -> LabelledQuery:
    return LabelledQuery(
        id=query_id, query=query, brand=TINY_BRAND, kind=kind, expected_doc_ids=expected
    )


BIKE = labelled("bike", "how do I fix a punctured bike tyre", ["bicycle-repair"])
BREAD = labelled("bread", "feeding a sourdough starter", ["sourdough"])
BREAD_WRONG_LABEL = labelled("bread-wrong", "feeding a sourdough starter", ["bicycle-repair"])


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def record(**overrides: object) -> str:
    values: dict[str, object] = {
        "id": "q1",
        "query": "How long does delivery take?",
        "brand": "hearth-and-holly",
        "kind": "order_followup",
        "expected_doc_ids": ["delivery-returns"],
    }
    return json.dumps(values | overrides)


# --- loading ------------------------------------------------------------------------


def test_load_queries_reads_records(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "q.jsonl",
        [record(), "", record(id="q2", kind=None, expected_doc_ids=["voice", "brand"])],
    )
    first, second = load_queries(path)
    assert first.id == "q1"
    assert first.kind is MessageKind.ORDER_FOLLOWUP
    assert first.expected_doc_ids == ["delivery-returns"]
    assert second.kind is None
    assert second.expected_doc_ids == ["voice", "brand"]


def test_load_queries_kind_is_optional(tmp_path: Path) -> None:
    line = json.dumps({"id": "q", "query": "tone", "brand": "b-1", "expected_doc_ids": ["v"]})
    (query,) = load_queries(write_lines(tmp_path / "q.jsonl", [line]))
    assert query.kind is None


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [record(), "", '{"id": "q2", "query": '])
    with pytest.raises(InvalidQueryFile) as caught:
        load_queries(path)
    assert caught.value.line == 3
    assert f"{str(path)!r} line 3" in str(caught.value)
    assert "not valid JSON" in str(caught.value)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (record(expected_doc_ids=[]), "expected_doc_ids"),
        (record(kind="newsletter"), "kind"),
        (record(query="   "), "query"),
        (record(brand="Not A Slug"), "brand"),
        (record(expected_doc_ids=["voice", "voice"]), "expected_doc_ids"),
        (record(extra="value"), "extra"),
        (json.dumps({"id": "q1", "query": "x", "brand": "b-1"}), "expected_doc_ids"),
    ],
)
def test_invalid_record_names_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    path = write_lines(tmp_path / "q.jsonl", [record(id="q0"), line])
    with pytest.raises(InvalidQueryFile) as caught:
        load_queries(path)
    assert caught.value.line == 2
    assert field in caught.value.reason


def test_non_object_line_rejected(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", ['["q1", "query"]'])
    with pytest.raises(InvalidQueryFile) as caught:
        load_queries(path)
    assert caught.value.line == 1
    assert "not a JSON object" in caught.value.reason


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [record(), record(id="q2"), record()])
    with pytest.raises(InvalidQueryFile) as caught:
        load_queries(path)
    assert caught.value.line == 3
    assert "already used on line 1" in caught.value.reason


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidQueryFile) as caught:
        load_queries(tmp_path / "absent.jsonl")
    assert caught.value.line is None
    assert "not found" in caught.value.reason


def test_empty_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidQueryFile) as caught:
        load_queries(write_lines(tmp_path / "q.jsonl", ["", "  "]))
    assert "contains no queries" in caught.value.reason


# --- label checks -------------------------------------------------------------------


def test_check_labels_reports_every_problem(tiny_settings: Settings) -> None:
    queries = [
        labelled("missing-doc", "x", ["no-such-doc"]),
        labelled("wrong-kind", "x", ["bicycle-repair"], kind=MessageKind.USAGE_TIP),
        LabelledQuery(id="no-brand", query="x", brand="no-such-brand", expected_doc_ids=["a"]),
        BIKE,
    ]
    with pytest.raises(InvalidLabels) as caught:
        check_labels(queries, tiny_settings.kb_dir)
    problems = caught.value.problems
    assert len(problems) == 3
    assert "'no-such-doc' not found" in problems[0]
    assert "does not serve kind 'usage_tip'" in problems[1]
    assert "brand 'no-such-brand' not found" in problems[2]


def test_check_labels_accepts_all_kinds_document(tiny_settings: Settings) -> None:
    query = labelled("any-kind", "x", ["required"], kind=MessageKind.REFERRAL_INVITE)
    check_labels([query, BIKE, BREAD], tiny_settings.kb_dir)


# --- metrics on known ranks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("retrieved", "expected", "rank"),
    [
        (["a", "b", "c"], ["a"], 1),
        (["a", "b", "c"], ["c", "b"], 2),
        (["a", "b", "c"], ["d"], None),
        ([], ["a"], None),
    ],
)
def test_first_hit_rank(retrieved: list[str], expected: list[str], rank: int | None) -> None:
    assert first_hit_rank(retrieved, expected) == rank


def test_metrics_for_known_ranks() -> None:
    metrics = metrics_for([1, 2, None, 4])
    assert metrics.queries == 4
    assert metrics.hits == 3
    assert metrics.recall == pytest.approx(0.75)
    assert metrics.mrr == pytest.approx((1 + 1 / 2 + 1 / 4) / 4)


def test_metrics_for_no_queries() -> None:
    metrics = metrics_for([])
    assert metrics.recall == 0.0
    assert metrics.mrr == 0.0


def result(brand: str, rank: int | None) -> QueryResult:
    return QueryResult(
        id=f"{brand}-{rank}",
        brand=brand,
        kind=None,
        query="q",
        expected_doc_ids=["a"],
        retrieved_doc_ids=[],
        rank=rank,
    )


def test_summarise_groups_by_brand() -> None:
    results = [result("b-two", 1), result("a-one", None), result("a-one", 2), result("b-two", 1)]
    report = summarise(results, k=5)
    assert list(report.per_brand) == ["a-one", "b-two"]
    assert report.per_brand["a-one"].recall == pytest.approx(0.5)
    assert report.per_brand["a-one"].mrr == pytest.approx(0.25)
    assert report.per_brand["b-two"].mrr == pytest.approx(1.0)
    assert report.overall.recall == pytest.approx(0.75)
    assert report.overall.mrr == pytest.approx(2.5 / 4)
    assert [miss.id for miss in report.misses] == ["a-one-None"]


# --- evaluation on a tiny real index -------------------------------------------------


def test_evaluate_ranks_and_misses(tiny_store: KnowledgeStore) -> None:
    report = evaluate(tiny_store, [BIKE, BREAD, BREAD_WRONG_LABEL], k=1)
    ranks = {item.id: item.rank for item in report.results}
    assert ranks == {"bike": 1, "bread": 1, "bread-wrong": None}
    assert report.overall.recall == pytest.approx(2 / 3)
    assert report.overall.mrr == pytest.approx(2 / 3)
    assert report.per_brand[TINY_BRAND].queries == 3
    assert [miss.id for miss in report.misses] == ["bread-wrong"]


def test_evaluate_applies_kind_filter(tiny_store: KnowledgeStore) -> None:
    text = "wash the linen shirt, then patch the punctured bicycle tyre"
    unfiltered = labelled("both", text, ["linen-care"])
    tips_only = labelled("tips", text, ["linen-care"], kind=MessageKind.USAGE_TIP)
    first, second = evaluate(tiny_store, [unfiltered, tips_only], k=5).results
    assert "bicycle-repair" in first.retrieved_doc_ids
    assert "bicycle-repair" not in second.retrieved_doc_ids
    assert second.hit


def test_top_documents_are_distinct(tiny_store: KnowledgeStore) -> None:
    # The query repeats the text of linen-care's twelve chunks, so they fill the first
    # request and the other two linen documents appear only when the request grows.
    query = labelled("linen", "wash linen shirts and dresses in cool water", ["linen-care"])
    documents = top_documents(tiny_store, query, 3)
    assert len(documents) == 3
    assert set(documents) == LINEN_DOCS
    assert documents[0] == "linen-care"


def test_top_documents_stop_when_brand_runs_out(tiny_store: KnowledgeStore) -> None:
    documents = top_documents(tiny_store, BREAD, 20)
    assert len(documents) == len(set(documents))
    assert len(documents) <= 6


def test_evaluate_rejects_zero_k(tiny_store: KnowledgeStore) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        evaluate(tiny_store, [BIKE], k=0)


# --- `aftercare kb eval` ------------------------------------------------------------


def run_eval(args: list[str], settings: Settings) -> Result:
    env = {
        "AFTERCARE_DATA_DIR": str(settings.data_dir),
        "AFTERCARE_KB_DIR": str(settings.kb_dir),
        "AFTERCARE_CHROMA_PATH": None,
        "AFTERCARE_CHROMA_URL": None,
        "AFTERCARE_DEFAULT_BRAND": None,
    }
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["kb", "eval", *args], env=env)
    finally:
        get_settings.cache_clear()


def queries_file(path: Path, queries: list[LabelledQuery]) -> Path:
    lines = [query.model_dump_json(exclude_none=True) for query in queries]
    return write_lines(path, lines)


def test_cli_eval_passes(tiny_settings: Settings, tmp_path: Path) -> None:
    path = queries_file(tmp_path / "q.jsonl", [BIKE, BREAD])
    result = run_eval(["--queries", str(path), "--k", "1"], tiny_settings)
    assert result.exit_code == 0, result.output
    assert TINY_BRAND in result.stdout
    assert "overall" in result.stdout
    assert "No misses" in result.stdout


def test_cli_eval_json(tiny_settings: Settings, tmp_path: Path) -> None:
    path = queries_file(tmp_path / "q.jsonl", [BIKE, BREAD, BREAD_WRONG_LABEL])
    result = run_eval(
        ["--queries", str(path), "-k", "1", "--min-recall", "0.5", "--json"], tiny_settings
    )
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert report["k"] == 1
    assert report["passed"] is True
    assert report["overall"]["hits"] == 2
    assert report["per_brand"][TINY_BRAND]["queries"] == 3
    assert report["misses"] == ["bread-wrong"]
    assert [item["hit"] for item in report["results"]] == [True, True, False]


def test_cli_eval_below_floor_exits_1(tiny_settings: Settings, tmp_path: Path) -> None:
    path = queries_file(tmp_path / "q.jsonl", [BIKE, BREAD_WRONG_LABEL])
    result = run_eval(["--queries", str(path), "--k", "1"], tiny_settings)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 1
    assert "bread-wrong" in result.stdout
    assert f"recall@1 is 0.500, below the minimum {DEFAULT_MIN_RECALL:.3f}" in message


def test_cli_eval_missing_file_exits_2(tiny_settings: Settings, tmp_path: Path) -> None:
    result = run_eval(["--queries", str(tmp_path / "absent.jsonl")], tiny_settings)
    assert result.exit_code == 2
    assert "absent.jsonl" in "".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_cli_eval_malformed_line_exits_2(tiny_settings: Settings, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [BIKE.model_dump_json(), "{not json"])
    result = run_eval(["--queries", str(path)], tiny_settings)
    assert result.exit_code == 2
    assert "line 2" in " ".join(result.stderr.split())


def test_cli_eval_unknown_doc_exits_2(tiny_settings: Settings, tmp_path: Path) -> None:
    path = queries_file(tmp_path / "q.jsonl", [labelled("typo", "x", ["linen-cair"])])
    result = run_eval(["--queries", str(path)], tiny_settings)
    assert result.exit_code == 2
    assert "'linen-cair' not found" in " ".join(result.stderr.split())


def test_cli_eval_before_ingest_exits_2(tiny_settings: Settings, tmp_path: Path) -> None:
    path = queries_file(tmp_path / "q.jsonl", [BIKE])
    empty = make_settings(tmp_path / "var", tiny_settings.kb_dir)
    result = run_eval(["--queries", str(path)], empty)
    assert result.exit_code == 2
    assert "aftercare kb ingest" in " ".join(result.stderr.split())


def test_cli_eval_rejects_recall_above_one(tiny_settings: Settings) -> None:
    result = run_eval(["--min-recall", "1.5"], tiny_settings)
    assert result.exit_code == 2


# --- the real labelled queries ---------------------------------------------------------


@pytest.fixture(scope="module")
def real_queries() -> list[LabelledQuery]:
    return load_queries(DEFAULT_QUERIES_PATH)


def test_real_labels_name_existing_documents(real_queries: list[LabelledQuery]) -> None:
    check_labels(real_queries, KB_DIR)


def test_real_queries_are_balanced(real_queries: list[LabelledQuery]) -> None:
    per_brand: dict[str, int] = {}
    for query in real_queries:
        per_brand[query.brand] = per_brand.get(query.brand, 0) + 1
    assert len(real_queries) >= 60
    assert set(per_brand) == {"hearth-and-holly", "linen-and-lark"}
    assert min(per_brand.values()) / max(per_brand.values()) >= 0.8


@pytest.mark.parametrize("brand", ["hearth-and-holly", "linen-and-lark"])
def test_real_queries_cover_every_kind(real_queries: list[LabelledQuery], brand: str) -> None:
    kinds = {query.kind for query in real_queries if query.brand == brand}
    assert set(MessageKind) <= kinds


def test_real_eval_meets_recall_floor(
    ingested: Settings, index_embedder: OnnxEmbedder, real_queries: list[LabelledQuery]
) -> None:
    with open_store(ingested, embedder=index_embedder) as store:
        report = evaluate(store, real_queries, k=5)
    misses = [(miss.id, miss.retrieved_doc_ids) for miss in report.misses]
    assert set(report.per_brand) == {"hearth-and-holly", "linen-and-lark"}
    assert report.overall.recall >= DEFAULT_MIN_RECALL, misses
