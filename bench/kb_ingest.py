"""Time a full knowledge-base ingest against embedding the same chunks with OnnxEmbedder alone.

Run with `python -m bench.kb_ingest`. The index goes to a temporary folder that is deleted
afterwards, so the configured index is not touched. The embedding-only time is the
reference: the ratio shows what reading, splitting and writing to Chroma add on top.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from agent.config import Settings, get_settings
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.ingest import IngestReport, ingest
from bench.machine import chunk_texts, cpu_model


def time_reference(embedder: OnnxEmbedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - started


def time_ingest(settings: Settings, embedder: OnnxEmbedder) -> tuple[float, IngestReport]:
    started = time.perf_counter()
    report = ingest(settings, rebuild=True, embedder=embedder)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each measurement.")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads.")
    args = parser.parse_args()

    base = get_settings()
    embedder = OnnxEmbedder(threads=args.threads)
    texts = chunk_texts(base)
    # Warm-up, because the first run of an ONNX Runtime session is slower than later runs.
    embedder.embed(texts[:2])

    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as folder:
        settings = base.model_copy(
            update={"data_dir": Path(folder), "chroma_path": None, "chroma_url": None}
        )
        reference, ingested = [], []
        for _ in range(args.repeat):
            reference.append(time_reference(embedder, texts))
            seconds, report = time_ingest(settings, embedder)
            ingested.append(seconds)

    print_results(args, texts, min(reference), min(ingested), report)


def print_results(
    args: argparse.Namespace, texts: list[str], reference: float, full: float, report: IngestReport
) -> None:
    print(f"machine:   {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}")
    print(
        f"kb:        {report.documents} documents, {report.chunks} chunks, "
        f"{sum(len(t) for t in texts)} characters, brands {', '.join(report.brands)}"
    )
    print(f"settings:  {args.threads} ONNX threads, best of {args.repeat} runs")
    print(
        f"reference: embed only        {reference:7.3f} s  {len(texts) / reference:7.1f} chunks/s"
    )
    print(f"ingest:    full, --rebuild   {full:7.3f} s  {report.chunks / full:7.1f} chunks/s")
    print(f"ratio:     ingest / reference {full / reference:6.2f}")


if __name__ == "__main__":
    main()
