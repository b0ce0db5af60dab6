"""Time `signals refresh` and the planner against loading every customer's context alone.

Usage: python -m bench.signals_refresh [PATH] [--quick]

PATH defaults to online_retail_2010_2011.csv.gz in $AFTERCARE_TEST_DATA_DIR, or in
../shared/data next to the repository; --quick uses the shipped 304-customer extract
instead. The file is imported into a fresh SQLite database in a temporary folder, then
three steps run, each in its own child process so that each peak resident memory is its
own:

1. reference: load the context of every customer (`ContextStore.load`), as the refresh
   and the planner both do;
2. `refresh_signals` as of the last order plus one hour (CLV, RFM, sentiment, advocacy,
   review timing, and the atomic write);
3. `plan_customers` over every customer at the same moment, with the default holdout.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from agent.config import PROJECT_ROOT, Settings
from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.context.store import ContextStore
from agent.knowledge.brand import load_brand

# The signals modules are imported inside the steps, so the reference step's peak memory
# leaves out pymc, which only the refresh needs.
EXTRACT_PATH = PROJECT_ROOT / "data" / "online_retail_extract.csv.gz"

REPO_ROOT = Path(__file__).resolve().parent.parent
FILE_NAME = "online_retail_2010_2011.csv.gz"


def default_path() -> Path:
    folder = os.environ.get("AFTERCARE_TEST_DATA_DIR")
    base = Path(folder) if folder else REPO_ROOT.parent / "shared" / "data"
    return base / FILE_NAME


def peak_rss_mib() -> float:
    """Return this process's peak resident memory in MiB.

    On Linux this is VmHWM from /proc/self/status: ru_maxrss survives exec, so a spawned
    child would report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _setup(url: str):  # noqa: ANN202 - returns (engine, brand, as_of)
    settings = Settings()
    engine = make_engine(url)
    brand = load_brand(settings.kb_dir, settings.default_brand)
    latest = ContextStore(engine).latest_order_time()
    assert latest is not None
    return engine, brand, latest + timedelta(hours=1)


def _memory(after_imports: float) -> dict[str, float]:
    return {"rss": peak_rss_mib(), "rss_imports": after_imports}


def load_contexts(url: str) -> dict[str, float]:
    from agent.signals.refresh import customers_as_of

    after_imports = peak_rss_mib()
    engine, brand, as_of = _setup(url)
    started = time.perf_counter()
    ids, _ = customers_as_of(engine, as_of)
    contexts = ContextStore(engine)
    orders = sum(len(contexts.load(i, as_of=as_of, brand=brand).orders) for i in ids)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "customers": len(ids), "orders": orders} | _memory(after_imports)


def refresh(url: str) -> dict[str, float]:
    from agent.signals.refresh import refresh_signals

    after_imports = peak_rss_mib()
    engine, brand, as_of = _setup(url)
    started = time.perf_counter()
    report = refresh_signals(engine, brand, as_of)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "clv_seconds": report.clv_seconds,
        "customers": report.customers,
        "model_scored": report.clv_methods.get("bg_nbd+gamma_gamma", 0),
    } | _memory(after_imports)


def plan(url: str) -> dict[str, float]:
    from agent.signals.planner import plan_customers

    after_imports = peak_rss_mib()
    engine, brand, as_of = _setup(url)
    started = time.perf_counter()
    result = plan_customers(engine, brand, as_of, holdout_share=Settings().plan_holdout_share)
    seconds = time.perf_counter() - started
    planned = sum(row.kind is not None for row in result.rows)
    return {
        "seconds": seconds,
        "customers": len(result.rows),
        "planned": planned,
    } | _memory(after_imports)


def in_child(step, url: str) -> dict[str, float]:  # noqa: ANN001 - a step function above
    """Run one step in a fresh process, so its peak memory is not the parent's."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(step, (url,))


def _rss(step: dict[str, float]) -> str:
    return f"peak RSS {step['rss']:.0f} MiB ({step['rss_imports']:.0f} MiB after imports)"


def main(argv: list[str] | None = None) -> int:
    # Imported here: bench.machine loads the knowledge base's modules, which the child
    # processes need not carry.
    from bench.machine import cpu_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", type=Path, nargs="?", default=None, help="Online Retail CSV file, plain or gzipped"
    )
    parser.add_argument("--quick", action="store_true", help="use the shipped 304-customer extract")
    args = parser.parse_args(argv)
    path = EXTRACT_PATH if args.quick else (args.path or default_path())
    if not path.is_file():
        print(f"error: data file not found: {path}. Pass its path or --quick.", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        init_db(engine)
        imported = import_online_retail(path, engine)
        engine.dispose()
        reference = in_child(load_contexts, url)
        refreshed = in_child(refresh, url)
        planned = in_child(plan, url)

    customers = reference["customers"]
    print(f"file:              {path.name} ({imported.customers:,} customers imported)")
    print(f"machine:           {os.cpu_count()} CPUs, {cpu_model()}")
    print(f"software:          Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print(
        f"reference:         load {customers:,} contexts in {reference['seconds']:.1f} s "
        f"({customers / reference['seconds']:,.0f}/s), {_rss(reference)}"
    )
    print(
        f"signals refresh:   {refreshed['seconds']:.1f} s, of which CLV "
        f"{refreshed['clv_seconds']:.1f} s ({refreshed['model_scored']:,.0f} customers "
        "scored by the models), "
        f"{_rss(refreshed)}"
    )
    print(f"refresh / load:    {refreshed['seconds'] / reference['seconds']:.2f}x")
    print(
        f"plan:              {planned['customers']:,.0f} customers in {planned['seconds']:.1f} s "
        f"({planned['customers'] / planned['seconds']:,.0f} customers/s, "
        f"{planned['planned']:,.0f} with a kind), {_rss(planned)}"
    )
    print(f"plan / load:       {planned['seconds'] / reference['seconds']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
