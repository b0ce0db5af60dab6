"""Run the golden set with the configured model and report pass rates per kind.

Usage: python -m bench.eval_golden [--limit N] [--tag TAG ...] [--golden PATH]

Ingests the knowledge base into a temporary folder, then drafts and scores every selected
golden case with the real pipeline and the configured model (the embedded local model by
default).
Prints the run time, the expectation pass rate and the share of drafts whose model-written
fields passed without fallback copy, per kind. The side-by-side reference is the summed
drafting latency of the same run, so the ratio run time / drafting time is the cost of
scoring, embedding for the voice score and storing results.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from agent.config import Settings
from agent.evals.golden import DEFAULT_GOLDEN_DIR
from agent.evals.runner import RunOptions, run_golden
from agent.evals.summary import GroupStats, summarise
from agent.knowledge.ingest import ingest
from bench.machine import cpu_model


def row(group: GroupStats) -> str:
    def cell(value: float | None, suffix: str = "%") -> str:
        return f"{value:.1f}{suffix}" if value is not None else "-"

    median = group.latency_median_ms
    return (
        f"{group.name:<15} {group.cases:>5} {group.passed:>6} {cell(group.pass_rate):>9} "
        f"{group.drafts:>6} {group.model_text_kept:>5} {cell(group.kept_share):>9} "
        f"{cell(median / 1000 if median is not None else None, ' s'):>9}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", type=Path, default=DEFAULT_GOLDEN_DIR, help="Golden path.")
    parser.add_argument("--limit", type=int, default=None, help="Run at most N cases.")
    parser.add_argument("--tag", action="append", default=[], help="Only cases with this tag.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=None)
        ingest(settings)
        options = RunOptions(
            golden=args.golden, tags=args.tag, limit=args.limit, judge=False, ingest=False
        )
        started = time.perf_counter()
        record = run_golden(settings, options)
        seconds = time.perf_counter() - started

    summary = summarise(record.cases)
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"model {record.versions.get('model')}, provider {record.versions.get('provider')}"
    )
    print("kind            cases passed pass rate drafts  kept kept share median s")
    for group in summary.by_kind:
        print(row(group))
    print(row(summary.overall))
    drafting_s = sum(summary.overall.latencies_ms) / 1000
    print(f"run time: {seconds:.1f} s for {len(record.cases)} cases")
    if drafting_s:
        ratio = seconds / drafting_s
        print(f"summed drafting latency: {drafting_s:.1f} s; run / drafting: {ratio:.2f}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
