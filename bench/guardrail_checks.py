"""Time the guardrail checks on rendered drafts, against end-to-end drafts with the local model.

Usage: python -m bench.guardrail_checks [--per-kind N] [--repeat R] [--quick]

Imports the shipped extract and ingests the knowledge base into a temporary folder, then
drafts N messages per kind and channel for real customers with the local model. SMS
marketing drafts use an inline copy of the customer's context with SMS consent set, because
the data records none. For each draft the script times `run_checks` on the draft's own
rendered fields R times, and reports per kind and channel:

- one `run_checks` call, p50 and p95 in milliseconds;
- the end-to-end draft, p50 and p95 in milliseconds, measured on the same requests;
- the checks' share of the end-to-end time: a draft runs the checks once per valid model
  output and once on the final fields, so the share counts every run of that draft.

`--quick` drafts one message per kind and channel and repeats the checks 20 times, to show
that the script runs; its numbers are too few to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from agent.config import Settings
from agent.context.importer import import_online_retail
from agent.demo import EXTRACT_PATH
from agent.domain import KIND_CLASS, Channel, Draft, DraftRequest, MessageClass, MessageKind
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.services import Services
from agent.guardrails.runner import run_checks
from agent.knowledge.ingest import ingest
from bench.draft_latency import KINDS, customers_for, percentile
from bench.machine import cpu_model

CHANNELS = (Channel.EMAIL, Channel.SMS)
QUICK_PER_KIND = 1
QUICK_REPEAT = 20


@dataclass
class Timings:
    """Milliseconds measured for one kind and channel."""

    checks_ms: list[float] = field(default_factory=list)
    drafts_ms: list[float] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    ineligible: int = 0


def request_for(services: Services, customer: str, kind: MessageKind, channel: Channel):  # noqa: ANN201
    """Build a request for a stored customer; SMS marketing gets consent in an inline copy."""
    as_of = services.contexts.latest_order_time() + timedelta(hours=1)
    if channel == Channel.SMS and KIND_CLASS[kind] == MessageClass.MARKETING:
        brand = services.brand(services.settings.default_brand)
        context = services.contexts.load(customer, as_of=as_of, brand=brand)
        context.consent.sms_marketing = True
        return DraftRequest(context=context, kind=kind, channel=channel, as_of=as_of)
    return DraftRequest(customer_id=customer, kind=kind, channel=channel, as_of=as_of)


def check_runs(draft: Draft) -> int:
    """Count the `run_checks` calls a draft made: one per valid model output, one at the end."""
    return 1 + sum(attempt.error is None for attempt in draft.attempt_log)


def time_checks(drafter: Drafter, request: DraftRequest, draft: Draft, repeat: int) -> list[float]:
    """Time `run_checks` on the draft's fields, rendered as the pipeline renders them."""
    plan = drafter.plan(request)
    inp = drafter.check_input(plan, draft.fields)
    run_checks(inp)  # builds the catalogue's phrase index, which later calls reuse
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run_checks(inp)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(services: Services, kind: MessageKind, channel: Channel, args) -> Timings:  # noqa: ANN001
    drafter = Drafter(services)
    timings = Timings()
    for customer in customers_for(services, kind, args.per_kind):
        request = request_for(services, customer, kind, channel)
        try:
            draft = drafter.draft(request, save=False)
        except Ineligible:
            timings.ineligible += 1
            continue
        checks = time_checks(drafter, request, draft, args.repeat)
        timings.checks_ms += checks
        timings.drafts_ms.append(draft.latency_ms)
        if draft.latency_ms:
            spent = statistics.median(checks) * check_runs(draft)
            timings.shares.append(spent / draft.latency_ms)
    return timings


def report(kind: MessageKind, channel: Channel, timings: Timings) -> None:
    label = f"{kind}/{channel}"
    if not timings.drafts_ms:
        print(f"{label:<22} no eligible customer ({timings.ineligible} ineligible)")
        return
    checks, drafts = timings.checks_ms, timings.drafts_ms
    print(
        f"{label:<22} {len(drafts):>2} {percentile(checks, 0.5):>8.2f} "
        f"{percentile(checks, 0.95):>8.2f} {percentile(drafts, 0.5):>8.0f} "
        f"{percentile(drafts, 0.95):>8.0f} {100 * statistics.median(timings.shares):>9.1f}%"
    )


def warm_up(services: Services) -> None:
    """Draft once, so that loading the model counts against no measured draft."""
    customer = customers_for(services, MessageKind.ORDER_FOLLOWUP, 1)[0]
    request = request_for(services, customer, MessageKind.ORDER_FOLLOWUP, Channel.EMAIL)
    Drafter(services).draft(request, save=False)


def run(services: Services, args: argparse.Namespace) -> None:
    model = services.provider
    warm_up(services)
    print(
        f"machine: {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}, "
        f"model {model.model_name}"
    )
    print(f"settings: {args.per_kind} request(s) per kind and channel, checks timed {args.repeat}x")
    print("kind/channel            n  checks   checks   draft    draft   checks")
    print("                           p50 ms   p95 ms   p50 ms   p95 ms  share")
    shares: list[float] = []
    checks: list[float] = []
    for kind in KINDS:
        for channel in CHANNELS:
            timings = measure(services, kind, channel, args)
            report(kind, channel, timings)
            shares += timings.shares
            checks += timings.checks_ms
    if shares:
        print(
            f"all: run_checks p50 {percentile(checks, 0.5):.2f} ms, p95 "
            f"{percentile(checks, 0.95):.2f} ms; median checks share of end-to-end time "
            f"{100 * statistics.median(shares):.1f}% over {len(shares)} drafts"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=6, help="Drafts per kind and channel.")
    parser.add_argument("--repeat", type=int, default=200, help="Timed check runs per draft.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Draft {QUICK_PER_KIND} message per kind and channel and time the checks "
        f"{QUICK_REPEAT} times, to check that the script runs.",
    )
    args = parser.parse_args()
    if args.quick:
        args.per_kind, args.repeat = QUICK_PER_KIND, QUICK_REPEAT
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        services = Services(settings)
        import_online_retail(EXTRACT_PATH, services.engine)
        ingest(settings)
        services = Services(settings)
        run(services, args)


if __name__ == "__main__":
    main()
