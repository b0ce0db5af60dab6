"""The demo run: import real data, ingest the knowledge base, draft for real customers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from agent.config import PROJECT_ROOT, Settings
from agent.context.importer import ImportReport, import_online_retail
from agent.domain import Channel, Draft, DraftRequest, MessageKind
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.services import Services
from agent.knowledge.ingest import IngestReport, ingest

log = logging.getLogger(__name__)

EXTRACT_PATH = PROJECT_ROOT / "data" / "online_retail_extract.csv.gz"
# A review request waits until the customer has had time to use the product.
REVIEW_MIN_DAYS = 14


@dataclass(frozen=True)
class DemoRequest:
    customer_id: str
    kind: MessageKind
    channel: Channel


@dataclass
class DemoResult:
    imported: ImportReport
    ingested: IngestReport
    as_of: datetime
    drafts: list[Draft] = field(default_factory=list)
    ineligible: list[tuple[DemoRequest, str]] = field(default_factory=list)
    previews: list[Path] = field(default_factory=list)


def choose_requests(services: Services, as_of: datetime) -> list[DemoRequest]:
    """Pick real customers suited to each kind: recent buyers, settled ones, lapsed ones."""
    contexts = services.contexts
    recent = contexts.recent_customers(as_of=as_of, max_days=10, limit=7)
    settled = [
        c
        for c in contexts.recent_customers(as_of=as_of, max_days=60, limit=400)
        if _days_since_last_order(services, c, as_of) >= REVIEW_MIN_DAYS
    ][:3]
    lapsed = contexts.lapsed_customers(as_of=as_of, min_days=90, min_orders=3, limit=3)
    wanted = [
        (recent[:3], MessageKind.ORDER_FOLLOWUP, Channel.EMAIL),
        (recent[3:4], MessageKind.ORDER_FOLLOWUP, Channel.SMS),
        (recent[4:6], MessageKind.USAGE_TIP, Channel.EMAIL),
        (recent[6:7], MessageKind.USAGE_TIP, Channel.SMS),
        (settled[:3], MessageKind.REVIEW_REQUEST, Channel.EMAIL),
        (settled[:1], MessageKind.REVIEW_REQUEST, Channel.SMS),
        (lapsed, MessageKind.WINBACK, Channel.EMAIL),
        (lapsed[:1], MessageKind.WINBACK, Channel.SMS),
    ]
    return [DemoRequest(c, kind, channel) for customers, kind, channel in wanted for c in customers]


def _days_since_last_order(services: Services, customer_id: str, as_of: datetime) -> int:
    brand = services.brand(services.settings.default_brand)
    order = services.contexts.load(customer_id, as_of=as_of, brand=brand).last_order()
    return (as_of - order.placed_at).days if order else 0


def write_preview(draft: Draft, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if draft.html is not None:
        path = folder / f"{draft.id}.html"
        path.write_text(draft.html, encoding="utf-8")
    else:
        path = folder / f"{draft.id}.txt"
        path.write_text(draft.text + "\n", encoding="utf-8")
    return path


def run_demo(
    settings: Settings,
    *,
    extract: Path = EXTRACT_PATH,
    on_progress: Callable[[str], None] = lambda _message: None,
) -> DemoResult:
    """Import the extract, ingest the knowledge base and draft for chosen customers."""
    services = Services(settings)
    on_progress(f"importing {extract.name}")
    imported = import_online_retail(extract, services.engine)
    on_progress("ingesting the knowledge base")
    ingested = ingest(settings)

    services = Services(settings)  # a fresh catalogue after the import
    latest = services.contexts.latest_order_time()
    if latest is None:
        raise RuntimeError(f"no orders were imported from {extract}")
    as_of = latest + timedelta(hours=1)
    result = DemoResult(imported=imported, ingested=ingested, as_of=as_of)

    drafter = Drafter(services)
    previews = settings.data_dir / "previews"
    for request in choose_requests(services, as_of):
        on_progress(f"drafting {request.kind} by {request.channel} for {request.customer_id}")
        try:
            draft = drafter.draft(
                DraftRequest(
                    customer_id=request.customer_id,
                    kind=request.kind,
                    channel=request.channel,
                    as_of=as_of,
                )
            )
        except Ineligible as error:
            result.ineligible.append((request, f"{error.finding.check_id}: {error}"))
            continue
        result.drafts.append(draft)
        result.previews.append(write_preview(draft, previews))
    return result
