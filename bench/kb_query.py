"""Time knowledge-base searches, and compare our embedder with Chroma's own ONNX MiniLM.

Usage: python -m bench.kb_query [--rounds N] [--threads T]

Ingests every brand of the configured kb folder into a temporary folder, then reports:

- search latency p50 and p95 for a fixed set of queries, with and without metadata filters
  and with maximal marginal relevance on and off. A search includes embedding the query;
- the relevance scores of labelled on-topic and off-topic queries and of the drafting
  pipeline's own queries, against the `retrieval_min_score` setting;
- the embedding throughput of `OnnxEmbedder` and of Chroma's `ONNXMiniLM_L6_V2`, given the
  same int8 model file and tokenizer, as chunks per second and as a ratio.

Chroma's function normally downloads its model. Here it reads the local files from a
temporary folder, and the process refuses every non-loopback connection, so a download
attempt fails the run instead of reaching the network.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

# Telemetry switches that chromadb and onnxruntime read when they are imported.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from agent.config import Settings, get_settings  # noqa: E402
from agent.domain import MessageKind  # noqa: E402
from agent.drafting.kinds import SPECS  # noqa: E402
from agent.knowledge.brand import list_brands, load_brand  # noqa: E402
from agent.knowledge.embeddings import (  # noqa: E402
    OnnxEmbedder,
    model_file,
    tokenizer_file,
)
from agent.knowledge.ingest import IngestReport, ingest  # noqa: E402
from agent.knowledge.retrieval import recipe_for  # noqa: E402
from agent.knowledge.store import KnowledgeStore, open_store  # noqa: E402
from bench.machine import chunk_texts, cpu_model

BRAND = "hearth-and-holly"
K = 4
QUERIES = (
    "how full should I fill a hot water bottle",
    "never leave a lit candle unattended",
    "when will my order be delivered",
    "can I return a damaged item for a refund",
    "what discount can a loyal customer get",
    "must marketing emails include an unsubscribe link",
    "words and phrases we never use in messages",
    "how to clean a cake stand",
    "storing christmas baubles after the holidays",
    "thank the customer for their order",
    "ask for a review without offering a reward",
    "welcome back a customer who has not ordered for a while",
)
# Search settings timed against each other: name and keyword arguments of `search`.
CONFIGURATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("brand only", {}),
    ("brand + kind + doc type", {"kind": MessageKind.USAGE_TIP, "doc_types": ["product_guide"]}),
    ("brand + topic", {"topics": ["delivery", "returns", "candles"]}),
)
# On-topic queries of the demo brand, each with the document it is expected to find.
ON_TOPIC = (
    ("how full should I fill a hot water bottle", "guide-textiles-and-warmers"),
    ("never leave a lit candle unattended", "guide-candles-and-lighting"),
    ("when will my order be delivered", "delivery-returns"),
    ("can I return a damaged item for a refund", "delivery-returns"),
    ("what discount can a loyal customer get", "incentives"),
    ("must marketing emails include an unsubscribe link", "compliance"),
    ("words and phrases we never use in messages", "voice"),
    ("how to clean a cake stand", "guide-kitchen-and-baking"),
    ("storing christmas baubles after the holidays", "guide-christmas-decorations"),
    ("washing a reusable shopping bag", "guide-bags-and-storage"),
    ("small parts choking hazard for toddlers", "guide-toys-and-games"),
    ("hanging a metal sign on the wall", "guide-home-decor-and-signs"),
    ("tone of voice for text messages", "voice"),
    ("keeping wrapping paper from creasing", "guide-stationery-and-gift-wrap"),
    ("party bunting reuse", "guide-party-and-celebration"),
)
OFF_TOPIC = (
    "quantum chromodynamics lattice simulation",
    "how do I change a car tyre",
    "python asyncio event loop tutorial",
    "best football team in the premier league",
    "mortgage interest rates forecast",
    "symptoms of the flu in adults",
    "install linux kernel modules",
    "recipe for beef wellington",
    "stock market crash 1929",
    "tax return deadline for companies",
    "how to train a puppy to sit",
    "weather in tokyo tomorrow",
)
# The files Chroma's ONNXMiniLM_L6_V2 expects in `<DOWNLOAD_PATH>/onnx/` (chromadb 1.5.9).
# Every one must exist, or the function downloads its own archive.
CHROMA_TOKENIZER_FILES = (
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
)


# --- network guard --------------------------------------------------------------------


class NetworkBlocked(RuntimeError):
    """The benchmark tried to reach a host other than loopback."""


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths stay on this machine
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def block_network() -> None:
    """Make every socket connection or DNS look-up to a non-loopback host raise."""
    connect, connect_ex, getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _is_loopback(address):
            raise NetworkBlocked(f"the benchmark tried to connect to {address!r}")
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_loopback(address):
            raise NetworkBlocked(f"the benchmark tried to connect to {address!r}")
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost") and not _is_loopback((host, 0)):
            raise NetworkBlocked(f"the benchmark tried to resolve {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo  # type: ignore[assignment]


# --- measuring ------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(share * (len(ordered) - 1)))
    return ordered[index]


def time_searches(
    store: KnowledgeStore, rounds: int, mmr: bool, filters: dict[str, Any]
) -> list[float]:
    """Return the milliseconds of each search, `rounds` passes over QUERIES."""
    for query in QUERIES[:2]:  # warm-up
        store.search(query, brand=BRAND, k=K, mmr=mmr, **filters)
    samples = []
    for _ in range(rounds):
        for query in QUERIES:
            started = time.perf_counter()
            store.search(query, brand=BRAND, k=K, mmr=mmr, **filters)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


@contextmanager
def chroma_model_folder() -> Iterator[Path]:
    """Yield a DOWNLOAD_PATH whose `onnx/` contains our int8 model and the MiniLM tokenizer."""
    with tempfile.TemporaryDirectory(prefix="aftercare-chroma-onnx-") as folder:
        onnx = Path(folder) / "onnx"
        onnx.mkdir()
        shutil.copyfile(model_file(), onnx / "model.onnx")
        for name in CHROMA_TOKENIZER_FILES:
            shutil.copyfile(tokenizer_file().parent / name, onnx / name)
        yield Path(folder)


def chroma_embedder(download_path: Path) -> Any:
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    function = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    # An instance attribute, so only this object reads the local folder.
    function.DOWNLOAD_PATH = download_path
    return function


def cosine_agreement(ours: list[list[float]], theirs: list[Any]) -> tuple[float, float]:
    """Return the mean and minimum cosine similarity between paired unit vectors."""
    import numpy as np

    left = np.asarray(ours, dtype=np.float64)
    right = np.asarray(theirs, dtype=np.float64)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    similarity = (left * right).sum(axis=1)
    return float(similarity.mean()), float(similarity.min())


# --- relevance scores -----------------------------------------------------------------


def top_score(store: KnowledgeStore, query: str, brand: str = BRAND, **filters: Any) -> float:
    chunks = store.search(query, brand=brand, k=1, mmr=False, min_score=-1.0, **filters)
    return chunks[0].score if chunks else float("nan")


def expected_score(store: KnowledgeStore, query: str, doc_id: str) -> float:
    """Return the best score of any chunk of `doc_id`, searching the whole brand."""
    chunks = store.search(query, brand=BRAND, k=60, mmr=False, min_score=-1.0)
    return max(chunk.score for chunk in chunks if chunk.doc_id == doc_id)


def pipeline_step_scores(store: KnowledgeStore, settings: Settings, brand: str) -> list[float]:
    """Return the best score of every recipe step for every drafted kind and product family.

    The query is the one the drafting pipeline builds: the kind's purpose and the family id.
    """
    families = [family.family_id for family in load_brand(settings.kb_dir, brand).families]
    scores = []
    for kind, spec in SPECS.items():
        for family in families:
            query = f"{spec.purpose} {family}"
            for step in recipe_for(kind):
                filters: dict[str, Any] = {"kind": kind, "doc_types": list(step.doc_types)}
                if step.per_family:
                    filters["families"] = [family]
                scores.append(top_score(store, query, brand, **filters))
    return scores


def describe(values: list[float]) -> str:
    return f"min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}"


# --- running --------------------------------------------------------------------------


def report_latency(store: KnowledgeStore, rounds: int) -> None:
    print(f"search latency, k={K}, {len(QUERIES)} queries x {rounds} rounds, in ms:")
    for name, filters in CONFIGURATIONS:
        for mmr in (False, True):
            samples = time_searches(store, rounds, mmr, filters)
            label = f"{name}, MMR {'on' if mmr else 'off'}"
            print(
                f"  {label:36s} p50 {percentile(samples, 0.5):6.2f}  "
                f"p95 {percentile(samples, 0.95):6.2f}"
            )


def report_scores(store: KnowledgeStore, settings: Settings) -> None:
    threshold = store.min_score
    on_topic = [expected_score(store, query, doc_id) for query, doc_id in ON_TOPIC]
    off_topic = [top_score(store, query) for query in OFF_TOPIC]
    print(f"relevance scores (cosine similarity), retrieval_min_score {threshold}:")
    print(f"  {BRAND} on-topic, best chunk of the answer  {describe(on_topic)}")
    print(f"  {BRAND} off-topic, best chunk overall       {describe(off_topic)}")
    kept_on = sum(score >= threshold for score in on_topic)
    kept_off = sum(score >= threshold for score in off_topic)
    print(f"    kept: {kept_on}/{len(on_topic)} on-topic, {kept_off}/{len(off_topic)} off-topic")
    for brand in list_brands(settings.kb_dir):
        steps = pipeline_step_scores(store, settings, brand)
        emptied = sum(score < threshold for score in steps)
        print(f"  {brand} pipeline, best chunk per step  {describe(steps)}")
        print(f"    steps left empty: {emptied}/{len(steps)}")


def report_embedding(texts: list[str], threads: int, repeat: int) -> None:
    thread_counts = sorted({threads, os.cpu_count() or 1})
    ours = {count: OnnxEmbedder(threads=count) for count in thread_counts}
    with chroma_model_folder() as folder:
        theirs = chroma_embedder(folder)
        theirs(texts[:2])  # loads from the folder; a download attempt would raise here
        mean, least = cosine_agreement(ours[threads].embed(texts), theirs(texts))
        ours_s: dict[int, float] = {}
        for count, embedder in ours.items():
            embedder.embed(texts[:2])  # warm-up
            ours_s[count] = best_seconds(partial(embedder.embed, texts), repeat)
        theirs_s = best_seconds(partial(theirs, texts), repeat)
    print(f"embedding throughput, {len(texts)} chunks, best of {repeat}:")
    for count, seconds in ours_s.items():
        label = f"OnnxEmbedder, {count} threads"
        print(f"  {label:36s} {len(texts) / seconds:8.1f} chunks/s")
    label = "Chroma ONNXMiniLM_L6_V2, ORT default"
    print(f"  {label:36s} {len(texts) / theirs_s:8.1f} chunks/s")
    for count, seconds in ours_s.items():
        label = f"ratio ours ({count} threads) / Chroma's"
        print(f"  {label:36s} {theirs_s / seconds:8.2f}")
    print(f"  vector agreement: mean cosine {mean:.5f}, min {least:.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="Passes over the query set.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each embedding timing.")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads.")
    args = parser.parse_args()
    block_network()

    base = get_settings()
    print(f"machine:  {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}")
    print(
        f"command:  {' '.join([Path(sys.executable).name, '-m', 'bench.kb_query', *sys.argv[1:]])}"
    )
    embedder = OnnxEmbedder(threads=args.threads)
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as folder:
        settings = base.model_copy(
            update={"data_dir": Path(folder), "chroma_path": None, "chroma_url": None}
        )
        report: IngestReport = ingest(settings, embedder=embedder)
        print(f"kb:       {report.documents} documents, {report.chunks} chunks, {report.brands}")
        with open_store(settings, embedder=embedder) as store:
            report_latency(store, args.rounds)
            report_scores(store, settings)
    report_embedding(chunk_texts(base), args.threads, args.repeat)


if __name__ == "__main__":
    main()
