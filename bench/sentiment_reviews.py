"""Measure VADER's sentiment against the ratings of the public women's clothing reviews.

Usage: python -m bench.sentiment_reviews [PATH]

PATH defaults to womens_clothing_ecommerce_reviews.csv.gz in $AFTERCARE_TEST_DATA_DIR, or
in ../shared/data next to the repository. Each review with text is scored as its title
joined to its text. Printed side by side: ROC AUC of the compound score against the
reviewer's "recommended" flag (a coin flip scores 0.5); the Spearman correlation with the
1-5 star rating; the label's accuracy against the rating bands 1-2 / 3 / 4-5 next to the
accuracy of always predicting the most common band; and the scoring time next to the time
to read the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from agent.signals.sentiment import (
    BANDS,
    NEGATIVE_MAX_COMPOUND,
    POSITIVE_MIN_COMPOUND,
    ReviewFileError,
    evaluate_reviews,
)
from bench.machine import cpu_model

REPO_ROOT = Path(__file__).resolve().parent.parent
FILE_NAME = "womens_clothing_ecommerce_reviews.csv.gz"


def default_path() -> Path:
    folder = os.environ.get("AFTERCARE_TEST_DATA_DIR")
    base = Path(folder) if folder else REPO_ROOT.parent / "shared" / "data"
    return base / FILE_NAME


def read_seconds(path: Path) -> float:
    started = time.perf_counter()
    pd.read_csv(path)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", default=default_path())
    args = parser.parse_args(argv)
    reading = read_seconds(args.path) if args.path.is_file() else 0.0
    try:
        result = evaluate_reviews(args.path)
    except ReviewFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    labels = [band.value for band in BANDS]
    print(f"file:             {args.path.name}")
    print(f"machine:          {os.cpu_count()} CPUs, {cpu_model()}")
    print(
        f"software:         Python {platform.python_version()}, vaderSentiment "
        f"{version('vaderSentiment')}"
    )
    print(
        f"reviews:          {result.reviews:,} scored, {result.skipped_without_text:,} "
        "without text skipped"
    )
    print(
        f"thresholds:       positive >= {POSITIVE_MIN_COMPOUND}, "
        f"negative <= {NEGATIVE_MAX_COMPOUND}"
    )
    print(f"ROC AUC:          {result.roc_auc:.4f} against Recommended IND (chance: 0.5)")
    print(f"Spearman rho:     {result.spearman:.4f} against Rating")
    print(
        f"label accuracy:   {result.label_accuracy:.4f} against rating bands "
        f"(always the majority band: {result.majority_accuracy:.4f})"
    )
    print(f"balanced acc.:    {result.balanced_accuracy:.4f} (chance: 0.3333)")
    print(
        f"scoring time:     {result.seconds:.2f} s ({result.reviews / result.seconds:,.0f} "
        f"reviews/s); reading the file: {reading:.2f} s"
    )
    print("confusion (rows: rating band, columns: label):")
    print(f"  {'':>9} " + " ".join(f"{label:>9}" for label in labels))
    for band in labels:
        counts = result.confusion[band]
        print(f"  {band:>9} " + " ".join(f"{counts[label]:>9,}" for label in labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
