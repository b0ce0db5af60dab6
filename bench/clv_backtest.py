"""Backtest BG/NBD + Gamma-Gamma on Online Retail against a naive baseline, and time scoring.

Usage: python -m bench.clv_backtest [PATH] [--fit-method map|laplace|mcmc] [--time-unit D|W]

PATH defaults to online_retail_2010_2011.csv.gz in $AFTERCARE_TEST_DATA_DIR, or in
../shared/data next to the repository. The file is imported into a fresh SQLite database in
a temporary folder and read back with the context-store loader. The models are calibrated
on purchases up to 2011-09-09 and predict each customer's purchase days from 2011-09-10 to
2011-12-09. The naive baseline is frequency / tenure * holdout days.

Then every customer is scored at 2011-12-09 with a 365-day horizon, once timed and once
under tracemalloc for the peak of traced allocations (tracemalloc slows the run down).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import pandas as pd
import pymc_marketing

from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.signals.clv import score_customers
from agent.signals.clv_backtest import BacktestResult, Metrics, run_backtest
from agent.signals.transactions import load_transactions
from bench.import_online_retail import default_path, peak_rss_mib
from bench.machine import cpu_model

CALIBRATION_END = date(2011, 9, 9)
HOLDOUT_END = date(2011, 12, 9)


def load(path: Path) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            init_db(engine)
            import_online_retail(path, engine)
            return load_transactions(engine)
        finally:
            engine.dispose()


def metric_row(label: str, scores: Metrics, baseline: Metrics) -> list[str]:
    def auc(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    return [
        f"{label} ({scores.customers:,} customers)",
        f"{scores.correlation:.3f} vs {baseline.correlation:.3f}",
        f"{scores.mae:.3f} vs {baseline.mae:.3f}",
        f"{auc(scores.auc)} vs {auc(baseline.auc)}",
        f"{auc(scores.auc_by_expected)} vs {auc(baseline.auc_by_expected)}",
        f"{scores.predicted_total:,.0f} vs {baseline.predicted_total:,.0f}"
        f" (actual {scores.actual_total:,.0f})",
    ]


def print_backtest(result: BacktestResult) -> None:
    scores = result.scores
    print(
        f"backtest:        calibration to {result.calibration_end}, holdout "
        f"{result.holdout_days:.0f} days to {result.holdout_end}"
    )
    for fit in (scores.bg_nbd, scores.gamma_gamma):
        if fit is None:
            continue
        params = ", ".join(f"{name}={value:.4g}" for name, value in fit.params.items())
        print(
            f"{fit.model + ' fit:':<17}{fit.seconds:.2f} s, {fit.customers:,} customers, "
            f"{params}, log-likelihood {fit.log_likelihood:,.1f}"
        )
    print(f"methods:         {scores.method_counts()}")
    print(f"score + fit:     {scores.seconds:.2f} s")
    print()

    header = [
        "customers",
        "correlation",
        "MAE",
        "ROC AUC of p_alive",
        "ROC AUC of expected purchases",
        "total purchases",
    ]
    rows = [metric_row("all", result.model, result.naive)]
    if result.model_scored is not None and result.naive_on_model_scored is not None:
        rows.append(metric_row("model-scored", result.model_scored, result.naive_on_model_scored))
    print("scores vs naive baseline")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(row))


def time_full_scoring(transactions: pd.DataFrame, fit_method: str, time_unit: str) -> None:
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    scores = score_customers(
        transactions, HOLDOUT_END, 365, fit_method=fit_method, time_unit=time_unit
    )
    seconds = time.perf_counter() - started

    tracemalloc.start()
    score_customers(transactions, HOLDOUT_END, 365, fit_method=fit_method, time_unit=time_unit)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    fit_seconds = [fit.seconds for fit in (scores.bg_nbd, scores.gamma_gamma) if fit is not None]
    print()
    print(
        f"score all:       {len(scores.customers):,} customers at {HOLDOUT_END} in {seconds:.2f} s"
        f" (fits {' + '.join(f'{value:.2f} s' for value in fit_seconds)}), "
        f"{scores.method_counts()}"
    )
    print(
        f"memory:          {peak / 2**20:.0f} MiB traced peak while scoring; peak RSS "
        f"{rss_before:.0f} MiB before scoring, {peak_rss_mib():.0f} MiB after"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", type=Path, nargs="?", default=default_path(), help="Online Retail CSV file"
    )
    parser.add_argument("--fit-method", choices=["map", "laplace", "mcmc"], default="map")
    parser.add_argument(
        "--time-unit", choices=["D", "W"], default="D", help="model time unit: days or weeks"
    )
    args = parser.parse_args(argv)
    if not args.path.is_file():
        print(f"error: data file not found: {args.path}. Pass its path.", file=sys.stderr)
        return 2

    print(f"file:            {args.path}")
    print(f"machine:         {os.cpu_count()} CPUs, {cpu_model()}")
    print(
        f"software:        Python {platform.python_version()}, "
        f"pymc-marketing {pymc_marketing.__version__}, fit {args.fit_method}, "
        f"time unit {args.time_unit}"
    )
    started = time.perf_counter()
    transactions = load(args.path)
    print(f"import + load:   {time.perf_counter() - started:.2f} s, {len(transactions):,} orders")
    result = run_backtest(
        transactions,
        CALIBRATION_END,
        HOLDOUT_END,
        time_unit=args.time_unit,
        fit_method=args.fit_method,
    )
    print_backtest(result)
    time_full_scoring(transactions, args.fit_method, args.time_unit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
