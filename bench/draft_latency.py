"""Time end-to-end drafts per kind with the local model, against the model's own time.

Usage: python -m bench.draft_latency [--per-kind N]

Imports the shipped extract and ingests the knowledge base into a temporary folder, then
drafts N emails per kind for real customers. End-to-end latency covers the context,
retrieval, prompt, every model sample, checks, rendering and storing. The reference is
`time_raw_generation` for the same number of prompt and completion tokens: plain greedy
generation with no grammar, run right after the draft on the same loaded model.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path

from agent.config import Settings
from agent.context.importer import import_online_retail
from agent.demo import EXTRACT_PATH
from agent.domain import Channel, Draft, DraftRequest, MessageKind
from agent.drafting.pipeline import Drafter
from agent.drafting.services import Services
from agent.knowledge.ingest import ingest
from agent.llm.local import LocalLlamaProvider

KINDS = (
    MessageKind.ORDER_FOLLOWUP,
    MessageKind.USAGE_TIP,
    MessageKind.REVIEW_REQUEST,
    MessageKind.WINBACK,
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(share * (len(ordered) - 1)))
    return ordered[index]


def customers_for(services: Services, kind: MessageKind, count: int) -> list[str]:
    as_of = services.contexts.latest_order_time() + timedelta(hours=1)
    if kind == MessageKind.WINBACK:
        return services.contexts.lapsed_customers(
            as_of=as_of, min_days=90, min_orders=3, limit=count
        )
    max_days = 60 if kind == MessageKind.REVIEW_REQUEST else 10
    return services.contexts.recent_customers(as_of=as_of, max_days=max_days, limit=count)


def raw_seconds(model: LocalLlamaProvider, draft: Draft) -> float:
    """Time plain generation of the draft's tokens: one prompt of the mean size per sample."""
    samples = max(draft.attempts, 1)
    prompt = [1] * max(1, draft.prompt_tokens // samples)
    total = 0.0
    for _ in range(samples):
        total += model.time_raw_generation(prompt, max(1, draft.completion_tokens // samples))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=8, help="Drafts per kind.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        services = Services(settings)
        import_online_retail(EXTRACT_PATH, services.engine)
        ingest(settings)
        services = Services(settings)
        run(services, args.per_kind)


def run(services: Services, per_kind: int) -> None:
    drafter = Drafter(services)
    model = services.provider.provider  # the LocalLlamaProvider inside RetryingProvider
    as_of = services.contexts.latest_order_time() + timedelta(hours=1)
    warm_up = customers_for(services, MessageKind.ORDER_FOLLOWUP, 1)[0]
    drafter.draft(
        DraftRequest(
            customer_id=warm_up, kind=MessageKind.ORDER_FOLLOWUP, channel=Channel.EMAIL, as_of=as_of
        )
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, model {model.model_name}"
    )
    print("kind            n  p50 ms  p95 ms  samples  fallback  end-to-end / raw model")

    ratios: list[float] = []
    for kind in KINDS:
        latencies, kind_ratios, samples, fallbacks = [], [], 0, 0
        for customer in customers_for(services, kind, per_kind):
            draft = drafter.draft(
                DraftRequest(customer_id=customer, kind=kind, channel=Channel.EMAIL, as_of=as_of)
            )
            latencies.append(draft.latency_ms)
            samples += draft.attempts
            fallbacks += bool(draft.fallback_fields)
            if draft.attempts:
                kind_ratios.append(draft.latency_ms / 1000 / raw_seconds(model, draft))

        ratios += kind_ratios
        ratio = f"{statistics.median(kind_ratios):.2f}" if kind_ratios else "no model call"
        print(
            f"{kind:<15} {len(latencies):>2} {percentile(latencies, 0.5):>7.0f} "
            f"{percentile(latencies, 0.95):>7.0f} {samples:>8} {fallbacks:>9}  {ratio}"
        )
    if ratios:
        print(
            f"median end-to-end / raw model over {len(ratios)} drafts: "
            f"{statistics.median(ratios):.2f}"
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
