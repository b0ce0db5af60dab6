"""Time the Online Retail import against a plain csv-module parse of the same file.

Usage: python -m bench.import_online_retail [PATH] [--repeat N]

PATH defaults to online_retail_2010_2011.csv.gz in $AFTERCARE_TEST_DATA_DIR, or in
../shared/data next to the repository. Each run imports into a fresh SQLite file in a
temporary folder. The parse runs first, so both timings read a file already in the page cache.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from agent.context.db import init_db, make_engine
from agent.context.importer import GZIP_MAGIC, ImportReport, import_online_retail
from bench.machine import cpu_model

REPO_ROOT = Path(__file__).resolve().parent.parent
FILE_NAME = "online_retail_2010_2011.csv.gz"


def default_path() -> Path:
    folder = os.environ.get("AFTERCARE_TEST_DATA_DIR")
    base = Path(folder) if folder else REPO_ROOT.parent / "shared" / "data"
    return base / FILE_NAME


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def parse_only(path: Path) -> tuple[int, float]:
    """Read every record with the csv module and return (records, seconds)."""
    started = time.perf_counter()
    with path.open("rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        records = sum(1 for _ in csv.reader(handle)) - 1
    return records, time.perf_counter() - started


def import_once(path: Path) -> ImportReport:
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            init_db(engine)
            return import_online_retail(path, engine)
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path",
        type=Path,
        nargs="?",
        default=default_path(),
        help="Online Retail CSV file, plain or gzipped",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each step; the fastest is reported"
    )
    args = parser.parse_args(argv)
    if not args.path.is_file():
        print(f"error: data file not found: {args.path}. Pass its path.", file=sys.stderr)
        return 2

    parse_runs = [parse_only(args.path) for _ in range(args.repeat)]
    records, parse_seconds = min(parse_runs, key=lambda run: run[1])
    rss_after_parse = peak_rss_mib()
    reports = [import_once(args.path) for _ in range(args.repeat)]
    report = min(reports, key=lambda run: run.seconds)
    rss_after_import = peak_rss_mib()

    print(f"file:            {args.path} ({args.path.stat().st_size / 1e6:.1f} MB)")
    print(f"machine:         {os.cpu_count()} CPUs, {cpu_model()}")
    print(f"software:        Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print(f"runs:            {args.repeat} of each, fastest shown")
    print(f"csv parse:       {parse_seconds:.2f} s for {records:,} records")
    print(
        f"import:          {report.seconds:.2f} s for {report.rows_read:,} rows "
        f"({report.lines_imported:,} lines stored)"
    )
    print(f"import / parse:  {report.seconds / parse_seconds:.1f}x")
    print(f"peak RSS:        {rss_after_parse:.0f} MiB after parse", end=", ")
    print(f"{rss_after_import:.0f} MiB after import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
